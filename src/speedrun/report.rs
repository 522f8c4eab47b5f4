//! The speedrun's lab notebook: `report.md` for people and `report.json` with
//! the same figures for programs, so runs compare across machines and days.

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{io_err, SpeedrunConfig, SpeedrunError, Stage, StageRecord};

/// Everything the report says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub preset: String,
    pub config: SpeedrunConfig,
    /// UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
    pub fledge_version: String,
    pub hardware: Hardware,
    /// Wall-clock seconds of this invocation (stages reused from earlier ones cost it nothing).
    pub seconds: f64,
    /// Seconds the stages took when they ran, reused ones included.
    pub stage_seconds: f64,
    pub peak_rss_mb: Option<f64>,
    pub records: Vec<StageRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hardware {
    pub cpu: String,
    pub threads: usize,
    pub memory_gb: Option<f64>,
    pub os: String,
}

impl Hardware {
    pub fn this_machine() -> Hardware {
        let memory_gb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal"))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0 / 1024.0)
        });
        Hardware {
            cpu: crate::bench::cpu_name(),
            threads: rayon::current_num_threads(),
            memory_gb,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// `YYYY-MM-DD HH:MM` (UTC) of a Unix time, by the days-to-civil algorithm.
fn utc_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

impl Report {
    pub fn new(config: &SpeedrunConfig) -> Report {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Report {
            preset: config.preset.clone(),
            config: config.clone(),
            date: utc_date(now),
            fledge_version: env!("CARGO_PKG_VERSION").to_string(),
            hardware: Hardware::this_machine(),
            seconds: 0.0,
            stage_seconds: 0.0,
            peak_rss_mb: None,
            records: Vec::new(),
        }
    }

    pub fn record(&self, stage: Stage) -> Option<&StageRecord> {
        self.records.iter().find(|r| r.stage == stage)
    }

    pub fn finish(&mut self, seconds: f64) {
        self.seconds = seconds;
        self.stage_seconds = self.records.iter().map(|r| r.seconds).sum();
        self.peak_rss_mb = crate::bench::peak_rss_mb();
    }

    /// Writes `report.md` and `report.json` into `out`.
    pub fn write(&self, out: &Path) -> Result<(), SpeedrunError> {
        let json = out.join("report.json");
        crate::fsutil::write_atomic(&json, serde_json::to_string_pretty(self).expect("serializes").as_bytes())
            .map_err(io_err(&json))?;
        let md = out.join("report.md");
        crate::fsutil::write_atomic(&md, render(self).as_bytes()).map_err(io_err(&md))
    }
}

fn f(v: &Value, digits: usize) -> String {
    v.as_f64().map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".into())
}

fn minutes(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// The report as Markdown: a summary table, then a section per stage.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# fledge speedrun: preset `{}`\n", r.preset);
    let _ = writeln!(
        s,
        "{} UTC · fledge {} · {} ({} threads{}) · {}\n",
        r.date,
        r.fledge_version,
        r.hardware.cpu,
        r.hardware.threads,
        r.hardware.memory_gb.map(|g| format!(", {g:.0} GB")).unwrap_or_default(),
        r.hardware.os
    );
    let _ = writeln!(
        s,
        "Stages took **{}** in all (this invocation {}{}). Reproduce: `fledge speedrun --preset {}`.\n",
        minutes(r.stage_seconds),
        minutes(r.seconds),
        r.peak_rss_mb.map(|m| format!(", peak memory {m:.0} MB")).unwrap_or_default(),
        r.preset
    );
    let _ = writeln!(s, "| # | stage | time | what it did |\n|---|---|---:|---|");
    for (i, rec) in r.records.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {}{} | {} |",
            i + 1,
            rec.stage,
            minutes(rec.seconds),
            if rec.reused { " (reused)" } else { "" },
            rec.summary
        );
    }
    for rec in &r.records {
        let _ = writeln!(s, "\n## {}\n", rec.stage);
        let fig = &rec.figures;
        match rec.stage {
            Stage::Corpus => {
                // The preparation's own report, its title dropped.
                let md = fig["markdown"].as_str().unwrap_or("");
                let body = md.split_once('\n').map(|(_, b)| b).unwrap_or(md);
                let _ = writeln!(s, "{}", body.replace("\n## ", "\n### ").trim());
            }
            Stage::Tokenizer => {
                let _ = writeln!(s, "{}.", rec.summary);
            }
            Stage::Shards => render_shards(&mut s, fig),
            Stage::Pretrain | Stage::Sft => render_training(&mut s, rec),
            Stage::ChatData => render_chat_data(&mut s, fig),
            Stage::Retrieval => render_retrieval(&mut s, fig),
            Stage::Eval => render_eval(&mut s, fig),
            Stage::Export => render_export(&mut s, fig),
            Stage::Report => {}
        }
    }
    s
}

