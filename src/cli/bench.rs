//! `fledge bench`: throughput of each part, measured the way
//! ../shared/bench measures PyTorch's (training steps, generation, matrix
//! products, tokenization, retrieval, the server under load).
//!
//! `bench train --compare` puts fledge's training step beside PyTorch's
//! (../shared/bench/torch_reference.py: eager, `--bf16`, `--compile`,
//! `--compile --bf16`), in one run, rounds alternating so that the machine's
//! noise falls on all alike; the median of each, ratios, MFU against the
//! measured f32 and bf16 product peaks, and peak memory. fledge runs in f32
//! and, where the CPU has AVX512-BF16, in bf16 (`--precision bf16`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Tokenization throughput in MB/s, one thread and all threads.
    Tokenize {
        /// The tokenizer.json to measure (required).
        #[arg(long)]
        tokenizer: PathBuf,
        /// Text to encode (file or folder; a prepared jsonl works).
        #[arg(long)]
        input: PathBuf,
        /// Times the text is encoded (the median counts, min and max beside it).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Training throughput (tokens/s, MFU, peak memory), measured as ../shared/bench/torch_reference.py does.
    Train {
        /// Model preset (the bench's reference config by default).
        #[arg(long, default_value = "reference")]
        preset: String,
        /// Vocabulary size of the random model.
        #[arg(long, default_value_t = 4096)]
        vocab_size: usize,
        /// Sequences per step.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Tokens per sequence.
        #[arg(long, default_value_t = 256)]
        seq_len: usize,
        /// Steps timed (the median counts).
        #[arg(long, default_value_t = 33)]
        steps: usize,
        /// Steps run first and not timed.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Also run ../shared/bench/torch_reference.py (eager, --bf16, --compile, --compile --bf16) in
        /// alternating rounds and print the side-by-side table (reference config, batch 16 × 256 only;
        /// default: off).
        #[arg(long)]
        compare: bool,
        /// With --compare: rounds of every implementation.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// With --compare: the Python with torch (default: $FLEDGE_PYTHON, the test setup's
        /// ~/.cache/fledge/interop-venv, else python3).
        #[arg(long)]
        python: Option<PathBuf>,
        /// With --compare: the PyTorch reference script (default: ../shared/bench/torch_reference.py
        /// beside the checkout).
        #[arg(long)]
        torch_script: Option<PathBuf>,
        /// Matrix products of the step: auto (bf16 where it is faster: AMX, or AVX512-BF16 where a probe measures it 1.2x f32; else f32), f32 or
        /// bf16 (default: auto). --compare measures f32 and, where the CPU has it, bf16.
        #[arg(long, value_enum, default_value_t = fledge::model::Precision::Auto)]
        precision: fledge::model::Precision,
        /// Time the f32 step with each product library, gemm (used) and matrixmultiply (used before),
        /// taking turns step by step in one run, and print both with their ratio (default: off).
        #[arg(long)]
        matmul_libraries: bool,
    },
    /// Generation tokens/s at batch 1 (greedy, KV cache), as torch_reference.py infer measures; random
    /// weights of a preset, or a model; with --llama-cpp, llama.cpp on the same model side by side.
    Generate {
        /// Model preset of the random weights (without --model).
        #[arg(long, default_value = "reference")]
        preset: String,
        /// Vocabulary size of the random model (without --model).
        #[arg(long, default_value_t = 4096)]
        vocab_size: usize,
        /// Tokens generated per timed run.
        #[arg(long, default_value_t = 200)]
        gen: usize,
        /// A model to load instead of random weights (checkpoint, run or exported HF folder; default:
        /// none, random weights).
        #[arg(long)]
        model: Option<PathBuf>,
        /// The same model as a GGUF file: also time llama.cpp (through llama-cpp-python, see
        /// scripts/llama-cpp-check.sh) on it, alternating with fledge (default: none, fledge only).
        #[arg(long)]
        llama_cpp: Option<PathBuf>,
        /// Rounds of the side-by-side comparison.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Also time fledge in q8_0 (its weights quantized as the GGUF's Q8_0), beside f32 (default: f32 only).
        #[arg(long, value_enum, default_value_t, hide_default_value = true)]
        quantize: fledge::generate::Quantize,
        /// Held-out text: print its perplexity in f32 and (with --quantize q8_0) in Q8_0, windows of 255
        /// tokens (default: none).
        #[arg(long)]
        text: Option<PathBuf>,
    },
    /// Retrieval latency (p50/p95 per mode) over an index, asking the questions of a question set.
    Retrieval {
        /// The index to search (`fledge index add`).
        #[arg(long, default_value = "runs/fairytaleqa-rag/index")]
        index: PathBuf,
        /// The questions, one JSON object a line with a `question` field (`fledge index eval-set`).
        #[arg(long, default_value = "runs/fairytaleqa-rag/questions.jsonl")]
        questions: PathBuf,
        /// The sentence-embedding model of the index (default: found as `fledge index` finds it).
        #[arg(long)]
        embedder: Option<PathBuf>,
        /// How many questions to ask per mode.
        #[arg(long, default_value_t = 500)]
        queries: usize,
    },
    /// Load test of `fledge serve`: concurrent streaming clients on loopback (time to first token, tokens/s, errors, peak memory).
    Serve(super::serve::BenchServeArgs),
    /// Matrix-product GFLOP/s of the engine's matmul (the peak MFU is measured against).
    Matmul {
        /// The size of the square matrices multiplied (n × n by n × n).
        #[arg(long, default_value_t = 1024)]
        n: usize,
        /// Products timed (the best and the median are printed).
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        /// f32, or bf16 (bfloat16 inputs, f32 sums, on AMX tiles where the CPU has AMX; needs
        /// AVX512-BF16) (default: f32).
        #[arg(long, value_enum, default_value_t = fledge::model::Precision::F32)]
        dtype: fledge::model::Precision,
        /// Instead of square products, time every product shape of one
        /// training step of --preset at batch 16 × 256 (forward, dX, dW of
        /// each linear layer and the head) and print where the step's product time goes
        /// (default: off, square products).
        #[arg(long)]
        step_shapes: bool,
        /// With --step-shapes: the model preset (default: reference).
        #[arg(long, default_value = "reference")]
        preset: String,
    },
}

