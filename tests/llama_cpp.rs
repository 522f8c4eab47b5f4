//! llama.cpp runs fledge's GGUF export: the same greedy continuations as
//! fledge from the f32 file, held-out perplexity within 1% from the Q8_0
//! file, the same tokenization, and batch-1 speed side by side.
//!
//! llama.cpp comes from `llama-cpp-python`, which compiles it (minutes on 2
//! cores), so this test is not part of CI: `bash scripts/llama-cpp-check.sh`
//! installs it into ~/.cache/fledge/llama-venv and runs this test. Without
//! it, the test skips. FLEDGE_LLAMA_MODEL picks a trained model to check
//! (default: random weights of the reference shape).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::server::random_model;
use fledge::export::Source;
use fledge::generate::{generate, Generator, SamplingOptions};
use serde_json::{json, Value};

fn llama_python() -> Option<PathBuf> {
    let p = match std::env::var_os("FLEDGE_LLAMA_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/fledge/llama-venv/bin/python"),
    };
    let ok = Command::new(&p).args(["-c", "import llama_cpp"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(p)
}

/// Mean negative log-likelihood of each next token, as perplexity.
fn perplexity(src: &Source, ids: &[u32]) -> f64 {
    let mut g = Generator::new(&src.config, &src.params);
    let mut nll = 0.0;
    for w in ids.windows(2) {
        let logits = g.step(w[0]);
        let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
        nll -= logits[w[1] as usize] as f64 - max - sum.ln();
    }
    (nll / (ids.len() - 1) as f64).exp()
}

#[test]
fn llama_cpp_runs_the_gguf_export_like_fledge() {
    let Some(python) = llama_python() else {
        eprintln!(
            "SKIPPED: llama-cpp-python is not installed (bash scripts/llama-cpp-check.sh installs it and runs this)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = match std::env::var_os("FLEDGE_LLAMA_MODEL") {
        Some(m) => PathBuf::from(m),
        None => random_model(dir.path(), "m", true),
    };
    let out = dir.path().join("exported");
    let status = Command::new(env!("CARGO_BIN_EXE_fledge"))
        .args(["export", "--model", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "--name", "check"])
        .args(["--format", "gguf", "--gguf-type", "f32,q8_0"])
        .status()
        .unwrap();
    assert!(status.success());
    let src = Source::load(&model).unwrap();
    let tok = &src.tokenizer;

    let texts = ["Once upon a time", "The little dog wanted to play", "Tom and Sue went to the park. They"];
    let prompts: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| {
            let mut ids = vec![tok.eot_id()];
            ids.extend(tok.encode(t, false));
            ids
        })
        .collect();
    let max_tokens = 40;
    let greedy =
        SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens: max_tokens, ..Default::default() };
    let mut generator = Generator::new(&src.config, &src.params);
    let fledge_greedy: Vec<Vec<u32>> =
        prompts.iter().map(|p| generate(&mut generator, tok, p, &greedy, |_| {}).tokens).collect();

    // Held-out text: written for this test, never seen in training.
    let heldout_text = "One morning a small brown rabbit woke up early. The sun was warm and the grass was wet. \
        She hopped to the garden and saw a big orange carrot. \"I will share it with my friends,\" she said. \
        Her friends the duck and the mouse came running, and they ate the carrot together under the old tree.";
    let mut heldout = vec![tok.eot_id()];
    heldout.extend(tok.encode(heldout_text, false));
    let fledge_ppl = perplexity(&src, &heldout);

    // fledge's batch-1 speed on the same model, the same way: stop tokens never end it.
    let speed_tokens = 200;
    let no_stop = SamplingOptions {
        temperature: 0.0,
        repetition_penalty: 1.0,
        max_new_tokens: speed_tokens,
        stop_tokens: vec![u32::MAX],
        ..Default::default()
    };
    let mut g = Generator::new(&src.config, &src.params);
    let start = Instant::now();
    let r = generate(&mut g, tok, &prompts[0], &no_stop, |_| {});
    let fledge_speed = r.tokens.len() as f64 / start.elapsed().as_secs_f64();

    let spec = json!({
        "f32": out.join("check-f32.gguf"), "q8_0": out.join("check-q8_0.gguf"),
        "prompts": prompts, "texts": texts.iter().map(|t| format!("<|endoftext|>{t}")).collect::<Vec<_>>(),
        "max_tokens": max_tokens, "stop": [tok.eot_id(), tok.im_end_id()],
        "heldout": heldout, "speed_tokens": speed_tokens,
    });
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/llama_cpp_check.py");
    let o = Command::new(&python).arg(&script).arg(&spec_path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let seen: Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();

    let to_ids = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect::<Vec<_>>();
    for (i, p) in prompts.iter().enumerate() {
        assert_eq!(to_ids(&seen["tokenize"][i]), *p, "llama.cpp tokenizes {:?} differently", texts[i]);
    }
    for (i, ours) in fledge_greedy.iter().enumerate() {
        let theirs = to_ids(&seen["greedy"][i]);
        eprintln!(
            "{:?}\n  fledge:    {:?}\n  llama.cpp: {:?}",
            texts[i],
            tok.decode(ours).unwrap(),
            tok.decode(&theirs).unwrap()
        );
        assert_eq!(&theirs, ours, "greedy continuation of {:?}", texts[i]);
    }
    let (ppl32, ppl8) = (seen["ppl"]["f32"].as_f64().unwrap(), seen["ppl"]["q8_0"].as_f64().unwrap());
    let llama_speed = seen["tokens_per_second"].as_f64().unwrap();
    eprintln!(
        "held-out perplexity: fledge {fledge_ppl:.4}, llama.cpp f32 {ppl32:.4}, q8_0 {ppl8:.4} ({:+.3}%)\n\
         batch-1 generation: fledge {fledge_speed:.0} tokens/s, llama.cpp {llama_speed:.0} tokens/s ({:.2}x)",
        (ppl8 / fledge_ppl - 1.0) * 100.0,
        fledge_speed / llama_speed
    );
    assert!((ppl32 / fledge_ppl - 1.0).abs() < 1e-3, "f32 perplexity {ppl32} vs fledge {fledge_ppl}");
    assert!((ppl8 / fledge_ppl - 1.0).abs() < 0.01, "q8_0 perplexity {ppl8} vs fledge {fledge_ppl}");
}
