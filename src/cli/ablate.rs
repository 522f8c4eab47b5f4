//! `fledge ablate`: the same model trained on several data recipes, their
//! validation bits per byte side by side, so that a data decision is a
//! measurement.
//!
//! Each recipe gets `OUT/{recipe name}/`: the speedrun's data stages (corpus,
//! tokenizer, shards; reused when unchanged) and a training run in `train/`,
//! resumed where an earlier call stopped. Validation is compared on one named
//! validation set (`--on`, a recipe's `val_set`) that every recipe holds out
//! the same way: bits per byte do not depend on the tokenizer, so recipes with
//! different tokenizers compare.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::speedrun::{self, SpeedrunConfig};
use fledge::train::plot::{line_chart, AxisLabels, Series, PALETTE, PALETTE_NAMES};
use fledge::train::run::Metric;

#[derive(Args)]
pub struct AblateArgs {
    /// Data recipes to compare (TOML), each trained the same way.
    #[arg(long = "recipe", required = true, num_args = 1..)]
    recipes: Vec<PathBuf>,
    /// The validation set to compare on (every recipe must hold it out).
    #[arg(long, default_value = "tinystories")]
    on: String,
    /// Training tokens per recipe (e.g. 20000000 or 20M).
    #[arg(long, default_value = "20M", value_parser = parse_tokens)]
    tokens: u64,
    /// Model preset.
    #[arg(long, default_value = "reference")]
    preset: String,
    /// Tokenizer vocabulary size of each recipe's tokenizer.
    #[arg(long, default_value_t = 4096)]
    vocab_size: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f32,
    /// Evaluate (and checkpoint) every this many steps.
    #[arg(long, default_value_t = 250)]
    eval_every: u64,
    /// Folder of the runs.
    #[arg(long, default_value = "runs/ablation")]
    out: PathBuf,
    /// Only print the table of what has been trained so far (default: off, train what is missing).
    #[arg(long)]
    report: bool,
}

fn parse_tokens(s: &str) -> Result<u64, String> {
    let (digits, scale) = match s.strip_suffix(['M', 'm']) {
        Some(d) => (d, 1e6),
        None => match s.strip_suffix(['K', 'k']) {
            Some(d) => (d, 1e3),
            None => (s, 1.0),
        },
    };
    digits
        .trim()
        .parse::<f64>()
        .map(|v| (v * scale) as u64)
        .map_err(|_| format!("{s:?} is not a token count (like 20000000 or 20M)"))
}

/// What one recipe's run measured so far.
struct Row {
    recipe: String,
    unique_tokens: u64,
    steps: u64,
    tokens: u64,
    last: Option<f64>,
    best: Option<(u64, f64)>,
    at_tokens: Option<f64>,
    /// Bits per byte at each of [`CURVE_POINTS`] of the token budget.
    curve: Vec<Option<f64>>,
    /// Every evaluation: (millions of tokens, bits per byte), for the chart.
    points: Vec<(f64, f64)>,
    seconds: f64,
}

/// Where along the token budget the side-by-side curve is read.
const CURVE_POINTS: [f64; 6] = [0.05, 0.1, 0.25, 0.5, 0.75, 1.0];

/// The first evaluation at or past `tokens`, as a bits-per-byte figure.
fn bpb_at(evals: &[(u64, u64, f64)], tokens: u64) -> Option<f64> {
    evals.iter().filter(|e| e.1 >= tokens).min_by_key(|e| e.1).map(|e| e.2)
}

/// 20000000 -> "20M", 5527883 -> "5.53M": the table is read, not parsed.
fn millions(tokens: u64) -> String {
    let m = tokens as f64 / 1e6;
    let text = if m >= 10.0 { format!("{m:.1}") } else { format!("{m:.2}") };
    format!("{}M", text.trim_end_matches('0').trim_end_matches('.'))
}

pub fn run_ablate(args: AblateArgs) -> Result<()> {
    let steps = args.tokens.div_ceil((args.batch * args.seq_len) as u64);
    let stop = super::ctrl_c_flag()?;
    let mut rows = Vec::new();
    for recipe in &args.recipes {
        let name = recipe.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "recipe".into());
        let dir = args.out.join(&name);
        if !args.report && !stop.load(Ordering::Relaxed) {
            let mut config = SpeedrunConfig::preset("reference").expect("a preset");
            config.recipe = Some(recipe.clone());
            config.out = dir.clone();
            config.vocab_size = args.vocab_size;
            config.pretrain.model = args.preset.clone();
            config.pretrain.tokens = args.tokens;
            config.pretrain.batch = args.batch;
            config.pretrain.seq_len = args.seq_len;
            config.pretrain.lr = args.lr;
            config.pretrain.eval_every = args.eval_every;
            config.pretrain.best_on = Some(args.on.clone());
            speedrun::data_stages(&config, speedrun::Stage::Shards, &mut |_| {})
                .with_context(|| format!("preparing the data of {}", recipe.display()))?;
            let val = fledge::data::shards::TokenShards::open(&dir.join("shards"), "val")?;
            if !val.header.sets.contains_key(&args.on) {
                bail!(
                    "{}: no validation set \"{}\" (its sets: {:?}); give its sources `val_set = \"{}\"`, held out the same way in every recipe",
                    recipe.display(),
                    args.on,
                    val.header.sets.keys().collect::<Vec<_>>(),
                    args.on
                );
            }
            // The speedrun's own settings, so that a speedrun over this
            // folder finds its pretraining done.
            let settings = config.pretrain_settings(true);
            println!("== {name}: {steps} steps of {} tokens ==", args.batch * args.seq_len);
            fledge::train::run::train(&settings, true, stop.clone())?;
        }
        rows.push(measure(&name, &dir, &args.on, args.tokens)?);
    }
    print!("{}", table(&rows, &args));
    let chart = args.out.join("ablation.png");
    let series: Vec<Series> = rows
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(r, &color)| Series { points: r.points.clone(), color, marked: true })
        .collect();
    let legend = rows
        .iter()
        .zip(PALETTE_NAMES.iter().cycle())
        .map(|(r, c)| format!("{} ({c})", r.recipe))
        .collect::<Vec<_>>()
        .join(", ");
    let axes = AxisLabels { x: "millions of training tokens", y: "validation bits per byte" };
    line_chart(
        &series,
        axes,
        &format!("fledge ablate: {} validation bits per byte against millions of training tokens; {legend}", args.on),
        &chart,
    )
    .with_context(|| format!("writing {}", chart.display()))?;
    println!("\nThe curves: {} ({legend}).", chart.display());
    if stop.load(Ordering::Relaxed) {
        println!("\nStopped; run the same command again to resume.");
    }
    Ok(())
}

