//! fledge's tokenizer.json, read by Hugging Face's Python `tokenizers`,
//! encodes held-out text to exactly the ids `fledge tokenizer encode` prints.
//!
//! Trains on the prepared Gutenberg children's corpus from ../shared/data and
//! compares 1,000 held-out paragraphs. Skips cleanly when ../shared, Python or
//! the package is missing, unless FLEDGE_REQUIRE_INTEROP=1 (as in CI).

mod common;

use std::path::Path;
use std::process::Command;

use fledge::data::prepare::{prepare, Recipe};

fn paragraphs(val_jsonl: &Path, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(val_jsonl).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for p in v["text"].as_str().unwrap().split('\n') {
            if !p.trim().is_empty() && out.len() < n {
                out.push(p.to_string());
            }
        }
    }
    out
}

#[test]
fn python_tokenizers_encodes_held_out_paragraphs_identically() {
    let Some(_) = common::shared_data() else {
        common::skip_or_fail("../shared/data is not beside the repository");
        return;
    };
    let probe = Command::new(common::python()).args(["-c", "import tokenizers"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        common::skip_or_fail("python3 with the `tokenizers` package is not installed (pip install tokenizers)");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let recipe = Recipe::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/children.toml")).unwrap();
    let corpus = dir.path().join("corpus");
    prepare(&recipe, &corpus).unwrap();

    let fledge = env!("CARGO_BIN_EXE_fledge");
    let tokenizer = dir.path().join("tokenizer.json");
    let status = Command::new(fledge)
        .args(["tokenizer", "train", "--vocab-size", "4096", "--input"])
        .arg(corpus.join("train.jsonl"))
        .arg("--out")
        .arg(&tokenizer)
        .status()
        .unwrap();
    assert!(status.success());

    let held_out = paragraphs(&corpus.join("val.jsonl"), 1000);
    assert_eq!(held_out.len(), 1000, "the validation split should hold 1,000 paragraphs");
    let input = dir.path().join("paragraphs.jsonl");
    let lines: Vec<String> = held_out.iter().map(|p| serde_json::json!({ "text": p }).to_string()).collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();

    let ours = Command::new(fledge)
        .args(["tokenizer", "encode", "--jsonl", "--tokenizer"])
        .arg(&tokenizer)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let ours: Vec<Vec<u32>> =
        String::from_utf8(ours.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();

    let theirs_path = dir.path().join("theirs.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/hf_tokenizers_encode.py");
    let status =
        Command::new(common::python()).arg(script).arg(&tokenizer).arg(&input).arg(&theirs_path).status().unwrap();
    assert!(status.success(), "the Python encoder failed");
    let theirs: Vec<serde_json::Value> =
        std::fs::read_to_string(&theirs_path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();

    assert_eq!(ours.len(), 1000);
    assert_eq!(theirs.len(), 1000);
    let mut tokens = 0;
    for (i, ((text, our_ids), their)) in held_out.iter().zip(&ours).zip(&theirs).enumerate() {
        let their_ids: Vec<u32> = serde_json::from_value(their["ids"].clone()).unwrap();
        assert_eq!(our_ids, &their_ids, "paragraph {i} encodes differently: {text:?}");
        assert_eq!(their["decoded"].as_str().unwrap(), text, "Python decodes paragraph {i} differently");
        tokens += our_ids.len();
    }
    eprintln!("1000 held-out paragraphs, {tokens} tokens: identical ids in fledge and Python tokenizers");
}
