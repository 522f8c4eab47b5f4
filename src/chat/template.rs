//! Conversations and the ChatML template (../shared/DESIGN.md, "Special tokens").
//!
//! A conversation is a list of messages in the OpenAI shape; one line of a
//! chat JSONL file is `{"messages": [{"role": ..., "content": ...}, ...]}`.
//! Each message renders as
//!
//! ```text
//! <|im_start|>{role}\n{content}<|im_end|>\n
//! ```
//!
//! and a prompt that asks the model to answer ends with `<|im_start|>assistant\n`.
//!
//! There is exactly one renderer. [`render_text`] gives the text (what the
//! exported Jinja [`CHAT_TEMPLATE`] must reproduce byte for byte, which a test
//! checks with Python's `jinja2`); [`render_tokens`] gives the token ids that
//! training, the REPL and the server feed the model, together with the mask of
//! tokens that carry loss in fine-tuning (the assistant's content and its
//! closing `<|im_end|>`). The special tokens become their ids only where the
//! template puts them: a user who types `<|im_end|>` gets the literal text.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::tokenizer::Tokenizer;

/// Who says a message. `Context` carries passages the answer should come from
/// (retrieved documents, a story, facts), rendered before the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Context,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Context => "context",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "system" => Some(Role::System),
            "context" => Some(Role::Context),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// One conversation, one line of a chat JSONL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub messages: Vec<Message>,
}

impl Conversation {
    pub fn new(messages: Vec<Message>) -> Self {
        Self { messages }
    }

    /// The conversation up to (not including) its last assistant message, and
    /// that message: the prompt and the reference answer of an evaluation item.
    pub fn split_last_answer(&self) -> Option<(&[Message], &str)> {
        let last = self.messages.iter().rposition(|m| m.role == Role::Assistant)?;
        Some((&self.messages[..last], &self.messages[last].content))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    BadLine { path: String, line: usize, message: String },
}

/// Checks the shape the template needs: known roles (checked by serde), no
/// empty conversation, and at least one assistant message for training data.
pub fn validate(conv: &Conversation, need_assistant: bool) -> Result<(), String> {
    if conv.messages.is_empty() {
        return Err("the conversation has no messages".into());
    }
    if need_assistant && !conv.messages.iter().any(|m| m.role == Role::Assistant) {
        return Err("the conversation has no assistant message, so nothing to learn from".into());
    }
    Ok(())
}

/// Reads a chat JSONL file. A malformed line is an error naming the file and
/// line, unless `skip_bad` is set, in which case it is counted and skipped.
/// Blank lines are ignored.
pub fn read_jsonl(path: &Path, skip_bad: bool) -> Result<(Vec<Conversation>, usize), ChatError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ChatError::Io { path: path.display().to_string(), source: e })?;
    let mut convs = Vec::new();
    let mut skipped = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Conversation>(line)
            .map_err(|e| {
                let msg = e.to_string();
                if msg.contains("unknown variant") {
                    format!("{msg}: roles are system, context, user and assistant")
                } else {
                    format!(
                        "not a conversation ({msg}); expected {{\"messages\": [{{\"role\": ..., \"content\": ...}}]}}"
                    )
                }
            })
            .and_then(|c| validate(&c, true).map(|_| c));
        match parsed {
            Ok(c) => convs.push(c),
            Err(_) if skip_bad => skipped += 1,
            Err(message) => {
                return Err(ChatError::BadLine {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: format!("{message} (pass --skip-bad to skip such lines and count them)"),
                })
            }
        }
    }
    Ok((convs, skipped))
}

/// Writes conversations as JSONL, atomically.
pub fn write_jsonl(path: &Path, convs: &[Conversation]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = crate::fsutil::AtomicFile::create(path)?;
    for c in convs {
        serde_json::to_writer(&mut f, c)?;
        f.write_all(b"\n")?;
    }
    f.commit()
}

pub const IM_START: &str = "<|im_start|>";
pub const IM_END: &str = "<|im_end|>";

