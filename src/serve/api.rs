//! The OpenAI API's shapes: requests as clients send them, checked field by
//! field into what the engine runs, and errors, responses and stream chunks
//! as clients parse them.
//!
//! Unknown fields are refused (as OpenAI does), so a typo such as
//! `max_token` is an error instead of a silently ignored setting. Fields
//! OpenAI defines that a small local model cannot honour (`n` above 1,
//! tools, `logit_bias`) are refused with a message naming the field; ones
//! that change nothing here (`user`, the penalties within their range) are
//! accepted. `top_k`, `repetition_penalty`, `guidance`, `retrieval`, `quote`,
//! `story_tries` and `continue_final_message` are fledge's own.
//!
//! Log-probabilities (`logprobs`, `top_logprobs`) come in OpenAI's shapes.
//! Where its documentation leaves open which distribution they describe,
//! fledge gives the one each token was drawn from: after guidance (when the
//! answer is guided), repetition penalty, temperature, top-k and top-p (so a
//! cut alternative is not listed, and the listed ones sum to 1 at most); with
//! `temperature: 0` and no guidance, the raw model's.
//! The `logprobs` object says which, in its extra field `distribution`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::chat::quote::QuoteMode;
use crate::chat::{Message, Role};
use crate::generate::{FinishReason, SamplingOptions, TokenLogprob};
use crate::rag::Passage;
use crate::tokenizer::Tokenizer;

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn invalid(param: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.into(),
            code: None,
        }
    }

    pub fn status(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self { status, message: message.into(), kind, param: None, code }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE || self.status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}