/// Tokens per split and the validation sets each holds.
fn render_shards(s: &mut String, fig: &Value) {
    let _ = writeln!(
        s,
        "| split | documents | MB | tokens | bytes/token | validation sets |\n|---|---:|---:|---:|---:|---|"
    );
    for sp in fig["splits"].as_array().into_iter().flatten() {
        let sets: Vec<&str> = sp["sets"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} | {} | {} | {} |",
            sp["split"].as_str().unwrap_or(""),
            sp["documents"],
            sp["bytes"].as_f64().unwrap_or(0.0) / 1e6,
            sp["tokens"],
            f(&sp["bytes_per_token"], 3),
            sets.join(", ")
        );
    }
}

/// Conversations per chat set and split.
fn render_chat_data(s: &mut String, fig: &Value) {
    let _ = writeln!(s, "| set | train | val | test |\n|---|---:|---:|---:|");
    for set in fig["sets"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            set["name"].as_str().unwrap_or(""),
            set["train"],
            set["val"],
            set["test"]
        );
    }
}

/// How well retrieval finds the section that answers each FairytaleQA question, per mode.
fn render_retrieval(s: &mut String, fig: &Value) {
    let _ = writeln!(
        s,
        "FairytaleQA test stories, one document per section: {} documents, {} chunks; {} questions \
         whose answering section is known.\n",
        fig["documents"], fig["chunks"], fig["questions"]
    );
    let _ = writeln!(s, "| mode | recall@1 | recall@5 | recall@10 | MRR@10 | p50 ms |\n|---|---:|---:|---:|---:|---:|");
    for m in fig["scores"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            m["mode"].as_str().unwrap_or(""),
            f(&m["recall_at_1"], 3),
            f(&m["recall_at_5"], 3),
            f(&m["recall_at_10"], 3),
            f(&m["mrr_at_10"], 3),
            f(&m["p50_ms"], 1)
        );
    }
}

/// The exported folder and its files.
fn render_export(s: &mut String, fig: &Value) {
    let _ =
        writeln!(s, "`{}`, {:.1} MB:\n", fig["out"].as_str().unwrap_or(""), fig["bytes"].as_f64().unwrap_or(0.0) / 1e6);
    let _ = writeln!(s, "- the Hugging Face folder (`model.safetensors`, `config.json`, `tokenizer.json`, chat template, `README.md` model card)");
    for g in fig["gguf_files"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "- `{}` ({:.1} MB) for llama.cpp and Ollama",
            g[0].as_str().unwrap_or(""),
            g[1].as_f64().unwrap_or(0.0) / 1e6
        );
    }
    for n in fig["notices"].as_array().into_iter().flatten() {
        let _ = writeln!(s, "\nThe card carries the notice \"{}\".", n.as_str().unwrap_or(""));
    }
}

fn render_training(s: &mut String, rec: &StageRecord) {
    let fig = &rec.figures;
    let c = &fig["config"];
    let _ = writeln!(
        s,
        "{} parameters ({} layers, d_model {}, {} heads, context {}), {} steps, {:.2}M tokens in {}: **{:.0} tokens/s**{}.\n",
        fig["params"],
        c["n_layers"],
        c["d_model"],
        c["n_heads"],
        c["max_seq_len"],
        fig["steps"],
        fig["tokens"].as_f64().unwrap_or(0.0) / 1e6,
        minutes(fig["seconds"].as_f64().unwrap_or(0.0)),
        fig["tokens_per_s"].as_f64().unwrap_or(0.0),
        fig["hardware"].as_str().map(|h| format!(" on {h}")).unwrap_or_default()
            + &fig["precision"].as_str().map(|p| format!(", matrix products in {p}")).unwrap_or_default()
    );
    if fig["loss_tokens"] != fig["tokens"] {
        let _ = writeln!(
            s,
            "Of those tokens, {} were assistant tokens, the only ones the loss counts.\n",
            fig["loss_tokens"]
        );
    }
    let _ = write!(s, "Last training loss {}.", f(&fig["final_loss"], 4));
    for (label, m) in [("Best", &fig["best"]), ("Last", &fig["last_eval"])] {
        if m.is_null() || (label == "Last" && m["step"] == fig["best"]["step"]) {
            continue;
        }
        let _ = write!(s, " {label} evaluation (step {}): validation loss {}", m["step"], f(&m["val_loss"], 4));
        if !m["val_bpb"].is_null() {
            let _ = write!(s, ", {} bits per byte", f(&m["val_bpb"], 4));
        }
        let _ = write!(s, ".");
    }
    let _ = writeln!(s);
    if let Some(sets) = fig["best"]["val_sets"].as_object().filter(|o| !o.is_empty()) {
        let _ = writeln!(s, "\n| validation set (best checkpoint) | bits per byte |\n|---|---:|");
        for (name, v) in sets {
            let _ = writeln!(s, "| {name} | {} |", f(v, 4));
        }
    }
    let _ = writeln!(s, "\n![{} loss]({})", rec.stage, fig["plot"].as_str().unwrap_or(""));
}