/// The same template in Jinja, shipped as `chat_template` in the exported
/// `tokenizer_config.json`. Must render exactly like [`render_text`].
pub const CHAT_TEMPLATE: &str = "{% for message in messages %}\
{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
{% endfor %}\
{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// The conversation as text. With `add_generation_prompt`, ends with the
/// opening of an assistant message for the model to complete.
pub fn render_text(messages: &[Message], add_generation_prompt: bool) -> String {
    let mut out = String::new();
    for m in messages {
        out.push_str(IM_START);
        out.push_str(m.role.as_str());
        out.push('\n');
        out.push_str(&m.content);
        out.push_str(IM_END);
        out.push('\n');
    }
    if add_generation_prompt {
        out.push_str(IM_START);
        out.push_str("assistant\n");
    }
    out
}

/// Token ids of a rendered conversation and, for each, whether it carries
/// loss (the assistant's words and the `<|im_end|>` that ends them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    pub ids: Vec<u32>,
    pub trained: Vec<bool>,
}

impl Rendered {
    fn push(&mut self, ids: &[u32], trained: bool) {
        self.ids.extend_from_slice(ids);
        self.trained.extend(std::iter::repeat(trained).take(ids.len()));
    }
}

/// The token form of [`render_text`]. The role header and the content are
/// encoded separately: the header ends in a newline, which the byte-level
/// pre-tokenizer always splits from a following word, so the ids equal those
/// of encoding the whole rendered text with special tokens allowed (for any
/// content that does not itself start with whitespace, and without turning
/// special-token text inside the content into control tokens).
pub fn render_tokens(tok: &Tokenizer, messages: &[Message], add_generation_prompt: bool) -> Rendered {
    let (start, end) = (tok.im_start_id(), tok.im_end_id());
    let newline = tok.encode("\n", false);
    let mut r = Rendered::default();
    for m in messages {
        let assistant = m.role == Role::Assistant;
        r.push(&[start], false);
        r.push(&tok.encode(&format!("{}\n", m.role), false), false);
        r.push(&tok.encode(&m.content, false), assistant);
        r.push(&[end], assistant);
        r.push(&newline, false);
    }
    if add_generation_prompt {
        r.push(&[start], false);
        r.push(&tok.encode("assistant\n", false), false);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        let text = "the cat sat on the mat. where is the cat? the cat is in the kitchen.\n".repeat(50);
        Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap()
    }

    fn sample() -> Vec<Message> {
        vec![
            Message::new(Role::System, "You are Fledge."),
            Message::new(Role::Context, "[1] notes: the cat is in the kitchen."),
            Message::new(Role::User, "Where is the cat?"),
            Message::new(Role::Assistant, "In the kitchen."),
        ]
    }

    #[test]
    fn text_follows_the_design_template() {
        let text = render_text(&sample()[2..], true);
        assert_eq!(
            text,
            "<|im_start|>user\nWhere is the cat?<|im_end|>\n<|im_start|>assistant\nIn the kitchen.<|im_end|>\n\
             <|im_start|>assistant\n"
        );
    }

    #[test]
    fn tokens_match_encoding_the_rendered_text() {
        let tok = tokenizer();
        let msgs = sample();
        for gen in [false, true] {
            let r = render_tokens(&tok, &msgs, gen);
            assert_eq!(r.ids, tok.encode(&render_text(&msgs, gen), true));
            assert_eq!(r.ids.len(), r.trained.len());
        }
    }

    #[test]
    fn only_the_assistant_reply_and_its_end_carry_loss() {
        let tok = tokenizer();
        let r = render_tokens(&tok, &sample(), false);
        let trained: Vec<u32> = r.ids.iter().zip(&r.trained).filter(|(_, &t)| t).map(|(&i, _)| i).collect();
        let mut expect = tok.encode("In the kitchen.", false);
        expect.push(tok.im_end_id());
        assert_eq!(trained, expect);
    }

    #[test]
    fn special_token_text_in_content_stays_text() {
        let tok = tokenizer();
        let msgs = vec![Message::new(Role::User, "say <|im_end|> please")];
        let r = render_tokens(&tok, &msgs, false);
        assert_eq!(r.ids.iter().filter(|&&i| i == tok.im_end_id()).count(), 1);
    }

    #[test]
    fn bad_lines_name_the_line_and_unknown_roles_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let good = r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;
        let bad_role = r#"{"messages":[{"role":"robot","content":"hi"}]}"#;
        std::fs::write(&path, format!("{good}\n\n{bad_role}\nnot json\n")).unwrap();
        let err = read_jsonl(&path, false).unwrap_err().to_string();
        assert!(err.contains("c.jsonl:3:") && err.contains("roles are system, context, user and assistant"), "{err}");
        let (convs, skipped) = read_jsonl(&path, true).unwrap();
        assert_eq!((convs.len(), skipped), (1, 2));
    }
}
