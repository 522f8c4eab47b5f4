//! `fledge train --engine torch`: PyTorch computes the run fledge drives.
//!
//! The same tiny model, shards and settings trained by fledge's engine and by
//! PyTorch (f32, CPU) give the same losses; a checkpoint of either scores the
//! same validation loss in the other and resumes in it; two processes under
//! torchrun (gloo) give one process's curve and resume after a kill; and a
//! Python without torch, or CUDA where there is none, are clear errors.
//!
//! Needs a Python with torch ($FLEDGE_PYTHON, see scripts/test.sh); skipped
//! without one unless FLEDGE_REQUIRE_INTEROP=1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use fledge::chat::sft::{SftSettings, SftSource};
use fledge::data::shards::{tokenize_corpus, TokenShards};
use fledge::model::{Engine, ModelConfig, Precision};
use fledge::tokenizer::Tokenizer;
use fledge::train::checkpoint;
use fledge::train::optim::AdamWConfig;
use fledge::train::run::{evaluate, read_metrics, train, train_with, EngineScorer, TrainSettings};
use fledge::train::torch::{TorchOptions, TorchWorker};

/// A Python with torch, or `None` (skipped).
fn torch_python() -> Option<PathBuf> {
    let python = common::python();
    let ok = Command::new(&python).args(["-c", "import torch, numpy"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        common::skip_or_fail(&format!("{python} cannot import torch and numpy"))?;
    }
    Some(PathBuf::from(python))
}

/// A tokenizer and shards from text the test writes.
fn tiny_data(dir: &Path) -> (PathBuf, PathBuf) {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let doc = |i: usize| {
        let text =
            format!("The fox {i} ran to the river. The bird {} sang in the tree, and the sun was warm.", i * 7 % 13);
        serde_json::json!({"text": text, "source": "t"}).to_string()
    };
    let lines: Vec<String> = (0..400).map(doc).collect();
    std::fs::write(corpus.join("train.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(corpus.join("val.jsonl"), lines[..40].join("\n")).unwrap();
    let texts = lines.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].to_string());
    let tok = Tokenizer::train(texts, 300, false).unwrap();
    let tok_path = dir.join("tokenizer.json");
    tok.save(&tok_path).unwrap();
    let shards = dir.join("shards");
    tokenize_corpus(&corpus, &tok, &shards, 1_000_000, 0.0).unwrap();
    (tok_path, shards)
}

/// 20 steps of a 2-layer model with grouped-query attention and an untied head.
fn settings(dir: &Path, tok: &Path, shards: &Path, out: &str) -> TrainSettings {
    let mut model = ModelConfig::preset("tiny", 300).unwrap();
    (model.d_model, model.n_heads, model.n_kv_heads, model.n_layers, model.ffn_hidden) = (32, 4, 2, 2, 64);
    model.tie_embeddings = false;
    let model_path = dir.join("model.toml");
    std::fs::write(&model_path, toml::to_string(&model).unwrap()).unwrap();
    TrainSettings {
        model_config: Some(model_path),
        data: shards.to_path_buf(),
        tokenizer: tok.to_path_buf(),
        out: dir.join(out),
        batch: 4,
        seq_len: 32,
        grad_accum: 2,
        steps: 20,
        warmup_steps: 3,
        lr: 3e-3,
        eval_every: 10,
        eval_batches: 2,
        checkpoint_every: 5,
        keep_checkpoints: 10,
        log_every: 1,
        sample_prompt: String::new(),
        ..Default::default()
    }
}

fn torch(python: &Path, nproc: usize) -> TorchOptions {
    TorchOptions { python: python.to_path_buf(), nproc, ..Default::default() }
}

/// (step, loss, val_loss) of each line of a run's metrics.
fn curve(out: &Path) -> Vec<(u64, f64, Option<f64>)> {
    read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| (m.step, m.loss.unwrap() as f64, m.val_loss))
        .collect()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// The largest relative difference of the training losses, step by step.
fn worst(a: &[(u64, f64, Option<f64>)], b: &[(u64, f64, Option<f64>)]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            assert_eq!(x.0, y.0);
            rel(x.1, y.1)
        })
        .fold(0.0, f64::max)
}

