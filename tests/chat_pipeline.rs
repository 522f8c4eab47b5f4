//! The chat stage end to end on a tiny model: pretrain a few steps, convert
//! the identity set, fine-tune (and resume), evaluate, and chat through the
//! REPL with piped input; plus the errors a user meets on bad chat input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn fledge(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).current_dir(cwd).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The REPL on the model in `d/sft`, fed `script` on standard input; its standard output.
fn chat_repl(d: &Path, script: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["chat", "--model", "sft", "--max-tokens", "6", "--temperature", "0"])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    ok(&child.wait_with_output().unwrap())
}

/// In `d`: the sample recipe's shards (`sr`), a base model pretrained for
/// `steps` steps (`base`) and the identity conversations (`chat`); the
/// conversion's table.
fn tiny_base_and_identity_set(d: &Path, steps: &str) -> String {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/sample.toml");
    ok(&fledge(
        &["speedrun", "--recipe", sample.to_str().unwrap(), "--out", "sr", "--vocab-size", "300", "--until", "shards"],
        d,
    ));
    ok(&fledge(
        &["train", "--data", "sr/shards", "--tokenizer", "sr/tokenizer/tokenizer.json", "--out", "base"]
            .into_iter()
            .chain(["--steps", steps, "--batch", "2", "--seq-len", "32", "--eval-every", steps, "--eval-batches", "1"])
            .collect::<Vec<_>>(),
        d,
    ));
    ok(&fledge(&["data", "chat", "--source", "identity", "--out", "chat"], d))
}

#[test]
fn pretrain_sft_resume_eval_and_chat_on_a_tiny_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = tiny_base_and_identity_set(d, "4");
    assert!(table.contains("identity"), "{table}");

    let sft = |steps: &str, resume: bool| {
        let mut args = vec!["sft", "--base", "base", "--source", "chat/identity:2", "--out", "sft", "--seed", "7"];
        args.extend([
            "--steps",
            steps,
            "--batch",
            "2",
            "--seq-len",
            "96",
            "--eval-every",
            "2",
            "--checkpoint-every",
            "2",
        ]);
        args.extend(["--pretrain", "sr/shards", "--pretrain-fraction", "0.2"]);
        if resume {
            args.push("--resume");
        }
        fledge(&args, d)
    };
    let out = ok(&sft("2", false));
    assert!(out.contains("Fine-tuned 2 steps"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sft/sft-data.json")).unwrap()).unwrap();
    // With a 300-token vocabulary many identity conversations exceed 96
    // tokens: they are cut or dropped, and counted.
    let src = &report["sources"][0];
    assert!(src["conversations"].as_u64().unwrap() > 0);
    assert!(src["conversations"].as_u64().unwrap() + src["dropped"].as_u64().unwrap() > 100, "{src}");
    // The chat model answers to its base model's data licenses and its conversations'.
    let state = std::fs::read_to_string(d.join("sft/step-000002/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let sources: Vec<&str> =
        state["data_licenses"].as_array().unwrap().iter().map(|l| l["source"].as_str().unwrap()).collect();
    assert_eq!(sources, ["fledge-sample", "identity"], "{state}");
    assert_eq!(state["settings"]["seed"], 7, "--seed reaches the plan: {state}");
    // The chat model's window is at least the fine-tuning length.
    let config = fledge::model::ModelConfig::load(&d.join("sft/step-000002/model.toml")).unwrap();
    assert!(config.max_seq_len >= 96);
    // Running again without --resume refuses to overwrite; with it, continues.
    assert!(!sft("4", false).status.success());
    let out = ok(&sft("4", true));
    assert!(out.contains("Fine-tuned 4 steps"), "{out}");

    let table = ok(&fledge(
        &["eval", "--model", "sft", "--data", "chat", "--qa", "identity", "--chat", "identity", "--limit", "3"]
            .into_iter()
            .chain(["--max-tokens", "8", "--out", "ev"])
            .collect::<Vec<_>>(),
        d,
    ));
    assert!(table.contains("| identity | 3 |"), "{table}");
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("ev/eval.json")).unwrap()).unwrap();
    assert_eq!(ev["qa"][0]["scored"], 3);

    std::fs::write(d.join("doc.txt"), "The cat sat in the kitchen.").unwrap();
    let transcript =
        chat_repl(d, "hello\n/context doc.txt\nwhere is the cat?\n/context missing.txt\n/reset\n/system be kind\nhi\n");
    assert_eq!(transcript.matches("fledge> ").count(), 3, "{transcript}");
    assert!(transcript.contains("(answering from doc.txt"), "{transcript}");
    assert!(transcript.contains("missing.txt"), "{transcript}");
    assert!(transcript.contains("(conversation cleared"), "{transcript}");

    // Grounded answers: `ask`, and `/rag on` in the REPL, over a BM25-only index.
    ok(&fledge(&["index", "add", "doc.txt", "--index", "idx", "--no-embeddings"], d));
    let answer = ok(&fledge(&["ask", "where is the cat?", "--model", "sft", "--index", "idx", "--max-tokens", "6"], d));
    assert!(answer.contains("Sources:\n  [1] doc.txt:1"), "{answer}");
    let transcript = chat_repl(d, "/rag on idx\nwhere is the cat?\n/rag off\nhi\n/rag on nowhere\n");
    assert!(transcript.contains("(retrieval on: 1 documents in idx)"), "{transcript}");
    assert_eq!(transcript.matches("Sources:").count(), 1, "{transcript}");
    assert!(transcript.contains("(retrieval off)") && transcript.contains("nowhere"), "{transcript}");
}

#[test]
fn bad_conversations_name_the_line_and_skip_only_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;
    std::fs::write(
        d.join("c.jsonl"),
        format!("{good}\n{{\"messages\": [{{\"role\": \"bot\", \"content\": \"x\"}}]}}\n"),
    )
    .unwrap();
    let o = fledge(&["sft", "--base", "nowhere", "--source", "c.jsonl"], d);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nowhere"), "{err}");
    // The line error is reported by the reader every consumer shares.
    let e = fledge::chat::template::read_jsonl(&d.join("c.jsonl"), false).unwrap_err().to_string();
    assert!(e.contains("c.jsonl:2:") && e.contains("--skip-bad"), "{e}");
    let o = fledge(&["data", "chat", "--source", "babi", "--input", "no/such/dir"], d);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/dir"));
}

