//! Converters from public chat and QA sets into conversation JSONL.