fn rewind(run: &Path, step: u64) {
    checkpoint::set_latest(run, &run.join(format!("step-{step:06}"))).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Validation loss of a checkpoint, by fledge's engine and by PyTorch: the
/// windows `train` scores when the shards have no named sets.
fn val_losses(ckpt: &Path, s: &TrainSettings, python: &Path) -> (f64, f64) {
    let loaded = checkpoint::load(ckpt).unwrap();
    let tok = Tokenizer::load(&s.tokenizer).unwrap();
    let val = TokenShards::open(&s.data, "val").unwrap();
    assert!(val.header.sets.is_empty(), "these shards have no named validation sets");
    let lengths = tok.token_byte_lengths();
    let mut engine = Engine::new(&loaded.config, s.batch, s.seq_len);
    let mut scorer = EngineScorer { engine: &mut engine, params: &loaded.params };
    let (fledge_loss, _) = evaluate(&mut scorer, &val, &lengths, s.eval_batches).unwrap();
    let layout = engine.layout.clone();
    let (m, v) = (loaded.m.unwrap(), loaded.v.unwrap());
    let mut worker = TorchWorker::start(
        &torch(python, 1),
        &loaded.config,
        &layout,
        (&loaded.params, &m, &v),
        loaded.state.unwrap().adam_step,
        AdamWConfig::default(),
        s.clip,
        (s.batch, s.seq_len),
    )
    .unwrap();
    let (torch_loss, _) = evaluate(&mut worker, &val, &lengths, s.eval_batches).unwrap();
    (fledge_loss, torch_loss)
}

#[test]
fn torch_engine_matches_fledge_and_their_checkpoints_interchange() {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    let stop = || Arc::new(AtomicBool::new(false));

    let a = settings(dir.path(), &tok, &shards, "fledge");
    train(&a, false, stop()).unwrap();
    let b = settings(dir.path(), &tok, &shards, "torch");
    train_with(&b, false, stop(), Some(torch(&python, 1))).unwrap();
    let (ca, cb) = (curve(&a.out), curve(&b.out));
    assert_eq!(ca.len(), 20);
    let (first, last) = (rel(cb[0].1, ca[0].1), rel(cb[19].1, ca[19].1));
    eprintln!(
        "fledge vs torch: step-1 loss {} vs {} (rel {first:.2e}); step-20 {} vs {} (rel {last:.2e})",
        ca[0].1, cb[0].1, ca[19].1, cb[19].1
    );
    assert!(first <= 1e-5, "step 1: {first:e}");
    assert!(last <= 1e-3, "step 20: {last:e}");
    assert!(worst(&ca, &cb) <= 1e-3, "every step within 1e-3");
    let (va, vb) = (ca[19].2.unwrap(), cb[19].2.unwrap());
    assert!(rel(vb, va) <= 1e-3, "val loss at step 20: {va} vs {vb}");
    // A checkpoint the torch engine wrote records where it was trained.
    let state = checkpoint::load_state(&b.out.join("step-000020")).unwrap().unwrap();
    assert!(state.hardware.unwrap().starts_with("torch "), "hardware names torch");
    assert_eq!((state.step, state.adam_step, state.micro_batches), (20, 20, 40));

    // Either engine's checkpoint scores the same validation loss in the other.
    for (s, ckpt) in [(&a, a.out.join("step-000020")), (&b, b.out.join("step-000020"))] {
        let (by_fledge, by_torch) = val_losses(&ckpt, s, &python);
        eprintln!(
            "{}: val loss by fledge {by_fledge}, by torch {by_torch} (rel {:.2e})",
            ckpt.display(),
            rel(by_torch, by_fledge)
        );
        assert!(rel(by_torch, by_fledge) <= 1e-5, "{}: {by_fledge} vs {by_torch}", ckpt.display());
        let recorded = curve(&s.out)[19].2.unwrap();
        assert!(rel(recorded, by_fledge) <= 1e-5, "the run recorded {recorded}");
    }

    // A run moves between engines at a checkpoint: fledge's step 10 resumed
    // by torch, and torch's by fledge, end where the run would have.
    let c = TrainSettings { out: dir.path().join("fledge-then-torch"), ..a.clone() };
    copy_dir(&a.out, &c.out);
    rewind(&c.out, 10);
    train_with(&c, true, stop(), Some(torch(&python, 1))).unwrap();
    let d = TrainSettings { out: dir.path().join("torch-then-fledge"), ..b.clone() };
    copy_dir(&b.out, &d.out);
    rewind(&d.out, 10);
    train(&d, true, stop()).unwrap();
    let (cc, cd) = (curve(&c.out), curve(&d.out));
    eprintln!("resumed in the other engine: worst rel {:.2e}, {:.2e}", worst(&cc, &ca), worst(&cd, &cb));
    assert!(worst(&cc, &ca) <= 1e-3 && worst(&cd, &cb) <= 1e-3);
    assert_eq!(cc[..10], ca[..10], "the steps before the checkpoint are kept as they were");
}

#[test]
fn fine_tuning_on_torch_matches_fledge() {
    // Packed conversations (attention within each), loss on the answers only,
    // pretraining windows mixed in, and a base model to start from.
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    let stop = || Arc::new(AtomicBool::new(false));
    let base = settings(dir.path(), &tok, &shards, "base");
    train(&TrainSettings { steps: 10, ..base.clone() }, false, stop()).unwrap();
    let chat = dir.path().join("qa");
    std::fs::create_dir_all(&chat).unwrap();
    let line = |i: usize| {
        let (who, place) = (["The fox", "The bird"][i % 2], ["the river", "the tree"][i * 7 % 3 % 2]);
        serde_json::json!({"messages": [
            {"role": "context", "content": format!("{who} {i} ran to {place}.")},
            {"role": "user", "content": format!("{who} {i} ran to?")},
            {"role": "assistant", "content": place},
        ]})
        .to_string()
    };
    let lines: Vec<String> = (0..60).map(line).collect();
    std::fs::write(chat.join("train.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(chat.join("val.jsonl"), lines[..6].join("\n")).unwrap();
    let sft = |out: &str| SftSettings {
        base: base.out.clone(),
        out: dir.path().join(out),
        sources: vec![SftSource { path: chat.clone(), weight: 1.0 }],
        pretrain: Some(shards.clone()),
        pretrain_fraction: 0.25,
        seq_len: 128,
        batch: 4,
        grad_accum: 2,
        steps: 12,
        lr: 3e-3,
        warmup_steps: 2,
        eval_every: 6,
        checkpoint_every: 6,
        log_every: 1,
        val_per_source: 6,
        ..Default::default()
    };
    let (a, b) = (sft("sft-fledge"), sft("sft-torch"));
    fledge::chat::sft::sft(&a, false, stop()).unwrap();
    fledge::chat::sft::sft_with(&b, false, stop(), Some(torch(&python, 1))).unwrap();
    let (ca, cb) = (curve(&a.out), curve(&b.out));
    assert_eq!(ca.len(), 12);
    let (first, all) = (rel(cb[0].1, ca[0].1), worst(&ca, &cb));
    eprintln!(
        "fine-tuning, fledge vs torch: step-1 loss {} vs {} (rel {first:.2e}); worst step rel {all:.2e}",
        ca[0].1, cb[0].1
    );
    assert!(first <= 1e-5, "step 1: {first:e}");
    assert!(all <= 1e-3, "every step within 1e-3: {all:e}");
    let (va, vb) = (ca[11].2.unwrap(), cb[11].2.unwrap());
    assert!(rel(vb, va) <= 1e-3, "val loss at step 12: {va} vs {vb}");
}

fn fledge_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fledge"))
}

fn train_args(s: &TrainSettings, python: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--engine", "torch", "--python"].iter().map(|x| x.to_string()).collect();
    args.push(python.display().to_string());
    for (flag, value) in [
        ("--model-config", s.model_config.as_ref().unwrap().display().to_string()),
        ("--data", s.data.display().to_string()),
        ("--tokenizer", s.tokenizer.display().to_string()),
        ("--out", s.out.display().to_string()),
        ("--batch", s.batch.to_string()),
        ("--seq-len", s.seq_len.to_string()),
        ("--grad-accum", s.grad_accum.to_string()),
        ("--steps", s.steps.to_string()),
        ("--warmup-steps", s.warmup_steps.to_string()),
        ("--lr", s.lr.to_string()),
        ("--eval-every", s.eval_every.to_string()),
        ("--eval-batches", s.eval_batches.to_string()),
        ("--checkpoint-every", s.checkpoint_every.to_string()),
    ] {
        args.push(flag.into());
        args.push(value);
    }
    args
}

#[test]
fn two_processes_under_torchrun_match_one_and_resume_after_a_kill() {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    // Settings as in the other test, without sample text (the CLI's default
    // prompt would be continued at each evaluation otherwise).
    let config = dir.path().join("train.toml");
    std::fs::write(&config, "sample_prompt = \"\"\nkeep_checkpoints = 10\nlog_every = 1\n").unwrap();

    let one = settings(dir.path(), &tok, &shards, "one");
    train_with(&one, false, Arc::new(AtomicBool::new(false)), Some(torch(&python, 1))).unwrap();

    let two = settings(dir.path(), &tok, &shards, "two");
    let run = |extra: &[&str]| {
        let mut cmd = fledge_bin();
        cmd.args(train_args(&two, &python)).args(["--config", config.to_str().unwrap(), "--nproc", "2"]).args(extra);
        cmd
    };
    let out = run(&[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state = checkpoint::load_state(&two.out.join("step-000020")).unwrap().unwrap();
    assert!(state.hardware.as_deref().unwrap().ends_with("x 2 processes"), "{:?}", state.hardware);
    let (c1, c2) = (curve(&one.out), curve(&two.out));
    eprintln!("1 vs 2 processes: worst per-step relative loss difference {:.2e}", worst(&c1, &c2));
    assert!(worst(&c1, &c2) <= 1e-5);

    // Killed (SIGKILL, no chance to save) once a checkpoint is written and
    // before the end; resumed, the curve is the uninterrupted one's.
    let killed = TrainSettings { out: dir.path().join("killed"), ..two.clone() };
    let mut child = {
        let mut cmd = fledge_bin();
        cmd.args(train_args(&killed, &python)).args(["--config", config.to_str().unwrap(), "--nproc", "2"]);
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
    };
    let latest = killed.out.join("latest.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !latest.exists() && std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = checkpoint::load_state(&checkpoint::latest(&killed.out).unwrap().unwrap()).unwrap().unwrap().step;
    eprintln!("killed with the checkpoint of step {at_kill} written");
    assert!(at_kill < 20, "the run was killed before its end");
    let mut cmd = fledge_bin();
    cmd.args(train_args(&killed, &python)).args(["--config", config.to_str().unwrap(), "--nproc", "2", "--resume"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ck = curve(&killed.out);
    eprintln!("killed and resumed vs uninterrupted: worst {:.2e}", worst(&ck, &c2));
    assert!(worst(&ck, &c2) <= 1e-5);
}

#[test]
fn missing_torch_and_missing_cuda_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let common_args = ["train", "--engine", "torch", "--out", dir.path().to_str().unwrap()];
    // A Python without torch: /usr/bin/python3 here, or one that does not exist.
    let bare = ["/usr/bin/python3", "/nonexistent/python3"]
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import torch"]).output().is_ok_and(|o| !o.status.success()))
        .unwrap_or("/nonexistent/python3");
    let out_dir = dir.path().to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &common_args,
        &["sft", "--engine", "torch", "--out", out_dir],
        &["speedrun", "--engine", "torch", "--out", out_dir],
    ];
    for python in [bare, "/nonexistent/python3"] {
        for command in commands {
            let out = fledge_bin().args(command).args(["--python", python]).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success());
            assert!(err.contains(python) && err.contains("pip install torch"), "{command:?}: {err}");
        }
    }
    // Nothing was started or written before the check.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // Torch flags without the torch engine.
    let out = fledge_bin().args(["train", "--nproc", "2"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--engine torch"));

    let Some(python) = torch_python() else { return };
    // Shards made with another tokenizer.
    let (_, shards) = tiny_data(&dir.path().join("a"));
    let other = Tokenizer::train(["a different text for a different tokenizer"].into_iter(), 280, false).unwrap();
    let other_path = dir.path().join("other.json");
    other.save(&other_path).unwrap();
    let out = fledge_bin()
        .args(common_args)
        .args(["--python", python.to_str().unwrap(), "--data", shards.to_str().unwrap()])
        .args(["--tokenizer", other_path.to_str().unwrap(), "--preset", "tiny"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let header = shards.join("train.json");
    assert!(
        err.contains(header.to_str().unwrap())
            && err.contains("made with tokenizer")
            && err.contains("fledge data tokenize"),
        "{err}"
    );
    let has_cuda = Command::new(&python)
        .args(["-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"])
        .status()
        .unwrap()
        .success();
    if !has_cuda {
        let out = fledge_bin()
            .args(common_args)
            .args(["--python", python.to_str().unwrap(), "--device", "cuda"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("--device cuda") && err.contains("no CUDA device") && err.contains("--device cpu"),
            "{err}"
        );
    }
}

#[test]
fn packed_documents_score_the_same_in_both_engines() {
    // Fine-tuning and mid-training pack several documents into a row: a
    // position attends only within its own document.
    let Some(python) = torch_python() else { return };
    let mut config = ModelConfig::preset("tiny", 300).unwrap();
    (config.d_model, config.n_heads, config.n_kv_heads, config.n_layers, config.ffn_hidden) = (32, 4, 2, 2, 64);
    let layout = fledge::model::ParamLayout::new(&config);
    let params = fledge::model::params::init_params(&config, &layout, 7);
    let (batch, t) = (2, 16);
    let inputs: Vec<u32> = (0..(batch * t) as u32).map(|i| i * 37 % 300).collect();
    let mut targets: Vec<u32> = inputs.iter().map(|i| (i + 1) % 300).collect();
    targets[5] = fledge::model::kernels::IGNORE;
    // Row 0: documents at 0, 6 and 11; row 1: one document.
    let starts: Vec<u32> = (0..t as u32)
        .map(|i| {
            if i < 6 {
                0
            } else if i < 11 {
                6
            } else {
                11
            }
        })
        .chain(vec![0; t])
        .collect();
    let mut engine = Engine::new(&config, batch, t);
    let mut scorer = EngineScorer { engine: &mut engine, params: &params };
    let zeros = vec![0.0; layout.total];
    let mut worker = TorchWorker::start(
        &torch(&python, 1),
        &config,
        &layout,
        (&params, &zeros, &zeros),
        0,
        AdamWConfig::default(),
        1.0,
        (batch, t),
    )
    .unwrap();
    use fledge::train::run::Scorer;
    for segments in [Some(starts.as_slice()), None] {
        let by_fledge = scorer.losses(&inputs, &targets, segments).unwrap();
        let by_torch = worker.losses(&inputs, &targets, segments).unwrap();
        assert_eq!(by_torch[5], 0.0, "an ignored target scores 0");
        for (i, (a, b)) in by_fledge.iter().zip(&by_torch).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                "position {i}: {a} vs {b} (segments: {})",
                segments.is_some()
            );
        }
    }
    // The packing matters: the same rows scored unpacked differ after the first document.
    let packed = worker.losses(&inputs, &targets, Some(&starts)).unwrap();
    let plain = worker.losses(&inputs, &targets, None).unwrap();
    assert_eq!(packed[..6], plain[..6]);
    assert!((packed[7] - plain[7]).abs() > 1e-6);
}

#[test]
fn two_machines_meeting_at_an_endpoint_match_one_process() {
    // Two "machines" on this host: node 1 has no data, only its process.
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    let config = dir.path().join("train.toml");
    std::fs::write(&config, "sample_prompt = \"\"\nkeep_checkpoints = 10\nlog_every = 1\n").unwrap();
    let s =
        TrainSettings { steps: 6, eval_every: 3, checkpoint_every: 3, ..settings(dir.path(), &tok, &shards, "one") };
    train_with(&s, false, Arc::new(AtomicBool::new(false)), Some(torch(&python, 1))).unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("127.0.0.1:{port}");
    let node = |rank: &str| {
        let mut cmd = fledge_bin();
        cmd.args(["train", "--engine", "torch", "--python", python.to_str().unwrap(), "--nnodes", "2"]);
        cmd.args(["--node-rank", rank, "--rdzv-endpoint", &endpoint]);
        cmd
    };
    let piped = std::process::Stdio::piped;
    let follower = node("1").current_dir(dir.path()).stdout(piped()).stderr(piped()).spawn().unwrap();
    let nodes = TrainSettings { out: dir.path().join("nodes"), ..s.clone() };
    // `train_args` without its first five: train --engine torch --python PATH.
    let lead = node("0").args(&train_args(&nodes, &python)[5..]).args(["--config", config.to_str().unwrap()]).output();
    let (lead, follower) = (lead.unwrap(), follower.wait_with_output().unwrap());
    assert!(lead.status.success(), "{}", String::from_utf8_lossy(&lead.stderr));
    assert!(follower.status.success(), "{}", String::from_utf8_lossy(&follower.stderr));
    assert!(!dir.path().join("runs").exists(), "node 1 wrote nothing");
    let state = checkpoint::load_state(&nodes.out.join("step-000006")).unwrap().unwrap();
    assert!(state.hardware.as_deref().unwrap().ends_with("x 2 processes"), "{:?}", state.hardware);
    let worst = worst(&curve(&s.out), &curve(&nodes.out));
    eprintln!("2 nodes vs 1 process: worst {worst:.2e}");
    assert!(worst <= 1e-5);
}

#[test]
fn bf16_autocast_on_torch_follows_f32_and_is_recorded() {
    // `--precision bf16` with the torch engine is autocast: products in
    // bfloat16, weights and AdamW in f32. `auto` on a CPU stays f32.
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    let stop = || Arc::new(AtomicBool::new(false));
    let run = |out: &str, precision| {
        let s = TrainSettings { precision, steps: 8, ..settings(dir.path(), &tok, &shards, out) };
        train_with(&s, false, stop(), Some(torch(&python, 1))).unwrap();
        let state = checkpoint::load_state(&s.out.join("step-000008")).unwrap().unwrap();
        (curve(&s.out), state.precision)
    };
    let (f32_curve, f32_recorded) = run("f32", Precision::F32);
    let (auto_curve, auto_recorded) = run("auto", Precision::Auto);
    let (bf16_curve, bf16_recorded) = run("bf16", Precision::Bf16);
    assert_eq!(
        (f32_recorded, auto_recorded, bf16_recorded),
        (Some(Precision::F32), Some(Precision::F32), Some(Precision::Bf16))
    );
    assert_eq!(auto_curve, f32_curve, "auto on a CPU is f32");
    let (a, b) = (f32_curve[7].1, bf16_curve[7].1);
    eprintln!("step-8 loss: f32 {a}, bf16 autocast {b} (rel {:.2e})", rel(b, a));
    assert!(rel(b, a) <= 0.02 && a != b, "bf16 follows f32 closely, and is not f32");
}

#[test]
fn ctrl_c_saves_the_torch_weights_and_stops() {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (tok, shards) = tiny_data(dir.path());
    let config = dir.path().join("train.toml");
    std::fs::write(&config, "sample_prompt = \"\"\nlog_every = 1\n").unwrap();
    let s = TrainSettings { steps: 100_000, eval_every: 1000, ..settings(dir.path(), &tok, &shards, "run") };
    let child = fledge_bin()
        .args(train_args(&s, &python))
        .args(["--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while !s.out.join("latest.json").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Ctrl-C reaches fledge (the trainer runs in its own process group).
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Stopped after"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = curve(&s.out).last().unwrap().0;
    let latest = checkpoint::latest(&s.out).unwrap().unwrap();
    assert_eq!(checkpoint::load_state(&latest).unwrap().unwrap().step, last, "saved at the step it stopped");
    assert!(last < 100_000);
}
