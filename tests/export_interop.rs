//! Export and import: the HF folder loads in Python `transformers` with the
//! same logits and chat template as fledge's; the GGUF files read back in
//! llama.cpp's `gguf` reader with the same tokenizer and weights; export then
//! import gives the same model; bad input gets clear errors.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::server::random_model;
use fledge::chat::{render_text, Message, Role};
use fledge::export::Source;
use fledge::generate::Generator;
use serde_json::{json, Value};

fn fledge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fledge")).args(args).output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: Output) -> String {
    assert!(!o.status.success(), "expected a failure; stdout: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every position's logits for `ids`, one token at a time through the KV cache.
fn logits(src: &Source, ids: &[u32]) -> Vec<Vec<f32>> {
    let mut g = Generator::new(&src.config, &src.params);
    ids.iter().map(|&t| g.step(t).to_vec()).collect()
}

const PROMPTS: [&str; 5] =
    ["the cat sat on the mat", "a big red ball", "The dog ran to the park.", "and, to the cat!", "Ünïcödé 🐈 mat"];

#[test]
fn export_then_import_gives_the_same_model_and_bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = random_model(d, "m", false);
    let out = d.join("exported");
    let printed =
        ok(fledge(&["export", "--model", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "--name", "tiny"]));
    assert!(printed.contains("tiny-q8_0.gguf") && printed.contains("huggingface-cli upload"), "{printed}");
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.contains("## Samples") && card.contains("llama-cli -m tiny-f32.gguf"), "{card}");

    let imported = d.join("imported");
    ok(fledge(&["import", out.to_str().unwrap(), "--out", imported.to_str().unwrap()]));
    let (a, b) = (Source::load(&model).unwrap(), Source::load(&imported).unwrap());
    assert_eq!(a.config, b.config);
    assert!(a.params == b.params, "weights changed in the round trip");
    let ids = a.tokenizer.encode(PROMPTS[0], false);
    assert_eq!(logits(&a, &ids), logits(&b, &ids));
    // The imported checkpoint generates.
    ok(fledge(&["generate", "--model", imported.to_str().unwrap(), "--max-tokens", "5", "--prompt", "the cat"]));

    // Bad input.
    let config_path = out.join("config.json");
    let good_config = std::fs::read_to_string(&config_path).unwrap();
    let mut c: Value = serde_json::from_str(&good_config).unwrap();
    c["architectures"] = json!(["GPT2LMHeadModel"]);
    c["model_type"] = json!("gpt2");
    std::fs::write(&config_path, c.to_string()).unwrap();
    let e = err(fledge(&["import", out.to_str().unwrap(), "--out", d.join("x").to_str().unwrap()]));
    assert!(e.contains("GPT2LMHeadModel") && e.contains("LlamaForCausalLM"), "{e}");
    let mut c: Value = serde_json::from_str(&good_config).unwrap();
    c["intermediate_size"] = json!(c["intermediate_size"].as_u64().unwrap() * 2);
    std::fs::write(&config_path, c.to_string()).unwrap();
    let e = err(fledge(&["import", out.to_str().unwrap(), "--out", d.join("x").to_str().unwrap()]));
    assert!(e.contains("mlp.gate_proj.weight has shape"), "{e}");
    std::fs::write(&config_path, &good_config).unwrap();
    // A safetensors file missing a tensor.
    let tensors = safetensors::SafeTensors::deserialize(&std::fs::read(out.join("model.safetensors")).unwrap())
        .unwrap()
        .tensors()
        .into_iter()
        .filter(|(n, _)| n != "model.norm.weight")
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect::<Vec<_>>();
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, dt, sh, data)| (n.clone(), safetensors::tensor::TensorView::new(*dt, sh.clone(), data).unwrap()))
        .collect();
    std::fs::write(out.join("model.safetensors"), safetensors::serialize(views, &None).unwrap()).unwrap();
    let e = err(fledge(&["import", out.to_str().unwrap(), "--out", d.join("x").to_str().unwrap()]));
    assert!(e.contains("missing") && e.contains("model.norm.weight"), "{e}");
    assert!(!d.join("x").exists(), "a failed import leaves nothing behind");
    // Not a checkpoint at all.
    let e = err(fledge(&["export", "--model", d.to_str().unwrap(), "--out", d.join("y").to_str().unwrap()]));
    assert!(e.contains("neither a checkpoint"), "{e}");
    let e = err(fledge(&["export", "--model", model.to_str().unwrap(), "--gguf-type", "q4_k"]));
    assert!(e.contains("q4_k") && e.contains("q8_0"), "{e}");
}