/// `--decay-to-base`: fine-tuning pulled toward the base model's weights
/// ends nearer them than the same run without the pull, and resumes
/// exactly (the pull's target is the base, read again on resume).
#[test]
fn fine_tuning_pulled_toward_the_base_stays_nearer_it_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tiny_base_and_identity_set(d, "2");
    let sft = |out: &str, decay: &str, steps: &str, resume: bool| {
        let mut args = vec!["sft", "--base", "base", "--source", "chat/identity", "--out", out, "--lr", "0.003"];
        args.extend(["--decay-to-base", decay, "--steps", steps, "--batch", "2", "--seq-len", "96"]);
        args.extend(["--eval-every", "3", "--checkpoint-every", "3", "--precision", "f32"]);
        if resume {
            args.push("--resume");
        }
        ok(&fledge(&args, d))
    };
    sft("free", "0", "6", false);
    sft("pulled", "300", "6", false);
    sft("resumed", "300", "3", false);
    sft("resumed", "300", "6", true);

    let weights = |run: &str| {
        let latest = fledge::train::checkpoint::latest(&d.join(run)).unwrap().unwrap();
        fledge::train::checkpoint::load(&latest).unwrap().params
    };
    let base = weights("base");
    let distance = |p: &[f32]| p.iter().zip(&base).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
    let (free, pulled) = (distance(&weights("free")), distance(&weights("pulled")));
    assert!(pulled > 0.0, "the pulled run still learns");
    assert!(pulled < 0.8 * free, "pulled {pulled} against free {free}");
    assert_eq!(weights("resumed"), weights("pulled"), "resumed at step 3, the run ends where the unbroken one did");

    let err = fledge(&["sft", "--base", "base", "--source", "chat/identity", "--out", "bad", "--decay-to-base=-1"], d);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("decay_to_base"), "{}", String::from_utf8_lossy(&err.stderr));
    assert!(!d.join("bad").exists(), "refused before anything is written");
}
