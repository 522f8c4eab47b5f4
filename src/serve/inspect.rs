//! `POST /v1/fledge/inspect`: what the model computed for a text — its
//! tokens, each position's top next-token predictions, the attention weights
//! of a layer and head (or all of them), and the logit lens.
//!
//! Request (JSON; unknown fields refused):
//!
//! | field | meaning | default |
//! |---|---|---|
//! | `model` | the served model's id | the served model |
//! | `text` | a document, read after `<\|endoftext|>` | (this or `messages`) |
//! | `messages` | a conversation, rendered with the chat template | |
//! | `tokens` | token ids as they are (e.g. a prompt and the `id`s of an answer's logprobs) | |
//! | `add_generation_prompt` | with `messages`: end with `<\|im_start\|>assistant` | `false` |
//! | `top_logprobs` | predictions listed per position, 0-20 | 5 |
//! | `attention` | `{"layer": L, "head": H}`, `"all"` (bounded), or `null` | `null` |
//! | `logit_lens` | each layer's top predictions at each position | `false` |
//!
//! Response: `tokens` (`id`, `token`, `bytes`: how the tokenizer split the
//! text, `<|endoftext|>` or the template's tokens first); `positions`, one per
//! token: `logprob` (of this token given the ones before; `null` for the
//! first) and `top_logprobs` (the model's predictions for the token after
//! it: its own distribution, nothing sampled); `attention`: a list of
//! `{layer, head, weights}` with `weights[i][j]` the weight position `i` gave
//! position `j` (rows sum to 1; zero for `j > i`); `logit_lens`: a list of
//! `{layer, name, top}` from the embeddings (layer 0) to the output (layer
//! `n_layers`, equal to `positions[i].top_logprobs`), `top[i]` being position
//! `i`'s predictions when that layer's residual stream is unembedded.

use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{ApiError, ChatMessage, MAX_TOP_LOGPROBS};
use super::engine::Model;
use crate::chat::render_tokens;
use crate::generate::inspect::{inspect, Heads, InspectOptions};

/// The most attention weights one response carries (all heads of the
/// reference model at 256 tokens is 3.1M): about 25 MB of JSON.
pub const MAX_ATTENTION_VALUES: usize = 4 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectRequest {
    pub model: Option<String>,
    pub text: Option<String>,
    pub messages: Option<Vec<ChatMessage>>,
    pub tokens: Option<Vec<u32>>,
    #[serde(default)]
    pub add_generation_prompt: bool,
    pub top_logprobs: Option<i64>,
    pub attention: Option<Value>,
    #[serde(default)]
    pub logit_lens: bool,
}

