//! The engine learns the smallest task that needs attention to work end to
//! end: copying, as an induction head does it (Olsson et al. 2022: find the
//! earlier occurrence of the current token, read what followed it).
//!
//! Gradient checks run short sequences; a wrong tile, mask or rotary position
//! on a long sequence could pass them and still keep a model from ever
//! copying. This is the behavioural check. Rows are random tokens, so nothing
//! but the copy predicts the counted targets, in two forms:
//!
//! - *repeated*: the row opens with a random sequence of 8 to 40 tokens read
//!   twice. A two-layer model learns it in about 500 steps, here and in PyTorch
//!   with the same model and settings (both measured: the loss falls from 4.1
//!   to under 1 nat between steps 400 and 550).
//! - *span*: a random span comes again at a random later place. From scratch
//!   neither engine learned this in 3,000 steps; after the repeated form it
//!   takes no more than 300 (fresh-row loss 0.52 here, 0.63 in PyTorch). That
//!   is why pretraining can open with repeated random sequences
//!   (`copy_warmup_steps`, `copy_warmup_fraction`).

use fledge::data::shards::Batch;
use fledge::model::kernels::IGNORE;
use fledge::model::{ModelConfig, Precision};
use fledge::train::optim::AdamWConfig;
use fledge::train::trainer::Trainer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VOCAB: usize = 64;
const SEQ: usize = 128;
const BATCH: usize = 16;

#[derive(Clone, Copy)]
enum Task {
    Repeated,
    Span,
}

/// One row: random tokens with a span `[a, a + n)` copied to `[b, b + n)`;
/// targets only where the next token is a copied one that can be predicted
/// (every token of the copy but its first).
fn row(rng: &mut impl Rng, task: Task) -> (Vec<u32>, Vec<u32>) {
    let mut tokens: Vec<u32> = (0..=SEQ).map(|_| rng.gen_range(0..VOCAB as u32)).collect();
    let n = rng.gen_range(8..=40);
    let (a, b) = match task {
        Task::Repeated => (0, n),
        Task::Span => {
            let a = rng.gen_range(0..=SEQ - 2 * n);
            (a, rng.gen_range(a + n..=SEQ + 1 - n))
        }
    };
    let span: Vec<u32> = tokens[a..a + n].to_vec();
    tokens[b..b + n].copy_from_slice(&span);
    let inputs = tokens[..SEQ].to_vec();
    let targets = (0..SEQ).map(|i| if i >= b && i + 1 < b + n { tokens[i + 1] } else { IGNORE }).collect();
    (inputs, targets)
}

fn batch(rng: &mut impl Rng, task: Task) -> Batch {
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for _ in 0..BATCH {
        let (i, t) = row(rng, task);
        inputs.extend(i);
        targets.extend(t);
    }
    Batch { inputs, targets, segment_starts: None }
}

/// Mean loss (nats) on the copied tokens of fresh rows.
fn copy_loss(trainer: &mut Trainer, rng: &mut impl Rng, task: Task) -> f64 {
    let evals = 4;
    let mut total = 0.0;
    for _ in 0..evals {
        let b = batch(rng, task);
        trainer.engine.forward(&trainer.params, &b.inputs);
        total += trainer.engine.eval_loss(&b.targets);
    }
    total / evals as f64
}

fn train(trainer: &mut Trainer, rng: &mut impl Rng, task: Task, steps: usize) {
    for step in 0..steps {
        let warm = ((step + 1) as f32 / 50.0).min(1.0);
        trainer.step(&[batch(rng, task)], 3e-3 * warm);
    }
}

/// Two layers of two heads of size 32: the register-tiled attention path.
fn config() -> ModelConfig {
    ModelConfig {
        vocab_size: VOCAB,
        d_model: 64,
        n_layers: 2,
        n_heads: 2,
        n_kv_heads: 2,
        ffn_hidden: 128,
        max_seq_len: SEQ,
        rope_theta: 10_000.0,
        norm_eps: 1e-5,
        tie_embeddings: true,
    }
}

/// Chance is ln 64 = 4.16 nats; a model that copies gets far below one.
#[test]
fn learns_to_copy_a_repeated_sequence_then_any_span() {
    let mut trainer = Trainer::new(&config(), BATCH, SEQ, 1, AdamWConfig::default(), 1.0);
    trainer.engine.set_precision(Precision::F32).expect("f32 is always available");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let span_before = copy_loss(&mut trainer, &mut rng, Task::Span);
    train(&mut trainer, &mut rng, Task::Repeated, 800);
    let repeated = copy_loss(&mut trainer, &mut rng, Task::Repeated);
    eprintln!("copied-token loss: span task untrained {span_before:.3}, read-twice task after 800 steps {repeated:.3}");
    assert!(repeated < 1.5, "repeated sequence: {repeated:.3} nats after 800 steps (chance 4.16)");
    train(&mut trainer, &mut rng, Task::Span, 300);
    let span = copy_loss(&mut trainer, &mut rng, Task::Span);
    eprintln!("copied-token loss: span task after 300 more steps {span:.3}");
    assert!(span < 1.5, "span: {span:.3} nats after 300 more steps (before any training {span_before:.3})");
}
