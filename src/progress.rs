//! Progress bars for stages that take more than a few seconds.
//!
//! Bars draw to stderr and hide themselves when stderr is not a terminal (CI,
//! pipes), so logs stay readable.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting bytes, showing throughput and ETA.
pub fn bytes_bar(total: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// A bar counting items (documents, paragraphs), showing rate and ETA.
pub fn count_bar(total: u64, message: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{msg:>12}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{per_sec}} eta {{eta}}");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template").progress_chars("=> "));
    bar.set_message(message.to_string());
    bar
}