/// The request checked against the model: tokens and options, or a 400 naming the field.
pub fn prepare(model: &Model, req: &InspectRequest) -> Result<(Vec<u32>, InspectOptions), ApiError> {
    let tok = &model.tokenizer;
    let c = &model.config;
    let (tokens, field) = match (&req.text, &req.messages, &req.tokens) {
        (Some(text), None, None) => {
            let mut ids = vec![tok.eot_id()];
            ids.extend(tok.encode(text, false));
            (ids, "text")
        }
        (None, Some(messages), None) => {
            let chat = super::api::conversation(messages)?;
            (render_tokens(tok, &chat, req.add_generation_prompt).ids, "messages")
        }
        (None, None, Some(ids)) => {
            if let Some((i, id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= c.vocab_size) {
                return Err(ApiError::invalid(
                    format!("tokens[{i}]"),
                    format!("token {id} is not in the model's vocabulary of {}", c.vocab_size),
                ));
            }
            (ids.clone(), "tokens")
        }
        _ => {
            return Err(ApiError::invalid(
                None,
                "send one of `text` (a document), `messages` (a conversation) or `tokens` (ids)",
            ))
        }
    };
    if tokens.is_empty() {
        return Err(ApiError::invalid(field.to_string(), format!("`{field}` holds no tokens")));
    }
    if tokens.len() > c.max_seq_len {
        return Err(ApiError::invalid(
            field.to_string(),
            format!(
                "`{field}` is {} tokens; the model's window is {}: send a shorter text",
                tokens.len(),
                c.max_seq_len
            ),
        )
        .with_code("context_length_exceeded"));
    }
    let top = match req.top_logprobs {
        None => 5,
        Some(n) if (0..=MAX_TOP_LOGPROBS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid(
                "top_logprobs".to_string(),
                format!("`top_logprobs` is {n}; it must be from 0 to {MAX_TOP_LOGPROBS}"),
            ))
        }
    };
    let heads = match &req.attention {
        None | Some(Value::Null) => Heads::None,
        Some(Value::String(s)) if s == "all" => {
            let values = c.n_layers * c.n_heads * tokens.len() * tokens.len();
            if values > MAX_ATTENTION_VALUES {
                return Err(ApiError::invalid(
                    "attention".to_string(),
                    format!(
                        "all {} heads over {} tokens is {values} weights, more than the {MAX_ATTENTION_VALUES} a response \
                         carries: ask for one {{\"layer\", \"head\"}} or a shorter text",
                        c.n_layers * c.n_heads,
                        tokens.len()
                    ),
                ));
            }
            Heads::All
        }
        Some(Value::Object(o)) => {
            let index = |name: &str, limit: usize| -> Result<usize, ApiError> {
                let param = format!("attention.{name}");
                match o.get(name).and_then(Value::as_i64) {
                    Some(v) if (0..limit as i64).contains(&v) => Ok(v as usize),
                    Some(v) => Err(ApiError::invalid(
                        param.clone(),
                        format!("`{param}` is {v}; the model has {limit}, numbered 0 to {}", limit - 1),
                    )),
                    None => Err(ApiError::invalid(param.clone(), format!("`{param}` must be an integer"))),
                }
            };
            if let Some(k) = o.keys().find(|k| *k != "layer" && *k != "head") {
                return Err(ApiError::invalid(format!("attention.{k}"), format!("unknown field `attention.{k}`")));
            }
            Heads::One { layer: index("layer", c.n_layers)?, head: index("head", c.n_heads)? }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "attention".to_string(),
                "`attention` must be {\"layer\": L, \"head\": H}, \"all\", or null",
            ))
        }
    };
    Ok((tokens, InspectOptions { top, heads, logit_lens: req.logit_lens }))
}

/// Weights rounded to 5 decimals: the JSON is a third the size, and a heat
/// map cannot show the difference.
fn round(x: f32) -> f64 {
    (x as f64 * 1e5).round() / 1e5
}

/// Runs the model over the tokens and shapes the response.
pub fn respond(model: &Model, tokens: &[u32], options: InspectOptions) -> Value {
    let tok = &model.tokenizer;
    let c = &model.config;
    let mut generator = model.generator();
    let r = inspect(&mut generator, tokens, options);
    let predictions = |top: &[(u32, f32)]| -> Value {
        top.iter().map(|&(id, lp)| json!({"id": id, "token": tok.token_text(id), "logprob": lp})).collect()
    };
    let token_list: Vec<Value> =
        tokens.iter().map(|&id| json!({"id": id, "token": tok.token_text(id), "bytes": tok.token_bytes(id)})).collect();
    let positions: Vec<Value> = (0..tokens.len())
        .map(|i| {
            let logprob = if i == 0 { Value::Null } else { json!(r.logprobs[i - 1]) };
            json!({"logprob": logprob, "top_logprobs": predictions(&r.top[i])})
        })
        .collect();
    let n = tokens.len();
    let attention: Vec<Value> = r
        .attention
        .iter()
        .map(|h| {
            let rows: Vec<Vec<f64>> = h.weights.chunks(n).map(|row| row.iter().map(|&w| round(w)).collect()).collect();
            json!({"layer": h.layer, "head": h.head, "weights": rows})
        })
        .collect();
    let lens: Vec<Value> = r
        .lens
        .iter()
        .enumerate()
        .map(|(layer, per_position)| {
            let name = match layer {
                0 => "embeddings".to_string(),
                l if l == c.n_layers => format!("block {l} (the output)"),
                l => format!("block {l}"),
            };
            let top: Vec<Value> = per_position.iter().map(|t| predictions(t)).collect();
            json!({"layer": layer, "name": name, "top": top})
        })
        .collect();
    json!({
        "object": "fledge.inspection",
        "model": model.name,
        "layers": c.n_layers,
        "heads": c.n_heads,
        "window": c.max_seq_len,
        "tokens": token_list,
        "positions": positions,
        "attention": attention,
        "logit_lens": lens,
    })
}