/// Parses a JSON body into `T`, naming the field at fault (`messages[2].role`).
pub fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = if inner.is_syntax() || inner.is_eof() { "the body is not valid JSON" } else { "bad request body" };
        let param = (path != "." && !path.is_empty()).then_some(path.clone());
        let at = param.as_deref().map(|p| format!(" (field `{p}`)")).unwrap_or_default();
        ApiError::invalid(param, format!("{what}{at}: {inner}"))
    })?;
    de.end().map_err(|e| ApiError::invalid(None, format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// `stream_options` of a streaming request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// The sampling fields chat and completion requests share.
#[derive(Debug, Default)]
pub struct SamplingFields {
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    pub repetition_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub max_tokens: Option<i64>,
    pub stop: Option<Value>,
    pub seed: Option<i64>,
    pub n: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub stop: Option<Value>,
    pub seed: Option<i64>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub n: Option<i64>,
    pub user: Option<String>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub logprobs: Option<bool>,
    pub top_logprobs: Option<i64>,
    pub logit_bias: Option<serde_json::Map<String, Value>>,
    pub response_format: Option<Value>,
    pub tools: Option<Value>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub top_k: Option<i64>,
    pub repetition_penalty: Option<f32>,
    /// fledge: whether to ground this answer in the server's index (default: when it has one).
    pub retrieval: Option<bool>,
    /// fledge: classifier-free guidance toward the last user message, 0 to 10 (default: the
    /// server's `--guidance`); not applied to answers with a context.
    pub guidance: Option<f32>,
    /// fledge: answer about a context (a `context` message, or the passages retrieval found)
    /// with the span of it the model finds likeliest, as `fledge ask` does: `true` (or
    /// `"always"`), `"questions"` (only a question about the text) or `false` (or `"off"`)
    /// (default: the server's `--quote`); sampling fields do not apply to a quoted answer.
    pub quote: Option<QuoteField>,
    /// fledge: asked for a story, sample up to this many, 1 to 64, and answer with the first
    /// that uses every word of the request, else the one that uses the most (default: the
    /// server's `--story-tries`); the story then arrives whole, as `fledge chat` shows it.
    pub story_tries: Option<i64>,
    /// fledge (as vLLM): the last message is the assistant's, unfinished;
    /// the answer continues it instead of starting a new one (the chat
    /// page's "what if it had said …").
    pub continue_final_message: Option<bool>,
}

/// A request's `quote`: a switch, or the mode by name as `--quote` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum QuoteField {
    On(bool),
    Mode(QuoteMode),
}

impl QuoteField {
    pub fn mode(self) -> QuoteMode {
        match self {
            QuoteField::On(true) => QuoteMode::Always,
            QuoteField::On(false) => QuoteMode::Off,
            QuoteField::Mode(m) => m,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: String,
    /// A string, or an array of `{"type": "text", "text": ...}` parts.
    pub content: Value,
    pub name: Option<String>,
    pub refusal: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionRequest {
    pub model: String,
    /// A string, or an array holding one string.
    pub prompt: Value,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub stop: Option<Value>,
    pub seed: Option<i64>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub n: Option<i64>,
    pub best_of: Option<i64>,
    pub echo: Option<bool>,
    pub suffix: Option<Value>,
    pub logprobs: Option<Value>,
    pub logit_bias: Option<serde_json::Map<String, Value>>,
    pub user: Option<String>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub top_k: Option<i64>,
    pub repetition_penalty: Option<f32>,
}

impl ChatRequest {
    pub fn sampling(&self) -> SamplingFields {
        SamplingFields {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            repetition_penalty: self.repetition_penalty,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop: self.stop.clone(),
            seed: self.seed,
            n: self.n,
        }
    }

    /// Refuses what this server cannot do, naming the field.
    pub fn check_unsupported(&self) -> Result<(), ApiError> {
        if self.tools.as_ref().is_some_and(|t| !t.is_null()) || self.tool_choice.as_ref().is_some_and(|t| !t.is_null())
        {
            return Err(unsupported("tools", "tool calls are not supported by this model"));
        }
        if self.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
            return Err(unsupported("logit_bias", "logit_bias is not supported"));
        }
        if let Some(f) = &self.response_format {
            if f.get("type").and_then(Value::as_str) != Some("text") {
                return Err(unsupported("response_format", "only {\"type\": \"text\"} is supported"));
            }
        }
        Ok(())
    }

    /// How many alternatives to list per token when `logprobs` is true.
    pub fn logprobs_wanted(&self) -> Result<Option<usize>, ApiError> {
        match (self.logprobs.unwrap_or(false), self.top_logprobs) {
            (false, Some(_)) => Err(ApiError::invalid(
                "top_logprobs".to_string(),
                "`top_logprobs` needs `logprobs: true` as well".to_string(),
            )),
            (false, None) => Ok(None),
            (true, n) => top_logprobs_count("top_logprobs", n.unwrap_or(0)).map(Some),
        }
    }

    /// The conversation in fledge's roles.
    pub fn conversation(&self) -> Result<Vec<Message>, ApiError> {
        conversation(&self.messages)
    }
}

/// Messages in OpenAI's roles (and fledge's `context`) as fledge's, naming
/// the message at fault.
pub fn conversation(messages: &[ChatMessage]) -> Result<Vec<Message>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid("messages".to_string(), "`messages` is empty: send at least one message"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "context" => Role::Context,
                "tool" | "function" => {
                    return Err(unsupported(format!("messages[{i}].role"), "tool messages are not supported"))
                }
                other => {
                    return Err(ApiError::invalid(
                        format!("messages[{i}].role"),
                        format!(
                            "unknown role `{other}` in messages[{i}]: use system, developer, user, assistant or context"
                        ),
                    ))
                }
            };
            Ok(Message::new(role, text_content(&m.content, &format!("messages[{i}].content"))?))
        })
        .collect()
}

impl CompletionRequest {
    pub fn sampling(&self) -> SamplingFields {
        SamplingFields {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            repetition_penalty: self.repetition_penalty,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
            // OpenAI's default for completions.
            max_tokens: Some(self.max_tokens.unwrap_or(16)),
            stop: self.stop.clone(),
            seed: self.seed,
            n: self.n.or(self.best_of),
        }
    }

