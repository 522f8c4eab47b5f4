//! The engine's logits and every parameter's gradient, checked against an
//! independent implementation: the same model written with candle's autograd,
//! run in f64. Our f32 results must agree to a relative error under 1e-4.

use candle_core::{DType, Device, Tensor, Var, D};
use fledge::model::params::{standard_normal, ParamLayout};
use fledge::model::{Engine, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type R<T> = candle_core::Result<T>;

fn config(tied: bool, n_kv_heads: usize) -> ModelConfig {
    ModelConfig {
        vocab_size: 61,
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        n_kv_heads,
        ffn_hidden: 40,
        max_seq_len: 16,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: tied,
    }
}

/// Random parameters large enough that every nonlinearity matters, and norm
/// gains away from one so their gradients are exercised.
fn random_params(layout: &ParamLayout, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = vec![0.0; layout.total];
    for t in &layout.tensors {
        for x in &mut p[t.range()] {
            *x = if t.shape.len() == 1 {
                1.0 + 0.3 * standard_normal(&mut rng)
            } else {
                0.3 * standard_normal(&mut rng)
            };
        }
    }
    p
}

struct Reference {
    loss: f64,
    logits: Vec<f64>,
    grads: Vec<(String, Vec<f64>)>,
}

fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> R<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)
}

fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor, half: usize) -> R<Tensor> {
    // HF's rotate_half: (x1, x2) -> (-x2, x1).
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

fn softmax_last(x: &Tensor) -> R<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

fn reference(
    c: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    tokens: &[u32],
    targets: &[u32],
    batch: usize,
    time: usize,
) -> R<Reference> {
    let dev = Device::Cpu;
    let vars: Vec<Var> = layout
        .tensors
        .iter()
        .map(|t| {
            let data: Vec<f64> = params[t.range()].iter().map(|&x| x as f64).collect();
            Var::from_tensor(&Tensor::from_vec(data, t.shape.clone(), &dev)?)
        })
        .collect::<R<_>>()?;
    let get = |name: &str| -> Tensor {
        let i = layout.tensors.iter().position(|t| t.name == name).unwrap_or_else(|| panic!("{name}"));
        vars[i].as_tensor().clone()
    };
    let (n, d, v) = (batch * time, c.d_model, c.vocab_size);
    let (h, kvh, hd) = (c.n_heads, c.n_kv_heads, c.head_dim());
    let one_hot = |ids: &[u32]| -> R<Tensor> {
        let mut m = vec![0f64; ids.len() * v];
        for (i, &t) in ids.iter().enumerate() {
            m[i * v + t as usize] = 1.0;
        }
        Tensor::from_vec(m, (ids.len(), v), &dev)
    };
    let embed = get("model.embed_tokens.weight");
    let mut x = one_hot(tokens)?.matmul(&embed)?; // [n, d]

    let half = hd / 2;
    let mut cos = vec![0f64; time * hd];
    let mut sin = vec![0f64; time * hd];
    for t in 0..time {
        for i in 0..half {
            let angle = t as f64 * (c.rope_theta as f64).powf(-2.0 * i as f64 / hd as f64);
            for j in [i, i + half] {
                cos[t * hd + j] = angle.cos();
                sin[t * hd + j] = angle.sin();
            }
        }
    }
    let cos = Tensor::from_vec(cos, (time, hd), &dev)?;
    let sin = Tensor::from_vec(sin, (time, hd), &dev)?;
    let mut mask = vec![0f64; time * time];
    for i in 0..time {
        for j in i + 1..time {
            mask[i * time + j] = f64::NEG_INFINITY;
        }
    }
    let mask = Tensor::from_vec(mask, (time, time), &dev)?;
    let eps = c.norm_eps as f64;

    for l in 0..c.n_layers {
        let p = |s: &str| get(&format!("model.layers.{l}.{s}"));
        let xn = rms_norm(&x, &p("input_layernorm.weight"), eps)?;
        let heads = |w: Tensor, nh: usize| -> R<Tensor> {
            xn.matmul(&w.t()?)?.reshape((batch, time, nh, hd))?.transpose(1, 2)?.contiguous()
        };
        let q = rotate(&heads(p("self_attn.q_proj.weight"), h)?, &cos, &sin, half)?;
        let k = rotate(&heads(p("self_attn.k_proj.weight"), kvh)?, &cos, &sin, half)?;
        let vv = heads(p("self_attn.v_proj.weight"), kvh)?;
        // Grouped-query attention: each key/value head serves h / kvh query heads.
        let expand = |t: Tensor| -> R<Tensor> {
            t.unsqueeze(2)?.broadcast_as((batch, kvh, h / kvh, time, hd))?.contiguous()?.reshape((batch, h, time, hd))
        };
        let (k, vv) = (expand(k)?, expand(vv)?);
        let scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?.broadcast_add(&mask)?;
        let att = softmax_last(&scores)?.matmul(&vv)?.transpose(1, 2)?.contiguous()?.reshape((n, d))?;
        x = (x + att.matmul(&p("self_attn.o_proj.weight").t()?)?)?;
        let xn = rms_norm(&x, &p("post_attention_layernorm.weight"), eps)?;
        let g = xn.matmul(&p("mlp.gate_proj.weight").t()?)?;
        let u = xn.matmul(&p("mlp.up_proj.weight").t()?)?;
        let silu = (&g / (g.neg()?.exp()? + 1.0)?)?;
        x = (x + (silu * u)?.matmul(&p("mlp.down_proj.weight").t()?)?)?;
    }
    let xn = rms_norm(&x, &get("model.norm.weight"), eps)?;
    let head = if c.tie_embeddings { embed } else { get("lm_head.weight") };
    let logits = xn.matmul(&head.t()?)?;
    let max = logits.max_keepdim(D::Minus1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let logp = shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(D::Minus1)?.log()?)?;
    let loss = ((logp * one_hot(targets)?)?.sum_all()?.neg()? / n as f64)?;
    let grads = loss.backward()?;
    let mut out = Vec::new();
    for (t, var) in layout.tensors.iter().zip(&vars) {
        let g = grads.get(var.as_tensor()).expect("every parameter has a gradient");
        out.push((t.name.clone(), g.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?));
    }
    Ok(Reference { loss: loss.to_scalar::<f64>()?, logits: logits.flatten_all()?.to_vec1::<f64>()?, grads: out })
}

fn rel_err(ours: &[f32], reference: &[f64]) -> f64 {
    let diff: f64 = ours.iter().zip(reference).map(|(&a, &b)| (a as f64 - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = reference.iter().map(|b| b * b).sum::<f64>().sqrt();
    diff / norm.max(1e-30)
}

fn check(c: ModelConfig, batch: usize, time: usize, seed: u64) {
    let layout = ParamLayout::new(&c);
    let params = random_params(&layout, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    let tokens: Vec<u32> = (0..batch * time).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
    let targets: Vec<u32> = (0..batch * time).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();

    let mut engine = Engine::new(&c, batch, time);
    engine.forward(&params, &tokens);
    let logits = engine.logits().to_vec();
    let loss = engine.loss_and_grad_logits(&targets, 1.0);
    let mut grads = vec![0.0f32; layout.total];
    engine.backward(&params, &mut grads);

    let r = reference(&c, &layout, &params, &tokens, &targets, batch, time).unwrap();
    assert!((loss as f64 - r.loss).abs() / r.loss < 1e-5, "loss {loss} vs reference {}", r.loss);
    let e = rel_err(&logits, &r.logits);
    assert!(e < 1e-5, "logits relative error {e:e}");
    let mut worst = (0.0, String::new());
    for (t, (name, g)) in layout.tensors.iter().zip(&r.grads) {
        let e = rel_err(&grads[t.range()], g);
        assert!(e < 1e-4, "{name}: gradient relative error {e:e}");
        if e > worst.0 {
            worst = (e, name.clone());
        }
    }
    eprintln!(
        "loss {loss:.6} (reference {:.6}); logits rel err {e:.1e}; worst gradient rel err {:.1e} ({})",
        r.loss, worst.0, worst.1
    );
}

#[test]
fn gradients_match_candle_tied_embeddings_multi_head() {
    check(config(true, 4), 2, 8, 1);
}

#[test]
fn gradients_match_candle_untied_grouped_query_attention() {
    check(config(false, 2), 3, 7, 2);
}

#[test]
fn gradients_match_candle_multi_query_full_length() {
    check(config(true, 1), 1, 16, 3);
}

/// Head dimension 32: the register-tiled attention path (the other tests use
/// head dimension 8, which takes the plain loops).
#[test]
fn gradients_match_candle_tiled_attention_path() {
    let c = ModelConfig { d_model: 64, n_heads: 2, n_kv_heads: 1, max_seq_len: 32, ..config(false, 1) };
    check(c, 2, 21, 4);
}

/// Central finite differences of the loss, evaluated in f64 by the reference
/// implementation, against the engine's f32 gradient: a check of both that
/// does not trust either autograd.
#[test]
fn gradients_match_f64_finite_differences() {
    let c = ModelConfig { n_layers: 1, ..config(false, 2) };
    let (batch, time) = (2, 6);
    let layout = ParamLayout::new(&c);
    let params = random_params(&layout, 9);
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let tokens: Vec<u32> = (0..batch * time).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
    let targets: Vec<u32> = (0..batch * time).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
    let mut engine = Engine::new(&c, batch, time);
    engine.forward(&params, &tokens);
    engine.loss_and_grad_logits(&targets, 1.0);
    let mut grads = vec![0.0f32; layout.total];
    engine.backward(&params, &mut grads);

    // The step is taken on f32 weights, so divide by the difference the
    // f32 rounding actually made; the losses themselves are computed in f64.
    let h = 1e-3f64;
    let mut checked = 0;
    for t in &layout.tensors {
        for k in 0..3 {
            let i = t.offset + (k * 7919) % t.len();
            let mut plus = params.clone();
            let mut minus = params.clone();
            plus[i] += h as f32;
            minus[i] -= h as f32;
            let step = plus[i] as f64 - minus[i] as f64;
            let lp = reference(&c, &layout, &plus, &tokens, &targets, batch, time).unwrap().loss;
            let lm = reference(&c, &layout, &minus, &tokens, &targets, batch, time).unwrap().loss;
            let fd = (lp - lm) / step;
            let g = grads[i] as f64;
            let err = (fd - g).abs() / (fd.abs().max(g.abs()).max(1e-3));
            assert!(err < 1e-3, "{} [{i}]: finite difference {fd:e}, engine {g:e}", t.name);
            checked += 1;
        }
    }
    eprintln!("{checked} parameters: engine gradients agree with f64 finite differences");
}

/// Packing: two documents in one row with segment starts give the logits and
/// gradients of running each document alone, and targets marked IGNORE carry
/// no loss. Checked on both attention paths (head size 8 takes the plain
/// loops, 32 the tiled kernel).
#[test]
fn packed_documents_match_separate_runs_and_ignored_targets_carry_no_loss() {
    use fledge::model::kernels::IGNORE;
    for c in [config(false, 2), ModelConfig { d_model: 64, n_heads: 2, n_kv_heads: 1, ..config(false, 1) }] {
        let layout = ParamLayout::new(&c);
        let params = random_params(&layout, 11);
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let (la, lb) = (5usize, 9usize);
        let t = la + lb;
        let tokens: Vec<u32> = (0..t).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
        let mut targets: Vec<u32> = (0..t).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
        // Prompt-like positions that must not count.
        targets[0] = IGNORE;
        targets[la + 1] = IGNORE;
        let counted = targets.iter().filter(|&&x| x != IGNORE).count() as f32;

        let starts: Vec<u32> = (0..t).map(|i| if i < la { 0 } else { la as u32 }).collect();
        let mut packed = Engine::new(&c, 1, t);
        packed.set_segments(Some(&starts));
        packed.forward(&params, &tokens);
        let packed_logits = packed.logits().to_vec();
        packed.loss_and_grad_logits(&targets, 1.0);
        let mut packed_grads = vec![0.0f32; layout.total];
        packed.backward(&params, &mut packed_grads);

        let mut alone_grads = vec![0.0f32; layout.total];
        let v = c.vocab_size;
        for (range, len) in [(0..la, la), (la..t, lb)] {
            let mut e = Engine::new(&c, 1, len);
            e.forward(&params, &tokens[range.clone()]);
            for (i, (x, y)) in e.logits().iter().zip(&packed_logits[range.start * v..range.end * v]).enumerate() {
                assert!((x - y).abs() < 1e-4, "logit {i} of document at {range:?}: alone {x}, packed {y}");
            }
            let tg = &targets[range];
            let own = tg.iter().filter(|&&x| x != IGNORE).count() as f32;
            e.loss_and_grad_logits(tg, own / counted);
            e.backward(&params, &mut alone_grads);
        }
        let scale = alone_grads.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        for (i, (a, b)) in alone_grads.iter().zip(&packed_grads).enumerate() {
            assert!((a - b).abs() <= 1e-4 * scale.max(1.0), "gradient {i}: alone {a}, packed {b}");
        }
    }
}