/// Reads a run's metrics: the last and best bits per byte on the set.
fn measure(name: &str, dir: &Path, set: &str, tokens: u64) -> Result<Row> {
    let unique_tokens =
        fledge::data::shards::TokenShards::open(&dir.join("shards"), "train").map(|s| s.num_tokens()).unwrap_or(0);
    let metrics_path = dir.join("train/metrics.jsonl");
    let metrics: Vec<Metric> = match std::fs::read_to_string(&metrics_path) {
        Ok(text) => text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect(),
        Err(_) => Vec::new(),
    };
    let evals: Vec<(u64, u64, f64)> =
        metrics.iter().filter_map(|m| Some((m.step, m.tokens, *m.val_sets.get(set)?))).collect();
    let seconds = fledge::train::checkpoint::latest(&dir.join("train"))
        .ok()
        .flatten()
        .and_then(|d| fledge::train::checkpoint::load(&d).ok())
        .and_then(|c| c.state)
        .map(|s| s.train_seconds)
        .unwrap_or(0.0);
    Ok(Row {
        recipe: name.to_string(),
        unique_tokens,
        steps: metrics.last().map(|m| m.step).unwrap_or(0),
        tokens: metrics.last().map(|m| m.tokens).unwrap_or(0),
        last: evals.last().map(|e| e.2),
        best: evals.iter().map(|e| (e.0, e.2)).min_by(|a, b| a.1.total_cmp(&b.1)),
        at_tokens: bpb_at(&evals, tokens),
        curve: CURVE_POINTS.iter().map(|p| bpb_at(&evals, (tokens as f64 * p) as u64)).collect(),
        points: evals.iter().map(|e| (e.1 as f64 / 1e6, e.2)).collect(),
        seconds,
    })
}

fn table(rows: &[Row], args: &AblateArgs) -> String {
    let budget = millions(args.tokens);
    let mut s = format!(
        "\n{} preset, {budget} tokens per recipe, bits per byte on the \"{}\" validation set:\n\n\
         | recipe | unique train tokens | epochs | trained tokens | bpb at {budget} | best bpb (step) | last bpb | train time |\n\
         |---|---|---|---|---|---|---|---|\n",
        args.preset, args.on,
    );
    let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.1} | {} ({} steps) | {} | {} | {} | {:.1} h |\n",
            r.recipe,
            millions(r.unique_tokens),
            r.tokens as f64 / r.unique_tokens.max(1) as f64,
            millions(r.tokens),
            r.steps,
            f(r.at_tokens),
            r.best.map(|(step, b)| format!("{b:.4} ({step})")).unwrap_or_else(|| "-".into()),
            f(r.last),
            r.seconds / 3600.0
        ));
    }
    // The curves side by side: where one recipe pulls ahead, and whether it
    // was still improving when the budget ran out.
    let points: Vec<String> = CURVE_POINTS.iter().map(|p| millions((args.tokens as f64 * p) as u64)).collect();
    s.push_str(&format!(
        "\nbits per byte along the run (first evaluation at or past each count):\n\n| recipe | {} |\n|---|{}\n",
        points.join(" | "),
        "---|".repeat(points.len())
    ));
    for r in rows {
        let cells: Vec<String> = r.curve.iter().map(|v| f(*v)).collect();
        s.push_str(&format!("| {} | {} |\n", r.recipe, cells.join(" | ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{bpb_at, millions, parse_tokens};

    #[test]
    fn token_counts_print_in_millions() {
        assert_eq!(millions(20_000_000), "20M");
        assert_eq!(millions(20_000_768), "20M");
        assert_eq!(millions(5_527_883), "5.53M");
        assert_eq!(millions(1_000_000), "1M");
        assert_eq!(millions(12_345_678), "12.3M");
    }

    #[test]
    fn the_curve_reads_the_first_evaluation_past_a_count() {
        let evals = [(250, 1_024_000, 1.5), (500, 2_048_000, 1.3), (750, 3_072_000, 1.2)];
        assert_eq!(bpb_at(&evals, 1_000_000), Some(1.5));
        assert_eq!(bpb_at(&evals, 2_048_000), Some(1.3));
        assert_eq!(bpb_at(&evals, 3_100_000), None);
    }

    #[test]
    fn token_counts_parse() {
        assert_eq!(parse_tokens("20M"), Ok(20_000_000));
        assert_eq!(parse_tokens("1.5m"), Ok(1_500_000));
        assert_eq!(parse_tokens("500k"), Ok(500_000));
        assert_eq!(parse_tokens("4096"), Ok(4096));
        assert!(parse_tokens("lots").is_err());
    }
}
