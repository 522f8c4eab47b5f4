//! The grounded prompt: retrieved passages as the `context` message, numbered
//! so that an answer can cite them, as many as the model's window allows.
//!
//! DESIGN.md fixes the shape: `[1] source-a: passage...` lines in a `context`
//! message between the system message and the question. Passages go in rank
//! order; one that does not fit is left out and a shorter one further down may
//! still take its place, so the window is used but the best passages come first.

use crate::chat::template::{render_tokens, Message, Role};
use crate::tokenizer::Tokenizer;

use super::retrieve::Passage;
use super::RagError;

/// The system message of a grounded answer when the user gave none.
pub const GROUNDED_SYSTEM: &str = "Answer the question from the numbered passages in the context.";

/// The messages to generate from, and the passages they cite, numbered from 1.
pub struct Grounded {
    pub messages: Vec<Message>,
    pub cited: Vec<Passage>,
}

/// "1 passage", "3 passages".
pub fn count_passages(n: usize) -> String {
    if n == 1 {
        "1 passage".to_string()
    } else {
        format!("{n} passages")
    }
}

/// `[n] label: text` lines for the context message.
pub fn context_text(passages: &[Passage]) -> String {
    passages
        .iter()
        .enumerate()
        .map(|(i, p)| format!("[{}] {}: {}", i + 1, p.label, p.text.trim()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Builds `system? + context + history + question` from the best passages that
/// fit in `window` tokens with `reserve` left for the answer. History is
/// counted too; a caller that keeps a long history trims it afterwards
/// (`chat::fit_to_window` drops the oldest turns, never the context).
pub fn ground(
    tok: &Tokenizer,
    system: Option<&str>,
    question: &str,
    passages: &[Passage],
    window: usize,
    reserve: usize,
) -> Result<Grounded, RagError> {
    let budget = window.saturating_sub(reserve);
    let build = |cited: &[Passage]| {
        let mut m = Vec::new();
        if let Some(s) = system {
            m.push(Message::new(Role::System, s));
        }
        if !cited.is_empty() {
            m.push(Message::new(Role::Context, context_text(cited)));
        }
        m.push(Message::new(Role::User, question));
        m
    };
    let bare = render_tokens(tok, &build(&[]), true).ids.len();
    if bare > budget {
        return Err(RagError::Invalid(format!(
            "the question is {bare} tokens with the chat template, but the model's window is {window} tokens \
             and {reserve} are kept for the answer; ask a shorter question (or lower --max-tokens)"
        )));
    }
    let mut cited: Vec<Passage> = Vec::new();
    for p in passages {
        cited.push(p.clone());
        if render_tokens(tok, &build(&cited), true).ids.len() > budget {
            cited.pop();
        }
    }
    Ok(Grounded { messages: build(&cited), cited })
}

/// The sources block printed under an answer: the `cited` passages, of
/// `retrieved` relevant ones.
pub fn sources_text(cited: &[Passage], retrieved: usize) -> String {
    let mut s = String::from("Sources:");
    for (i, p) in cited.iter().enumerate() {
        s.push_str(&format!("\n  [{}] {}:{} (score {:.3})", i + 1, p.label, p.line, p.score));
    }
    if retrieved == 0 {
        s.push_str(" none (nothing in the index matched the question well enough)");
    } else if cited.is_empty() {
        s.push_str(" none fitted in the context window");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn passage(id: u64, text: &str) -> Passage {
        Passage {
            chunk_id: id,
            source: PathBuf::from(format!("/notes/doc{id}.txt")),
            label: format!("doc{id}.txt"),
            line: 1,
            text: text.into(),
            tokens: 0,
            score: 1.0,
        }
    }

    fn tokenizer() -> Tokenizer {
        let text = "the cat sat on the mat. where is the cat? the dog is in the garden.\n".repeat(40);
        Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap()
    }

    #[test]
    fn passages_fill_the_window_in_rank_order_and_are_numbered() {
        let tok = tokenizer();
        let long = "the dog is in the garden. ".repeat(80);
        let passages =
            vec![passage(1, "the cat sat on the mat."), passage(2, &long), passage(3, "the dog is in the garden.")];
        let g = ground(&tok, Some("answer from the context."), "where is the cat?", &passages, 200, 20).unwrap();
        // The long passage does not fit; the short one after it does.
        let ids: Vec<u64> = g.cited.iter().map(|p| p.chunk_id).collect();
        assert_eq!(ids, vec![1, 3]);
        let context = &g.messages[1];
        assert_eq!(context.role, Role::Context);
        assert_eq!(context.content, "[1] doc1.txt: the cat sat on the mat.\n[2] doc3.txt: the dog is in the garden.");
        assert!(render_tokens(&tok, &g.messages, true).ids.len() <= 180);
        assert!(sources_text(&g.cited, 3).contains("[2] doc3.txt:1"));
        assert!(sources_text(&[], 0).contains("none (nothing in the index matched"));
        assert_eq!((count_passages(1).as_str(), count_passages(2).as_str()), ("1 passage", "2 passages"));
    }

    #[test]
    fn a_question_longer_than_the_window_is_refused() {
        let tok = tokenizer();
        let question = "where is the cat? ".repeat(100);
        let err = ground(&tok, None, &question, &[], 128, 32).err().unwrap().to_string();
        assert!(err.contains("the model's window is 128 tokens"), "{err}");
    }
}
