//! `fledge bench train --compare`: fledge's training step beside PyTorch's
//! (../shared/bench/torch_reference.py: eager, `--bf16`, `--compile`,
//! `--compile --bf16`), in one run, rounds alternating so that the machine's
//! noise falls on all alike; the median of each, ratios, MFU against the
//! measured f32 and bf16 product peaks, and peak memory. fledge runs in f32
//! and, where the CPU has AVX512-BF16, in bf16 (`--precision bf16`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

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

pub fn run_compare(
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