    pub fn check_unsupported(&self) -> Result<(), ApiError> {
        if self.suffix.as_ref().is_some_and(|s| !s.is_null()) {
            return Err(unsupported("suffix", "suffix (insertion) is not supported"));
        }
        if self.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
            return Err(unsupported("logit_bias", "logit_bias is not supported"));
        }
        Ok(())
    }

    /// `logprobs: N`: the chosen token's log-probability and N alternatives.
    pub fn logprobs_wanted(&self) -> Result<Option<usize>, ApiError> {
        match &self.logprobs {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => {
                top_logprobs_count("logprobs", n.as_i64().unwrap_or(-1)).map(Some)
            }
            Some(other) => Err(ApiError::invalid(
                "logprobs".to_string(),
                format!("`logprobs` is {other}; it must be an integer from 0 to {MAX_TOP_LOGPROBS}"),
            )),
        }
    }

    pub fn prompt_text(&self) -> Result<String, ApiError> {
        let param = || Some("prompt".to_string());
        match &self.prompt {
            Value::String(s) => Ok(s.clone()),
            Value::Array(a) if a.len() == 1 && a[0].is_string() => Ok(a[0].as_str().unwrap_or_default().to_string()),
            Value::Array(a) if a.len() > 1 => {
                Err(ApiError::invalid(param(), format!("`prompt` holds {} prompts; send one per request", a.len())))
            }
            _ => Err(ApiError::invalid(param(), "`prompt` must be a string (or an array of one string)")),
        }
    }
}

/// The most alternatives a response lists per token (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: usize = 20;

fn top_logprobs_count(field: &str, n: i64) -> Result<usize, ApiError> {
    if !(0..=MAX_TOP_LOGPROBS as i64).contains(&n) {
        return Err(ApiError::invalid(
            field.to_string(),
            format!("`{field}` is {n}; it must be from 0 to {MAX_TOP_LOGPROBS}"),
        ));
    }
    Ok(n as usize)
}

fn unsupported(param: impl Into<String>, message: &str) -> ApiError {
    ApiError::invalid(param.into(), message.to_string()).with_code("unsupported_parameter")
}

/// A message's text: a string, or the text parts of an array joined.
fn text_content(content: &Value, param: &str) -> Result<String, ApiError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for (j, part) in parts.iter().enumerate() {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    (kind, _) => {
                        return Err(ApiError::invalid(
                            format!("{param}[{j}]"),
                            format!(
                            "content part {j} is {}: only {{\"type\": \"text\", \"text\": ...}} parts are supported",
                            kind.map(|k| format!("of type `{k}`")).unwrap_or_else(|| "not a text part".into())
                        ),
                        ))
                    }
                }
            }
            Ok(text)
        }
        Value::Null => Ok(String::new()),
        _ => Err(ApiError::invalid(param.to_string(), format!("`{param}` must be a string or an array of text parts"))),
    }
}

