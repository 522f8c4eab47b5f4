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

/// Runs `fledge ARGS` from the checkout (never from the build tree: a binary
/// used elsewhere finds the checkout that holds it, see
/// `fledge::project_file`) with `input` on its standard input.
fn fledge_with_input(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn chat_without_a_model_named_talks_with_the_shipped_one_within_seconds() {
    shipped();
    let started = Instant::now();
    let out = fledge_with_input(&["chat", "--max-tokens", "24", "--temperature", "0"], b"Who are you?\n/quit\n");
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

/// Q8_0 generation (`--quantize q8_0`) keeps the shipped model's
/// perplexity within 1% of f32 on a story it never saw (written here), and
/// `generate` and `chat` run with it.
#[test]
fn q8_0_generation_keeps_perplexity_within_one_percent() {
    let src = fledge::export::Source::load(&shipped()).unwrap();
    let story = "Once upon a time, a small brown hen named Petra lived on a farm near the hills. \
        Every morning she walked to the old stone well to look for seeds. One day she found a shiny blue button \
        in the grass. She did not know what it was, so she took it to her friend, a wise goat called Bruno. \
        Bruno looked at the button and laughed. \"That is from the farmer's coat,\" he said. \"He lost it \
        yesterday when he was fixing the fence.\" Petra wanted to help, so she carried the button to the farmhouse \
        and put it on the step. The next day the farmer found it and smiled. He gave Petra a big bowl of corn, \
        and she shared it with Bruno. From that day on, Petra always looked for lost things to give back.";
    let tokens = src.tokenizer.encode(&story.repeat(3), false);
    let bos = src.tokenizer.eot_id();
    let q8 = fledge::generate::QuantizedWeights::new(&src.config, &src.params);
    let f32_ppl = fledge::bench::generator_perplexity(&src.config, &src.params, None, &tokens, 255, bos);
    let q8_ppl = fledge::bench::generator_perplexity(&src.config, &src.params, Some(&q8), &tokens, 255, bos);
    let change = q8_ppl / f32_ppl - 1.0;
    eprintln!("perplexity over {} tokens: f32 {f32_ppl:.4}, q8_0 {q8_ppl:.4} ({:+.3}%)", tokens.len(), 100.0 * change);
    assert!(change.abs() < 0.01, "q8_0 moved perplexity by {:.3}%", 100.0 * change);

    for args in [
        &["generate", "--quantize", "q8_0", "--max-tokens", "16", "--temperature", "0"][..],
        &["chat", "--quantize", "q8_0", "--max-tokens", "16", "--temperature", "0"][..],
    ] {
        let out = fledge_with_input(args, b"Tell me a story about a hen.\n/quit\n");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.split_whitespace().count() >= 3, "{args:?}: {stdout}");
    }
}
