//! Five AdamW steps from PyTorch's own weights and tokens, compared with the
//! losses PyTorch computed (`../shared/bench/torch_reference.py check`).
//!
//! PyTorch is a large install, so this test runs only when pointed at a
//! check folder: `python torch_reference.py check --dir D`, then
//! `FLEDGE_TORCH_CHECK_DIR=D FLEDGE_TORCH_CHECK_LOSSES='[...]' cargo test --release --test torch_check`.

use fledge::model::{Engine, ModelConfig, ParamLayout};
use fledge::train::optim::{AdamW, AdamWConfig};

fn hf_name(torch_name: &str) -> String {
    if torch_name == "emb" {
        return "model.embed_tokens.weight".into();
    }
    if torch_name == "norm" {
        return "model.norm.weight".into();
    }
    let (layer, part) = torch_name.trim_start_matches('l').split_once('.').expect("l{i}.{name}");
    let suffix = match part {
        "attn_norm" => "input_layernorm.weight",
        "wq" => "self_attn.q_proj.weight",
        "wk" => "self_attn.k_proj.weight",
        "wv" => "self_attn.v_proj.weight",
        "wo" => "self_attn.o_proj.weight",
        "mlp_norm" => "post_attention_layernorm.weight",
        "w1" => "mlp.gate_proj.weight",
        "w3" => "mlp.up_proj.weight",
        "w2" => "mlp.down_proj.weight",
        other => panic!("unknown tensor {other}"),
    };
    format!("model.layers.{layer}.{suffix}")
}

#[test]
fn five_adamw_steps_match_pytorch() {
    let (Ok(dir), Ok(losses)) = (std::env::var("FLEDGE_TORCH_CHECK_DIR"), std::env::var("FLEDGE_TORCH_CHECK_LOSSES"))
    else {
        eprintln!("SKIPPED: set FLEDGE_TORCH_CHECK_DIR and FLEDGE_TORCH_CHECK_LOSSES (see this file's header)");
        return;
    };
    let expected: Vec<f64> = serde_json::from_str(&losses).unwrap();
    let dir = std::path::Path::new(&dir);
    let manifest = std::fs::read_to_string(dir.join("manifest.txt")).unwrap();
    let mut lines = manifest.lines();
    let head: Vec<usize> = lines.next().unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect();
    let (batch, seq, steps) = (head[0], head[1], head[2]);
    let config = ModelConfig::preset("reference", 4096).unwrap();
    let layout = ParamLayout::new(&config);
    let weights: Vec<f32> = std::fs::read(dir.join("weights.bin"))
        .unwrap()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut params = vec![0.0f32; layout.total];
    let mut at = 0;
    for line in lines {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let len: usize = parts[1].parse::<usize>().unwrap() * parts[2].parse::<usize>().unwrap();
        let t = layout.get(&hf_name(parts[0])).unwrap();
        assert_eq!(t.len(), len, "{}", parts[0]);
        params[t.range()].copy_from_slice(&weights[at..at + len]);
        at += len;
    }
    let tokens: Vec<u32> = std::fs::read(dir.join("tokens.bin"))
        .unwrap()
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for row in tokens.chunks(seq + 1) {
        inputs.extend_from_slice(&row[..seq]);
        targets.extend_from_slice(&row[1..]);
    }
    let mut engine = Engine::new(&config, batch, seq);
    let mut opt = AdamW::new(AdamWConfig { weight_decay: 0.1, ..Default::default() }, &layout).decay_all();
    let mut grads = vec![0.0f32; layout.total];
    let mut ours = Vec::new();
    for _ in 0..steps {
        engine.forward(&params, &inputs);
        ours.push(engine.loss_and_grad_logits(&targets, 1.0) as f64);
        grads.fill(0.0);
        engine.backward(&params, &mut grads);
        opt.update(&mut params, &grads, 1e-3);
    }
    eprintln!("fledge  {ours:?}\npytorch {expected:?}");
    // The first five steps agree to PyTorch's printed precision. The script
    // now runs more steps on its one repeated batch; there the two sums'
    // different orders (PyTorch's kernels, fledge's) grow from step to step
    // (by step 30, 0.3% with the gemm products, 0.6% with matrixmultiply's),
    // so later steps are held to 1%: the same trajectory, not the same bits.
    for (step, (a, b)) in ours.iter().zip(&expected).enumerate() {
        let close = if step < 5 { (a - b).abs() < 2e-4 } else { (a - b).abs() < 0.01 * b.abs() };
        assert!(close, "step {step}: loss {a} vs PyTorch {b}");
    }
}