/// The sampling options for a request: its fields checked against OpenAI's
/// ranges, the server's defaults for the ones it left out. Returns the
/// options (their `max_new_tokens` is the requested `max_tokens`, or the
/// whole window when none was asked for) and the requested `max_tokens`.
pub fn sampling_options(
    f: &SamplingFields,
    defaults: &SamplingOptions,
    window: usize,
) -> Result<(SamplingOptions, Option<usize>), ApiError> {
    let range = |name: &str, v: Option<f32>, lo: f32, hi: f32| match v {
        Some(x) if !(lo..=hi).contains(&x) || x.is_nan() => {
            Err(ApiError::invalid(name.to_string(), format!("`{name}` is {x}; it must be between {lo} and {hi}")))
        }
        _ => Ok(()),
    };
    range("temperature", f.temperature, 0.0, 2.0)?;
    range("top_p", f.top_p, 0.0, 1.0)?;
    range("presence_penalty", f.presence_penalty, -2.0, 2.0)?;
    range("frequency_penalty", f.frequency_penalty, -2.0, 2.0)?;
    range("repetition_penalty", f.repetition_penalty, 0.01, 10.0)?;
    if let Some(n) = f.n {
        if n != 1 {
            return Err(unsupported("n", &format!("`n` is {n}: this server returns one choice per request")));
        }
    }
    let top_k = match f.top_k {
        Some(k) if k < 0 => {
            return Err(ApiError::invalid("top_k".to_string(), format!("`top_k` is {k}; use 0 (off) or more")))
        }
        Some(k) => k as usize,
        None => defaults.top_k,
    };
    let max_tokens = match f.max_tokens {
        Some(m) if m < 1 => {
            return Err(ApiError::invalid(
                "max_tokens".to_string(),
                format!("`max_tokens` is {m}; it must be at least 1"),
            ))
        }
        Some(m) if m as u64 >= window as u64 => {
            return Err(ApiError::invalid(
                "max_tokens".to_string(),
                format!("`max_tokens` is {m}, but the model's context window is {window} tokens, prompt included"),
            )
            .with_code("context_length_exceeded"))
        }
        Some(m) => Some(m as usize),
        None => None,
    };
    let stop_strings = match &f.stop {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.len() <= 4 && a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).map(String::from).collect()
        }
        Some(_) => return Err(ApiError::invalid("stop".to_string(), "`stop` must be a string or up to 4 strings")),
    };
    if stop_strings.iter().any(String::is_empty) {
        return Err(ApiError::invalid("stop".to_string(), "`stop` strings must not be empty"));
    }
    let seed = match f.seed {
        Some(s) => s as u64,
        // Without a seed every request samples differently, as clients expect.
        None => rand::random(),
    };
    let options = SamplingOptions {
        temperature: f.temperature.unwrap_or(defaults.temperature),
        top_p: f.top_p.unwrap_or(defaults.top_p),
        top_k,
        repetition_penalty: f.repetition_penalty.unwrap_or(defaults.repetition_penalty),
        max_new_tokens: max_tokens.unwrap_or(window),
        seed,
        stop_strings,
        stop_tokens: Vec::new(),
        logprobs: None,
    };
    Ok((options, max_tokens))
}

/// OpenAI's finish reasons: `stop` (a stop token or string) or `length`.
pub fn finish_reason(f: FinishReason) -> &'static str {
    match f {
        FinishReason::StopToken | FinishReason::StopString => "stop",
        FinishReason::Length | FinishReason::ContextFull => "length",
    }
}

/// The passages a grounded answer was given, as the extra `sources` field.
pub fn sources_json(passages: &[Passage]) -> Value {
    Value::Array(
        passages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "index": i + 1,
                    "source": p.label,
                    "line": p.line,
                    "score": p.score,
                    "text": p.text.trim(),
                })
            })
            .collect(),
    )
}

/// A token as OpenAI's log-probability lists show one, plus fledge's `id`
/// (the token's number, which `/v1/fledge/inspect` takes back as `tokens`).
fn token_json(tok: &Tokenizer, id: u32, logprob: f32) -> Value {
    json!({"token": tok.token_text(id), "logprob": finite(logprob), "bytes": tok.token_bytes(id), "id": id})
}

/// JSON has no infinity: a token the distribution excluded gets OpenAI's
/// floor of -9999.
fn finite(logprob: f32) -> f32 {
    if logprob.is_finite() {
        logprob
    } else {
        -9999.0
    }
}

/// Chat's `choices[i].logprobs`: `{"content": [{token, logprob, bytes, top_logprobs}]}`.
pub fn chat_logprobs(tok: &Tokenizer, items: &[TokenLogprob], distribution: &str) -> Value {
    let content: Vec<Value> = items
        .iter()
        .map(|t| {
            let mut v = token_json(tok, t.token, t.logprob);
            v["top_logprobs"] = t.top.iter().map(|&(id, lp)| token_json(tok, id, lp)).collect();
            v
        })
        .collect();
    json!({"content": content, "refusal": null, "distribution": distribution})
}

