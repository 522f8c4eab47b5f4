//! Chat: conversations, the ChatML template, converters from public chat and
//! QA sets, supervised fine-tuning data, and grounded-QA evaluation.
//!
//! - [`template`]: the conversation type, JSONL reading, and the one renderer
//!   (text and tokens with the loss mask) every other stage uses.
//! - [`convert`]: turns ../shared/data/chat and ../shared/data/qa sets into
//!   conversation JSONL, keeping their own splits.

pub mod convert;
pub mod template;

pub use template::{render_text, render_tokens, Conversation, Message, Role};