/// Runs one `fledge bench` command.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Serve(args) => super::serve::run_bench_serve(args),
        BenchCommand::Retrieval { index, questions, embedder, queries } => {
            super::rag::bench_retrieval(&index, embedder.as_deref(), &questions, queries)
        }
        BenchCommand::Tokenize { tokenizer, input, repeats } => {
            super::tokenizer::run_bench_tokenize(&tokenizer, &input, repeats)
        }
        BenchCommand::Train {
            preset,
            vocab_size,
            batch,
            seq_len,
            steps,
            warmup,
            compare,
            rounds,
            python,
            torch_script,
            precision,
            matmul_libraries,
        } => {
            if matmul_libraries {
                return run_matmul_libraries(&preset, vocab_size, batch, seq_len, steps, warmup);
            }
            if compare {
                if preset != "reference" || vocab_size != 4096 || batch != 16 || seq_len != 256 {
                    bail!("--compare measures the reference config at batch 16 × 256, as torch_reference.py trains it: drop --preset, --vocab-size, --batch and --seq-len");
                }
                return run_compare(rounds, steps, warmup, python.as_deref(), torch_script.as_deref());
            }
            run_bench_train(&preset, vocab_size, batch, seq_len, steps, warmup, precision)
        }
        BenchCommand::Generate { preset, vocab_size, gen, model, llama_cpp, rounds, quantize, text } => {
            let gguf = llama_cpp.as_deref();
            run_bench_generate(&preset, vocab_size, gen, model.as_deref(), gguf, rounds, quantize, text.as_deref())
        }
        BenchCommand::Matmul { n, repeats, dtype, step_shapes, preset } => {
            if step_shapes {
                return run_step_shapes(dtype, &preset, repeats);
            }
            println!("{}", serde_json::to_string(&fledge::bench::matmul_in(dtype, n, n, n, repeats)?)?);
            Ok(())
        }
    }
}