/// The completions endpoint's older shape: parallel lists of tokens, their
/// log-probabilities, `{token: logprob}` maps of alternatives, and each
/// token's character offset in the response text (counted from `offset`).
pub fn completion_logprobs(tok: &Tokenizer, items: &[TokenLogprob], offset: usize, distribution: &str) -> Value {
    let mut at = offset;
    let mut offsets = Vec::with_capacity(items.len());
    for t in items {
        offsets.push(at);
        at += tok.token_text(t.token).chars().count();
    }
    let top: Vec<Value> = items
        .iter()
        .map(|t| {
            let map: serde_json::Map<String, Value> =
                t.top.iter().map(|&(id, lp)| (tok.token_text(id), json!(finite(lp)))).collect();
            Value::Object(map)
        })
        .collect();
    json!({
        "tokens": items.iter().map(|t| tok.token_text(t.token)).collect::<Vec<_>>(),
        "token_logprobs": items.iter().map(|t| finite(t.logprob)).collect::<Vec<_>>(),
        "top_logprobs": top,
        "text_offset": offsets,
        "distribution": distribution,
    })
}

pub fn usage(prompt_tokens: usize, completion_tokens: usize) -> Value {
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let e = parse::<ChatRequest>(
            br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"), "{}", e.message);
        let e = parse::<ChatRequest>(br#"{"model": "m", "messages": [{"role": 3, "content": "hi"}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"), "{}", e.message);
        let e = parse::<ChatRequest>(br#"{"model": "m", "messages": [], "max_token": 5}"#).unwrap_err();
        assert!(e.message.contains("unknown field `max_token`"), "{}", e.message);
        let e = parse::<ChatRequest>(br#"{"model": "m", "messages": []"#).unwrap_err();
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        let e = parse::<ChatRequest>(br#"{"messages": []}"#).unwrap_err();
        assert!(e.message.contains("missing field `model`"), "{}", e.message);
        assert!(parse::<ChatRequest>(b"{\"model\": \"\xff\", \"messages\": []}").is_err());
        assert!(parse::<ChatRequest>(br#"{"model": "m", "messages": []} {}"#).is_err());
    }

    #[test]
    fn sampling_ranges_and_defaults() {
        let d = SamplingOptions::default();
        let f = |f: SamplingFields| sampling_options(&f, &d, 512);
        assert_eq!(
            f(SamplingFields { temperature: Some(3.0), ..Default::default() }).unwrap_err().param.as_deref(),
            Some("temperature")
        );
        assert!(f(SamplingFields { max_tokens: Some(-1), ..Default::default() }).is_err());
        let e = f(SamplingFields { max_tokens: Some(1 << 40), ..Default::default() }).unwrap_err();
        assert_eq!(e.code, Some("context_length_exceeded"));
        assert!(f(SamplingFields { n: Some(2), ..Default::default() }).is_err());
        assert!(f(SamplingFields { stop: Some(json!(["a", "b", "c", "d", "e"])), ..Default::default() }).is_err());
        assert!(f(SamplingFields { stop: Some(json!([""])), ..Default::default() }).is_err());
        let (o, m) = f(SamplingFields { seed: Some(7), stop: Some(json!("\n")), ..Default::default() }).unwrap();
        assert_eq!((o.seed, o.max_new_tokens, m, o.temperature), (7, 512, None, d.temperature));
        assert_eq!(o.stop_strings, vec!["\n".to_string()]);
    }

    #[test]
    fn roles_and_content_parts() {
        let r: ChatRequest = parse(
            br#"{"model": "m", "messages": [{"role": "developer", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]}]}"#,
        )
        .unwrap();
        let m = r.conversation().unwrap();
        assert_eq!((m[0].role, m[1].content.as_str()), (Role::System, "hi there"));
        let r: ChatRequest =
            parse(br#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#).unwrap();
        assert_eq!(r.conversation().unwrap_err().param.as_deref(), Some("messages[0].content[0]"));
        let r: ChatRequest = parse(br#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#).unwrap();
        assert!(r.conversation().unwrap_err().message.contains("unknown role `wizard`"));
        let r: ChatRequest = parse(br#"{"model": "m", "messages": []}"#).unwrap();
        assert_eq!(r.conversation().unwrap_err().param.as_deref(), Some("messages"));
    }
}