#[test]
fn transformers_and_the_gguf_reader_load_the_export() {
    let python = common::python();
    let probe = Command::new(&python).args(["-c", "import transformers, torch, gguf"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        common::skip_or_fail(
            "Python with transformers, torch and gguf is not installed (bash scripts/test.sh installs them)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The reference shape with random weights (several heads, so the rotary
    // layout matters), or a trained model named by FLEDGE_EXPORT_MODEL.
    let model = match std::env::var_os("FLEDGE_EXPORT_MODEL") {
        Some(m) => std::path::PathBuf::from(m),
        None => random_model(d, "m", true),
    };
    let out = d.join("exported");
    let printed = ok(fledge(&[
        "export",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--name",
        "ref",
        "--gguf-type",
        "f32,q8_0",
    ]));
    // The reference FFN (688) is not a multiple of 32: those rows fall back to f16, and the export says so.
    let src = Source::load(&model).unwrap();
    if src.config.ffn_hidden % 32 != 0 {
        assert!(printed.contains("blk.0.ffn_down.weight (688 values per row)"), "{printed}");
    }

    let ids: Vec<Vec<u32>> = PROMPTS.iter().map(|p| src.tokenizer.encode(p, false)).collect();
    let all_logits: Vec<Vec<Vec<f32>>> = ids.iter().map(|i| logits(&src, i)).collect();
    let messages = [
        Message::new(Role::System, "be brief."),
        Message::new(Role::Context, "[1] notes.md: the cat is in the kitchen."),
        Message::new(Role::User, "where is the cat?"),
    ];
    let spec = json!({
        "folder": out,
        "prompts": PROMPTS,
        "ids": ids,
        "logits": all_logits,
        "messages": messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect::<Vec<_>>(),
        "rendered": render_text(&messages, true),
    });
    let spec_path = d.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/hf_export_check.py");
    let seen: Value =
        serde_json::from_str(ok(Command::new(&python).arg(&script).arg(&spec_path).output().unwrap()).trim()).unwrap();
    eprintln!("transformers: {seen}");
    assert!(seen["max_abs_logit_diff"].as_f64().unwrap() < 1e-4, "{seen}");
    assert_eq!(seen["ids_equal"], true, "{seen}");
    assert_eq!(seen["template_equal"], true, "{seen}");
    assert_eq!(seen["eos_token"], "<|im_end|>");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/gguf_check.py");
    let gguf: Value = serde_json::from_str(
        ok(Command::new(&python)
            .arg(&script)
            .args([&out, &out.join("ref-f32.gguf"), &out.join("ref-q8_0.gguf")])
            .output()
            .unwrap())
        .trim(),
    )
    .unwrap();
    eprintln!("gguf: {gguf}");
    assert_eq!(gguf["f32"]["max_abs_weight_diff"], 0.0, "{gguf}");
    // Q8_0 keeps each value within half a step of its block's scale (max |w| / 127).
    assert!(gguf["q8_0"]["max_abs_weight_diff"].as_f64().unwrap() < 2e-3, "{gguf}");
    if src.config.ffn_hidden % 32 != 0 {
        assert_eq!(gguf["q8_0"]["types"]["F16"].as_u64(), Some(src.config.n_layers as u64), "{gguf}");
    }

    // The model card's Python example runs as written (sampling from
    // generation_config.json, guided as fledge chat guides), pointed at the folder.
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    let example = card.split("```python\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a python block");
    assert!(example.contains("guidance_scale=2.5") && example.contains("negative_prompt_ids"), "{example}");
    let example = example.replace("\"ref\"", &format!("{:?}", out.to_str().unwrap()));
    let run = Command::new(&python).args(["-c", &format!("import torch\ntorch.manual_seed(0)\n{example}")]).output();
    let printed = ok(run.unwrap());
    eprintln!("the card's example printed: {printed}");
}