/// `bench matmul --step-shapes`: each product of a training step, its time
/// and GFLOP/s, and the step's total.
fn run_step_shapes(dtype: fledge::model::Precision, preset: &str, repeats: usize) -> Result<()> {
    let config = fledge::model::ModelConfig::preset(preset, 4096)?;
    let rows = 16 * 256;
    let times = fledge::bench::step_product_times(dtype, &config, rows, repeats)?;
    println!("{preset}, {rows} rows, {} products on {}:", dtype.resolve()?, fledge::bench::cpu_name());
    println!(
        "{:<18} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>9} {:>8} {:>9}",
        "product", "m", "k", "n", "tA", "tB", "count", "ms each", "GFLOP/s", "ms/step"
    );
    let mut total = 0.0;
    for t in &times {
        let per_step = t.median_ms * t.per_step as f64;
        total += per_step;
        let flag = |b: bool| if b { "T" } else { "" };
        println!(
            "{:<18} {:>5} {:>5} {:>5} {:>3} {:>3} {:>5} {:>9.3} {:>8.1} {:>9.1}",
            t.name,
            t.m,
            t.k,
            t.n,
            flag(t.trans_a),
            flag(t.trans_b),
            t.per_step,
            t.median_ms,
            t.gflops,
            per_step
        );
    }
    let flops: f64 = times.iter().map(|t| 2.0 * (t.m * t.k * t.n * t.per_step) as f64).sum();
    println!("products of one step: {total:.1} ms, {:.1} GFLOP/s overall", flops / total / 1e6);
    Ok(())
}

/// One implementation's figures from one round.
struct Measured {
    tokens_per_s: f64,
    rss_mb: f64,
}

/// The PyTorch variants, as torch_reference.py flags.
const TORCH_VARIANTS: [(&str, &[&str]); 4] = [
    ("PyTorch eager, f32", &[]),
    ("PyTorch eager, --bf16 (autocast)", &["--bf16"]),
    ("PyTorch --compile, f32", &["--compile"]),
    ("PyTorch --compile --bf16", &["--compile", "--bf16"]),
];

/// The Python to run the reference with: `--python`, `FLEDGE_PYTHON`, the
/// test setup's environment, or `python3`.
fn python(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("FLEDGE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/fledge/interop-venv/bin/python"));
    venv.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("python3"))
}