/// A rate with one standard error over `n` items ("0.356 ± 0.048").
fn rate_with_error(rate: &Value, n: &Value) -> String {
    match (rate.as_f64(), n.as_u64()) {
        (Some(p), Some(n)) => format!("{p:.3} ± {:.3}", crate::chat::battery::standard_error(p, n as usize)),
        _ => f(rate, 3),
    }
}

/// The battery of `evals/`: grounded QA and refusals, story requests, per split.
fn render_battery(s: &mut String, b: &Value) {
    let Some(splits) = b["splits"].as_array() else { return };
    let _ = writeln!(
        s,
        "\nThe battery (`evals/`, hand-written): grounded questions about short texts, answered greedily, \
         and quoted from the text as `fledge ask` answers (exact match and F1 are the greedy answers'); \
         answer accuracy counts a reply that holds a gold answer in at most max(12, 3 × its words) words. \
         Story requests are sampled and guided as `fledge chat` does (classifier-free guidance {}); a story passes with 40 words or more, every \
         subject word asked for, and no identity line. ± is one standard error of the rate, sqrt(p(1 - p) / n): \
         a difference under about two is noise.\n",
        splits.first().map_or("–".to_string(), |sp| f(&sp["stories"]["guidance"], 1))
    );
    let _ = writeln!(
        s,
        "| split | answerable | answer accuracy | quoted, as `fledge ask` | exact match | token F1 | false refusals | unanswerable | refused | story requests | told a story |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for sp in splits {
        let (g, st) = (&sp["grounded"], &sp["stories"]);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sp["split"].as_str().unwrap_or(""),
            g["answerable"],
            rate_with_error(&g["answer_accuracy"], &g["answerable"]),
            rate_with_error(&sp["grounded_quoted"]["answer_accuracy"], &g["answerable"]),
            f(&g["exact_match"], 3),
            f(&g["f1"], 3),
            rate_with_error(&g["false_refusal_rate"], &g["answerable"]),
            g["unanswerable"],
            rate_with_error(&g["refusal_rate"], &g["unanswerable"]),
            st["requests"],
            rate_with_error(&st["pass_rate"], &st["requests"])
        );
    }
    if let Some(dev) = splits.first() {
        let _ = writeln!(s, "\nFirst grounded replies ({} split):\n", dev["split"].as_str().unwrap_or(""));
        for a in dev["grounded_samples"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "- {} → `{}` (gold `{}`){}",
                a["question"].as_str().unwrap_or(""),
                a["reply"].as_str().unwrap_or("").replace('\n', " "),
                a["answers"][0].as_str().unwrap_or("(not in the text)"),
                if a["accurate"].as_bool() == Some(true) { " ✓" } else { "" }
            );
        }
        let _ = writeln!(s, "\nFirst story requests ({} split):\n", dev["split"].as_str().unwrap_or(""));
        for a in dev["story_samples"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "> *{}*\n>\n> {}{}\n",
                a["prompt"].as_str().unwrap_or(""),
                a["reply"].as_str().unwrap_or("").replace('\n', "\n> "),
                if a["pass"].as_bool() == Some(true) { " ✓" } else { "" }
            );
        }
    }
}

