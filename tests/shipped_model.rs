//! The model shipped in `models/`: `fledge chat` and `fledge serve` use it
//! when no model is named, it answers at once, its files load as the
//! ecosystem loads them, and its card names every data source's license.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn shipped() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(fledge::SHIPPED_MODEL);
    assert!(dir.join("config.json").is_file(), "{} is missing: the repository ships a model", dir.display());
    dir
}

#[test]
fn chat_without_a_model_named_talks_with_the_shipped_one_within_seconds() {
    shipped();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["chat", "--max-tokens", "24", "--temperature", "0"])
        // From the checkout (never from the build tree: a binary used
        // elsewhere finds the checkout that holds it, see `fledge::project_file`).
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"Who are you?\n/quit\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer = stdout.lines().find_map(|l| l.strip_prefix("fledge> ")).unwrap_or_default();
    assert!(answer.split_whitespace().count() >= 2, "no answer: {stdout}");
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
}

#[test]
fn the_shipped_files_load_and_the_card_credits_every_source() {
    let dir = shipped();
    let (config, params, tok) = fledge::export::import::read_hf(&dir).unwrap();
    assert_eq!(params.len(), config.num_params());
    assert_eq!(tok.vocab_size(), config.vocab_size);
    let gguf: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    assert!(!gguf.is_empty(), "no GGUF file in {}", dir.display());
    for g in &gguf {
        let keys = fledge::export::gguf::read_back(g).unwrap();
        assert!(keys.iter().any(|k| k.contains("tokenizer.ggml.tokens")), "{}: {keys:?}", g.display());
    }
    let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for needle in ["TinyStories", "CDLA-Sharing-1.0", "babi", "FairytaleQA"] {
        assert!(card.to_lowercase().contains(&needle.to_lowercase()), "the card does not mention {needle}");
    }
    let total: u64 =
        std::fs::read_dir(&dir).unwrap().flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum();
    assert!(total < 100_000_000, "the shipped model takes {total} bytes");
}