fn run_torch(python: &Path, script: &Path, flags: &[&str], steps: usize, warmup: usize) -> Result<Measured> {
    let threads = rayon::current_num_threads().to_string();
    let out = Command::new(python)
        .arg(script)
        .arg("train")
        .args(flags)
        .args(["--steps", &steps.to_string(), "--warmup", &warmup.to_string(), "--threads", &threads])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().rev().take(3).collect();
        bail!("{} train {}: failed: {}", script.display(), flags.join(" "), last.join(" | "));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON result printed")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok(Measured {
        tokens_per_s: v["tokens_per_s"].as_f64().context("no tokens_per_s")?,
        rss_mb: v["rss_mb"].as_f64().unwrap_or(f64::NAN),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn run_compare(
    rounds: usize,
    steps: usize,
    warmup: usize,
    python_path: Option<&Path>,
    script: Option<&Path>,
) -> Result<()> {
    let script = match script {
        Some(s) => s.to_path_buf(),
        None => fledge::project_file(Path::new("../shared/bench/torch_reference.py"))
            .context("../shared/bench/torch_reference.py not found beside the checkout; pass --torch-script")?,
    };
    let python = python(python_path);
    let probe = Command::new(&python).args(["-c", "import torch; print(torch.__version__)"]).output();
    let torch_version = match probe {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => bail!(
            "{} cannot import torch: install it (`python3 -m venv .venv && .venv/bin/pip install torch`) and pass \
             --python .venv/bin/python, or run `bash scripts/test.sh` once",
            python.display()
        ),
    };
    let config = fledge::model::ModelConfig::preset("reference", 4096)?;
    use fledge::model::Precision;
    let peak = fledge::bench::matmul(1024, 1024, 1024, 10);
    let bf16 = fledge::model::bf16::available();
    let peak_bf16 = if bf16 { Some(fledge::bench::matmul_in(Precision::Bf16, 1024, 1024, 1024, 10)?) } else { None };
    let precisions: Vec<Precision> = if bf16 { vec![Precision::F32, Precision::Bf16] } else { vec![Precision::F32] };
    let mut fledge_runs: Vec<Vec<f64>> = precisions.iter().map(|_| Vec::new()).collect();
    let mut torch_runs: Vec<Vec<Measured>> = TORCH_VARIANTS.iter().map(|_| Vec::new()).collect();
    let mut fledge_rss = 0f64;
    let mut flops_per_token = 0.0;
    for round in 1..=rounds.max(1) {
        for (i, &p) in precisions.iter().enumerate() {
            eprintln!("round {round} of {rounds}: fledge {p}");
            let r = fledge::bench::train(&config, 16, 256, steps.max(1), warmup, p)?;
            flops_per_token = r.flops_per_token;
            fledge_rss = fledge_rss.max(r.peak_rss_mb.unwrap_or(f64::NAN));
            fledge_runs[i].push(r.tokens_per_s);
        }
        for (i, (name, flags)) in TORCH_VARIANTS.iter().enumerate() {
            eprintln!("round {round} of {rounds}: {name}");
            torch_runs[i].push(run_torch(&python, &script, flags, steps, warmup)?);
        }
    }
    let fledge_tps: Vec<f64> = fledge_runs.iter().map(|r| median(r.clone())).collect();
    let mfu = |tps: f64, peak: f64| 100.0 * tps * flops_per_token / 1e9 / peak;
    let mfu_bf16 = |tps: f64| match &peak_bf16 {
        Some(p) => format!("{:.0}%", mfu(tps, p.gflops_best)),
        None => "-".into(),
    };
    println!(
        "Training step, reference config (5.8M parameters, batch 16 × 256), {} · {} threads · torch {torch_version} · \
         median of {rounds} rounds of {steps} steps (after {warmup} warm-up), alternating. MFU against the measured \
         product peaks (`fledge bench matmul --dtype`, n=1024): f32 {:.1} GFLOP/s{}.\n",
        fledge::bench::cpu_name(),
        rayon::current_num_threads(),
        peak.gflops_best,
        match &peak_bf16 {
            Some(p) => format!(", bf16 {:.1} GFLOP/s", p.gflops_best),
            None =>
                "; this CPU has no bfloat16 products in hardware, so fledge runs f32 only and --bf16 is emulated".into(),
        }
    );
    // One ratio column per fledge precision: fledge f32 / it, and fledge bf16 / it where it ran.
    let ratio_heads: String = precisions.iter().map(|p| format!(" fledge {p} / it |")).collect();
    let ratios = |tps: f64| -> String { fledge_tps.iter().map(|f| format!(" {:.2}x |", f / tps)).collect() };
    println!("| implementation | tokens/s |{ratio_heads} MFU (f32 peak) | MFU (bf16 peak) | peak memory |");
    println!("|---|---:|{}---:|---:|---:|", "---:|".repeat(precisions.len()));
    for (i, &p) in precisions.iter().enumerate() {
        let tps = fledge_tps[i];
        println!(
            "| fledge {p} (`fledge bench train --precision {p}`) | {tps:.0} |{} {:.0}% | {} | {fledge_rss:.0} MB |",
            ratios(tps),
            mfu(tps, peak.gflops_best),
            mfu_bf16(tps)
        );
    }
    for (i, (name, _)) in TORCH_VARIANTS.iter().enumerate() {
        let tps = median(torch_runs[i].iter().map(|m| m.tokens_per_s).collect());
        let rss = torch_runs[i].iter().map(|m| m.rss_mb).fold(0.0, f64::max);
        println!(
            "| {name} | {tps:.0} |{} {:.0}% | {} | {rss:.0} MB |",
            ratios(tps),
            mfu(tps, peak.gflops_best),
            mfu_bf16(tps)
        );
    }
    println!("\nEach round's tokens/s:");
    for (i, p) in precisions.iter().enumerate() {
        println!("  fledge {p}: {:?}", fledge_runs[i].iter().map(|t| t.round()).collect::<Vec<_>>());
    }
    for (i, (name, _)) in TORCH_VARIANTS.iter().enumerate() {
        println!("  {name}: {:?}", torch_runs[i].iter().map(|m| m.tokens_per_s.round()).collect::<Vec<_>>());
    }
    Ok(())
}

fn run_bench_train(
    preset: &str,
    vocab_size: usize,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
    precision: fledge::model::Precision,
) -> Result<()> {
    let config = fledge::model::ModelConfig::preset(preset, vocab_size)?;
    if seq_len > config.max_seq_len {
        bail!("--seq-len {seq_len} exceeds the preset's max_seq_len {}", config.max_seq_len);
    }
    let r = fledge::bench::train(&config, batch, seq_len, steps.max(1), warmup, precision)?;
    tracing::info!(precision = %r.precision, "matrix products in {}", r.precision);
    // MFU against the product peak of the precision the step ran in.
    let peak = fledge::bench::matmul_in(precision, 1024, 1024, 1024, 10)?;
    eprintln!(
        "train {preset} ({} products): {} params, batch {batch} x {seq_len}: median step {:.1} ms, {:.0} tokens/s, {:.1} GFLOP/s = {:.0}% of the measured {} matmul peak ({:.1} GFLOP/s, n=1024); loss {:.4} -> {:.4}; peak RSS {:.0} MB",
        r.precision,
        r.params,
        r.median_ms,
        r.tokens_per_s,
        r.achieved_gflops,
        100.0 * r.achieved_gflops / peak.gflops_best,
        peak.dtype,
        peak.gflops_best,
        r.loss_first,
        r.loss_last,
        r.peak_rss_mb.unwrap_or(f64::NAN)
    );
    let profile = fledge::model::profile::report();
    if !profile.is_empty() {
        let total: f64 = profile.iter().map(|p| p.1).sum();
        for (kind, secs) in &profile {
            eprintln!("  {kind:>14}: {secs:7.2} s  {:5.1}%", 100.0 * secs / total);
        }
    }
    let mut json = serde_json::to_value(&r)?;
    json["matmul_peak_gflops"] = serde_json::json!(peak.gflops_best);
    json["mfu"] = serde_json::json!(r.achieved_gflops / peak.gflops_best);
    println!("{json}");
    Ok(())
}

/// fledge's generation speed, and llama.cpp's on the same model when a GGUF
/// is given: rounds alternate between the two so that the machine's noise
/// falls on both alike.
/// Generation tokens/s at batch 1: fledge f32, fledge Q8_0 (with
/// `--quantize q8_0`) and llama.cpp on the same model's GGUF (with
/// `--llama-cpp`), alternating round by round so that each sees the same
/// machine; and perplexity on held-out text in f32 and Q8_0 (with `--text`).
#[allow(clippy::too_many_arguments)]
fn run_bench_generate(
    preset: &str,
    vocab_size: usize,
    gen: usize,
    model: Option<&Path>,
    gguf: Option<&Path>,
    rounds: usize,
    quantize: fledge::generate::Quantize,
    text: Option<&Path>,
) -> Result<()> {
    use fledge::generate::{Quantize, QuantizedWeights};
    let (config, params, label, tokenizer) = match model {
        Some(m) => {
            let (config, params, tokenizer) = super::chat::load_model(m)?;
            (config, params, m.display().to_string(), Some(tokenizer))
        }
        None => {
            let config = fledge::model::ModelConfig::preset(preset, vocab_size)?;
            let layout = fledge::model::ParamLayout::new(&config);
            let params = fledge::model::params::init_params(&config, &layout, 0);
            (config, params, format!("{preset} (random weights)"), None)
        }
    };
    let quantized = QuantizedWeights::for_option(quantize, &config, &params);
    let variants: Vec<(&str, Option<&QuantizedWeights>)> = match &quantized {
        Some(q) => vec![("f32", None), ("q8_0", Some(q))],
        None => vec![("f32", None)],
    };
    eprintln!("CPU: {} ({} threads)", fledge::bench::cpu_name(), rayon::current_num_threads());
    if let Some(q) = &quantized {
        let (q8, kept) = q.counts();
        eprintln!(
            "Q8_0: {q8} matrices, {:.1} MB; {kept} kept in f32 (rows not whole blocks of 32); all f32 weights: {:.1} MB",
            q.bytes() as f64 / 1e6,
            4.0 * params.len() as f64 / 1e6
        );
    }
    if let Some(path) = text {
        let tokenizer = tokenizer.as_ref().context("--text needs --model (random weights have no tokenizer)")?;
        let raw = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let tokens = tokenizer.encode(&raw, false);
        for (name, q) in &variants {
            let ppl = fledge::bench::generator_perplexity(&config, &params, *q, &tokens, 255, tokenizer.eot_id());
            eprintln!("perplexity of {} ({} tokens), {name}: {ppl:.4}", path.display(), tokens.len());
            println!(
                "{}",
                serde_json::json!({"text": path, "tokens": tokens.len(), "weights": name, "perplexity": ppl})
            );
        }
    }
    let python = std::env::var("FLEDGE_LLAMA_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/fledge/llama-venv/bin/python")
    });
    let script_in_checkout = Path::new("scripts/bench_llama_cpp.py");
    let script = fledge::project_file(script_in_checkout).unwrap_or_else(|| script_in_checkout.to_path_buf());
    let threads = rayon::current_num_threads();
    let mut rows = Vec::new();
    for round in 0..rounds.max(1) {
        let mut row = serde_json::json!({});
        let mut generated = gen;
        let mut last = 0.0f64;
        for (name, q) in &variants {
            let r = fledge::bench::generate_with(&config, &params, *q, gen);
            eprintln!(
                "round {}: fledge {name} {label}: {} params, {} tokens at batch 1 in {:.3} s: {:.0} tokens/s",
                round + 1,
                r.params,
                r.gen_tokens,
                r.median_s,
                r.tokens_per_s
            );
            generated = r.gen_tokens;
            last = r.tokens_per_s;
            let turn = fledge::bench::next_turn(&config, &params, *q);
            eprintln!(
                "round {}: fledge {name}: a chat's next turn, {} prompt tokens of which {} new: first token after {:.1} ms \
                 with the cache kept, {:.1} ms read again ({:.1}x)",
                round + 1,
                turn.prompt_tokens,
                turn.new_tokens,
                turn.kept_ms,
                turn.reread_ms,
                turn.reread_ms / turn.kept_ms
            );
            let mut value = serde_json::to_value(&r)?;
            value["next_turn"] = serde_json::to_value(&turn)?;
            row[if *name == "f32" { "fledge".to_string() } else { format!("fledge_{name}") }] = value;
        }
        if let Some(gguf) = gguf {
            let out = std::process::Command::new(&python)
                .arg(&script)
                .arg(gguf)
                .args(["--gen", &generated.to_string(), "--threads", &threads.to_string()])
                .output()
                .with_context(|| {
                    format!("running {python} (set FLEDGE_LLAMA_PYTHON, or run scripts/llama-cpp-check.sh once)")
                })?;
            if !out.status.success() {
                bail!("llama.cpp benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let l: serde_json::Value = serde_json::from_slice(&out.stdout).context("llama.cpp benchmark output")?;
            let tps = l["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
            // The last variant timed: Q8_0 when asked for, the GGUF's type.
            let best = if quantize == Quantize::Q8_0 { "fledge q8_0" } else { "fledge f32" };
            eprintln!(
                "round {}: llama.cpp {}: {tps:.0} tokens/s ({best}/llama.cpp {:.2}x)",
                round + 1,
                gguf.display(),
                last / tps
            );
            row["llama_cpp"] = l;
        }
        rows.push(row);
    }
    println!("{}", serde_json::to_string(&rows)?);
    Ok(())
}

/// `bench train --matmul-libraries`: the two f32 product libraries, step by step in one run.
fn run_matmul_libraries(
    preset: &str,
    vocab_size: usize,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
) -> Result<()> {
    let config = fledge::model::ModelConfig::preset(preset, vocab_size)?;
    let r = fledge::bench::train_matmul_libraries(&config, batch, seq_len, steps.max(1), warmup);
    let mut ratios = r.paired_ratios.clone();
    ratios.sort_by(f64::total_cmp);
    println!(
        "train {preset} (f32, {} params, batch {batch} x {seq_len}) on {}, {} threads, {} steps each, alternating:",
        r.params,
        fledge::bench::cpu_name(),
        rayon::current_num_threads(),
        steps.max(1)
    );
    for (library, ms) in &r.median_ms {
        println!("  {library:>14}: median step {ms:.1} ms, {:.0} tokens/s", r.tokens_per_step as f64 / (ms / 1e3));
    }
    println!(
        "  matrixmultiply / gemm step time, per adjacent pair: median {:.3} (range {:.3}-{:.3})",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}