fn render_eval(s: &mut String, fig: &Value) {
    let _ = writeln!(
        s,
        "Answers are greedy, scored against the reference after normalizing case, punctuation and articles.\n"
    );
    let _ = writeln!(
        s,
        "| QA set | scored | too long for the window | exact match | token F1 | stopped by itself |\n|---|---:|---:|---:|---:|---:|"
    );
    for q in fig["qa"].as_array().into_iter().flatten().chain([&fig["grounded"]]) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            q["name"].as_str().unwrap_or(""),
            q["scored"],
            q["too_long"],
            f(&q["exact_match"], 3),
            f(&q["f1"], 3),
            f(&q["stop_rate"], 3)
        );
    }
    if let Some(losses) = fig["chat_loss"].as_array().filter(|a| !a.is_empty()) {
        let _ = writeln!(
            s,
            "\n| held-out conversations | count | assistant tokens in the window | loss (nats/token) |\n|---|---:|---:|---:|"
        );
        for l in losses {
            let loss = if l["assistant_tokens"] == 0 { "–".to_string() } else { f(&l["loss"], 3) };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {loss} |",
                l["set"].as_str().unwrap_or(""),
                l["conversations"],
                l["assistant_tokens"]
            );
        }
    }
    render_battery(s, &fig["battery"]);
    let tq = &fig["text_quality"];
    if tq.is_object() {
        let _ = writeln!(
            s,
            "\nText quality as an outsider measures it (the held-out `{}` stories as one stream, {} tokens, windows of \
             {} tokens after `<|endoftext|>`, no document alignment): base {} bits per byte, chat {} ({:+.3}).",
            tq["set"].as_str().unwrap_or(""),
            tq["tokens"],
            tq["window"],
            f(&tq["base_bpb"], 4),
            f(&tq["chat_bpb"], 4),
            tq["difference"].as_f64().unwrap_or(f64::NAN)
        );
    }
    for a in fig["answers"].as_array().into_iter().flatten() {
        let _ = writeln!(s, "\nFirst answers, {}:\n", a["set"].as_str().unwrap_or(""));
        for ans in a["answers"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "- {} → `{}` (reference `{}`){}",
                ans["question"].as_str().unwrap_or("").replace('\n', " "),
                ans["prediction"].as_str().unwrap_or("").replace('\n', " "),
                ans["reference"].as_str().unwrap_or(""),
                if ans["exact"].as_bool() == Some(true) { " ✓" } else { "" }
            );
        }
    }
    let sampling = &fig["sampling"];
    let _ = writeln!(
        s,
        "\n### Samples\n\nUnedited, fixed seeds; temperature {}, top-k {}, top-p {}, repetition penalty {}.\n\nThe base model continues a story opening:\n",
        f(&sampling["temperature"], 1),
        sampling["top_k"],
        f(&sampling["top_p"], 2),
        f(&sampling["repetition_penalty"], 2)
    );
    for st in fig["stories"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "> **{}**{}\n",
            st["prompt"].as_str().unwrap_or(""),
            st["continuation"].as_str().unwrap_or("").replace('\n', "\n> ")
        );
    }
    let _ = writeln!(s, "The chat model answers:\n");
    for t in fig["transcripts"].as_array().into_iter().flatten() {
        if let Some(c) = t["context"].as_str() {
            let _ = writeln!(s, "> *context:* {c}  ");
        }
        let _ = writeln!(
            s,
            "> *you:* {}  \n> *fledge:* {}{}\n",
            t["user"].as_str().unwrap_or(""),
            t["assistant"].as_str().unwrap_or("").replace('\n', "\n> "),
            if t["finish"].as_str() == Some("StopToken") { "" } else { " *(cut off)*" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{render_battery, utc_date};
    use serde_json::json;

    #[test]
    fn battery_rates_carry_their_standard_errors() {
        let grounded = json!({"answerable": 100, "answer_accuracy": 0.36, "exact_match": 0.2, "f1": 0.4,
            "false_refusal_rate": 0.08, "unanswerable": 25, "refusal_rate": 0.6});
        let stories = json!({"requests": 50, "pass_rate": 0.88, "guidance": 1.5});
        let mut s = String::new();
        let quoted = json!({"answer_accuracy": 0.43});
        let split = json!({"split": "dev", "grounded": grounded, "grounded_quoted": quoted, "stories": stories});
        render_battery(&mut s, &json!({ "splits": [split] }));
        // sqrt(p (1 - p) / n): over the answerable questions, the unanswerable ones, the requests.
        let row = s.lines().find(|l| l.starts_with("| dev |")).expect("the dev row");
        for cell in ["0.360 ± 0.048", "0.430 ± 0.050", "0.080 ± 0.027", "0.600 ± 0.098", "0.880 ± 0.046"] {
            assert!(row.contains(cell), "{cell} missing from {row}");
        }
    }

    #[test]
    fn unix_times_become_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc_date(1_795_488_300), "2026-11-24 02:45");
    }
}
