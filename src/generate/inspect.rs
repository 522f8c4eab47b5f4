//! Looking inside the model: each position's next-token distribution, the
//! attention weights of every layer and head, and the logit lens.
//!
//! A model of a few million parameters is small enough to show everything it
//! computed for a text. [`inspect`] runs the text through a [`Generator`]
//! that records, token by token, each head's attention row and each layer's
//! residual stream ([`Trace`]); the logit lens (nostalgebraist, 2020) then
//! applies the final norm and output head to every layer's residual, which
//! shows what the model "would say" if it stopped at that layer. The last
//! layer's lens is the model's own output. [`score_tokens`] is the fast path
//! for long texts (bits per byte of a whole file): the batched training
//! engine over windows, without the trace.

use super::Generator;
use crate::model::{Engine, ModelConfig};

/// What every layer computed for each token fed since the trace started.
#[derive(Debug, Clone)]
pub struct Trace {
    heads: usize,
    d_model: usize,
    /// Per layer, each position's attention rows one after another: position
    /// `p` holds `heads × (p + 1)` weights (each row sums to 1).
    attention: Vec<Vec<f32>>,
    /// Per layer boundary (0: the embeddings, `l`: after block `l`), each
    /// position's residual stream, `d_model` values.
    pub residual: Vec<Vec<f32>>,
}

impl Trace {
    pub fn new(config: &ModelConfig) -> Self {
        Self {
            heads: config.n_heads,
            d_model: config.d_model,
            attention: vec![Vec::new(); config.n_layers],
            residual: vec![Vec::new(); config.n_layers + 1],
        }
    }

    /// Stores one position's attention for `layer`: `scores` holds each
    /// head's `n` unnormalized weights (exponentials of the scaled scores).
    pub(super) fn record_attention(&mut self, layer: usize, scores: &[f32], n: usize) {
        for row in scores.chunks(n) {
            let sum: f32 = row.iter().sum();
            self.attention[layer].extend(row.iter().map(|s| s / sum));
        }
    }

    /// The attention of `head` in `layer` as a `positions × positions`
    /// row-major matrix: row `i` is what position `i` attended to, zero
    /// above the diagonal (a token never sees the ones after it).
    pub fn attention_matrix(&self, layer: usize, head: usize) -> Vec<f32> {
        let rows = &self.attention[layer];
        let n = self.positions();
        let mut m = vec![0.0; n * n];
        let mut offset = 0;
        for i in 0..n {
            let row = &rows[offset + head * (i + 1)..offset + (head + 1) * (i + 1)];
            m[i * n..i * n + i + 1].copy_from_slice(row);
            offset += self.heads * (i + 1);
        }
        m
    }

    /// Tokens recorded.
    pub fn positions(&self) -> usize {
        self.residual[0].len() / self.d_model
    }
}

/// Log-probabilities from logits (a numerically stable log-softmax).
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    let log_z = max + sum.ln() as f32;
    logits.iter().map(|&l| l - log_z).collect()
}

/// The `n` most likely tokens of a log-probability vector, most likely first.
pub fn top_n(logprobs: &[f32], n: usize) -> Vec<(u32, f32)> {
    let mut all: Vec<(u32, f32)> = logprobs.iter().enumerate().map(|(i, &l)| (i as u32, l)).collect();
    let n = n.min(all.len());
    if n == 0 {
        return Vec::new();
    }
    let descending = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    all.select_nth_unstable_by(n - 1, descending);
    all.truncate(n);
    all.sort_by(descending);
    all
}

/// Which attention heads to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heads {
    None,
    One { layer: usize, head: usize },
    All,
}

/// What [`inspect`] computes besides each position's top predictions.
#[derive(Debug, Clone, Copy)]
pub struct InspectOptions {
    /// Alternatives listed per position.
    pub top: usize,
    pub heads: Heads,
    /// Also the logit lens (each layer's top predictions at each position).
    pub logit_lens: bool,
}

/// One head's attention over the text.
#[derive(Debug, Clone)]
pub struct HeadAttention {
    pub layer: usize,
    pub head: usize,
    /// `positions × positions`, row-major (see [`Trace::attention_matrix`]).
    pub weights: Vec<f32>,
}

/// What the model computed for a text.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub tokens: Vec<u32>,
    /// Per position `i`: the most likely next tokens after reading `0..=i`,
    /// with their log-probabilities under the model (no sampling applied).
    pub top: Vec<Vec<(u32, f32)>>,
    /// Per position `i > 0`: the log-probability the model gave token `i`
    /// after reading `0..i`.
    pub logprobs: Vec<f32>,
    pub attention: Vec<HeadAttention>,
    /// Per layer boundary (0: embeddings … `n_layers`: the output), each
    /// position's top predictions when that residual stream is unembedded.
    pub lens: Vec<Vec<Vec<(u32, f32)>>>,
}

/// Runs `tokens` through the model once, recording everything `options` asks
/// for. `tokens` must fit the model's window.
pub fn inspect(generator: &mut Generator, tokens: &[u32], options: InspectOptions) -> Inspection {
    assert!(tokens.len() <= generator.config.max_seq_len, "the text fits the window");
    generator.reset();
    // The trace copies every layer's attention and residual per token: only
    // when attention or the lens is asked for.
    let traced = options.heads != Heads::None || options.logit_lens;
    if traced {
        generator.start_trace();
    }
    let mut top = Vec::with_capacity(tokens.len());
    let mut logprobs = Vec::with_capacity(tokens.len().saturating_sub(1));
    for (i, &t) in tokens.iter().enumerate() {
        let lp = log_softmax(generator.step(t));
        if let Some(&next) = tokens.get(i + 1) {
            logprobs.push(lp[next as usize]);
        }
        top.push(top_n(&lp, options.top));
    }
    let config = generator.config.clone();
    let Some(trace) = generator.take_trace() else {
        return Inspection { tokens: tokens.to_vec(), top, logprobs, attention: Vec::new(), lens: Vec::new() };
    };
    let attention = match options.heads {
        Heads::None => Vec::new(),
        Heads::One { layer, head } => vec![HeadAttention { layer, head, weights: trace.attention_matrix(layer, head) }],
        Heads::All => (0..config.n_layers)
            .flat_map(|layer| (0..config.n_heads).map(move |head| (layer, head)))
            .map(|(layer, head)| HeadAttention { layer, head, weights: trace.attention_matrix(layer, head) })
            .collect(),
    };
    let lens = if options.logit_lens {
        let d = config.d_model;
        let mut logits = vec![0.0; config.vocab_size];
        trace
            .residual
            .iter()
            .map(|stream| {
                stream
                    .chunks(d)
                    .map(|x| {
                        generator.unembed(x, &mut logits);
                        top_n(&log_softmax(&logits), options.top.max(1))
                    })
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    Inspection { tokens: tokens.to_vec(), top, logprobs, attention, lens }
}

/// The log-probability of every token of `tokens` (a whole text, any
/// length), as someone outside fledge would measure it: the text is cut into
/// windows of `window` tokens with no regard for where documents start, each
/// window is read after `<|endoftext|>` (`bos`), and every token is scored
/// once. Runs on the batched training engine, so a file of a million tokens
/// takes seconds, not minutes.
pub fn score_tokens(config: &ModelConfig, params: &[f32], tokens: &[u32], window: usize, bos: u32) -> Vec<f32> {
    assert!(window >= 1 && window < config.max_seq_len, "a window plus <|endoftext|> fits the model");
    let seq = window + 1;
    let mut engine = Engine::new(config, 1, seq);
    let mut out = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(window) {
        let mut input = Vec::with_capacity(seq);
        input.push(bos);
        input.extend_from_slice(chunk);
        input.resize(seq, bos);
        engine.forward(params, &input);
        let v = config.vocab_size;
        for (i, &t) in chunk.iter().enumerate() {
            let lp = log_softmax(&engine.logits()[i * v..(i + 1) * v]);
            out.push(lp[t as usize]);
        }
    }
    out
}

/// Bits per byte of `text` as an outsider measures it ([`score_tokens`]:
/// one stream, windows of `window` tokens read after `<|endoftext|>`, every
/// token once), with the number of tokens scored.
pub fn text_bits_per_byte(
    config: &ModelConfig,
    params: &[f32],
    tokenizer: &crate::tokenizer::Tokenizer,
    text: &str,
    window: usize,
) -> (f64, usize) {
    let tokens = tokenizer.encode(text, false);
    let window = window.min(config.max_seq_len - 1);
    let nats: f64 = score_tokens(config, params, &tokens, window, tokenizer.eot_id()).iter().map(|&l| -l as f64).sum();
    (nats / std::f64::consts::LN_2 / text.len().max(1) as f64, tokens.len())
}

/// What the induction test measured: how well the model copies a sequence
/// it has already seen once in its window, and which heads do the copying.
#[derive(Debug, Clone)]
pub struct InductionReport {
    /// Random tokens per copy.
    pub length: usize,
    pub sequences: usize,
    /// Mean surprisal of the first copy's tokens, in bits: the model has
    /// nothing to go on but how common each token is.
    pub first_bits: f64,
    /// Mean surprisal of the second copy's tokens (its first token left
    /// out: nothing in the window says what follows the first copy's end).
    pub second_bits: f64,
    /// Every head, in layer order.
    pub heads: Vec<HeadInduction>,
}

/// One head's attention pattern on the repeated sequences.
#[derive(Debug, Clone, Copy)]
pub struct HeadInduction {
    pub layer: usize,
    pub head: usize,
    /// Mean attention from a second-copy token to the token that followed
    /// its first occurrence: the induction pattern `A B … A` → look at `B`,
    /// which lets the output say `B` next.
    pub induction: f64,
    /// Mean attention from each token to the one just before it: the
    /// previous-token heads that induction heads read from.
    pub previous: f64,
}

/// The induction test (Olsson et al., "In-context learning and induction
/// heads", 2022): `sequences` times, `length` distinct tokens drawn at random
/// from `candidates` are read twice in a row after `<|endoftext|>` (`bos`).
/// Random tokens have no meaning and no grammar, so the only way to predict
/// the second copy is to find each token's earlier occurrence and copy what
/// came after it — the skill a model needs to answer from a text it is given.
pub fn induction_test(
    generator: &mut Generator,
    candidates: &[u32],
    bos: u32,
    length: usize,
    sequences: usize,
    seed: u64,
) -> InductionReport {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    assert!(length >= 2 && length <= candidates.len(), "the copy fits the candidates");
    assert!(2 * length < generator.config.max_seq_len, "both copies and <|endoftext|> fit the window");
    let (layers, heads) = (generator.config.n_layers, generator.config.n_heads);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut first, mut second) = (0.0f64, 0.0f64);
    let mut scores = vec![(0.0f64, 0.0f64); layers * heads];
    for _ in 0..sequences {
        let copy: Vec<u32> = candidates.choose_multiple(&mut rng, length).copied().collect();
        let mut tokens = vec![bos];
        tokens.extend(&copy);
        tokens.extend(&copy);
        let r = inspect(generator, &tokens, InspectOptions { top: 0, heads: Heads::All, logit_lens: false });
        // logprobs[i] scores tokens[i + 1]: the first copy is tokens
        // 1..=length, the second length+1..=2·length.
        let bits = |range: std::ops::Range<usize>| {
            let n = range.len() as f64;
            r.logprobs[range].iter().map(|&l| -l as f64 / std::f64::consts::LN_2).sum::<f64>() / n
        };
        first += bits(0..length);
        second += bits(length + 1..2 * length);
        for (h, score) in r.attention.iter().zip(&mut scores) {
            let (induction, previous) = head_pattern_scores(&h.weights, tokens.len(), length);
            score.0 += induction;
            score.1 += previous;
        }
    }
    let n = sequences as f64;
    let heads = scores
        .iter()
        .enumerate()
        .map(|(i, &(induction, previous))| HeadInduction {
            layer: i / heads,
            head: i % heads,
            induction: induction / n,
            previous: previous / n,
        })
        .collect();
    InductionReport { length, sequences, first_bits: first / n, second_bits: second / n, heads }
}

/// The tokens the induction test draws from: whole lower-case words, each
/// one token (" garden"), so that a copy is text the model could meet,
/// unlike a run of stray bytes.
pub fn word_tokens(tokenizer: &crate::tokenizer::Tokenizer) -> Vec<u32> {
    (0..tokenizer.vocab_size() as u32)
        .filter(|&id| {
            let text = tokenizer.token_text(id);
            let word = text.strip_prefix(' ').unwrap_or("");
            word.len() >= 2 && word.chars().all(|c| c.is_ascii_lowercase())
        })
        .collect()
}

/// A head's induction and previous-token scores from its `n × n` attention
/// matrix over `<|endoftext|>` and two copies of `length` tokens.
fn head_pattern_scores(weights: &[f32], n: usize, length: usize) -> (f64, f64) {
    assert_eq!(n, 2 * length + 1);
    // The second copy's token at position length + j (j = 1..length-1) first
    // occurred at j; the token after it is at j + 1.
    let induction: f64 =
        (1..length).map(|j| weights[(length + j) * n + j + 1] as f64).sum::<f64>() / (length - 1) as f64;
    let previous: f64 = (2..n).map(|i| weights[i * n + i - 1] as f64).sum::<f64>() / (n - 2) as f64;
    (induction, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::params::init_params;

    fn model() -> (ModelConfig, Vec<f32>) {
        let config = ModelConfig { max_seq_len: 64, ..ModelConfig::preset("tiny", 300).unwrap() };
        let params = init_params(&config, &crate::model::params::ParamLayout::new(&config), 5);
        (config, params)
    }

    #[test]
    fn attention_rows_sum_to_one_and_are_zero_above_the_diagonal() {
        let (config, params) = model();
        let mut g = Generator::new(&config, &params);
        let tokens: Vec<u32> = (0..20).map(|i| (i * 37 % 300) as u32).collect();
        let r = inspect(&mut g, &tokens, InspectOptions { top: 3, heads: Heads::All, logit_lens: false });
        assert_eq!(r.attention.len(), config.n_layers * config.n_heads);
        let n = tokens.len();
        for h in &r.attention {
            for i in 0..n {
                let row = &h.weights[i * n..(i + 1) * n];
                let sum: f32 = row[..=i].iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "layer {} head {} row {i}: {sum}", h.layer, h.head);
                assert!(row[i + 1..].iter().all(|&w| w == 0.0));
            }
        }
    }

    #[test]
    fn the_last_layer_of_the_logit_lens_is_the_output_and_scores_agree() {
        let (config, params) = model();
        let mut g = Generator::new(&config, &params);
        let tokens: Vec<u32> = (0..30).map(|i| (i * 11 % 300) as u32).collect();
        let r = inspect(&mut g, &tokens, InspectOptions { top: 5, heads: Heads::None, logit_lens: true });
        assert_eq!(r.lens.len(), config.n_layers + 1);
        for (i, top) in r.top.iter().enumerate() {
            let last = &r.lens[config.n_layers][i];
            for (a, b) in top.iter().zip(last) {
                assert_eq!(a.0, b.0, "position {i}");
                assert!((a.1 - b.1).abs() < 1e-5, "position {i}: {a:?} {b:?}");
            }
            let total: f32 = top.iter().map(|(_, l)| l.exp()).sum();
            assert!(total <= 1.0 + 1e-5);
        }
        // The batched engine gives the same log-probabilities (one window
        // after <|endoftext|> = token 0 here: the first token is scored too).
        let scored = score_tokens(&config, &params, &tokens[1..], 40, tokens[0]);
        for (a, b) in scored.iter().zip(&r.logprobs) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn windows_score_every_token_once() {
        let (config, params) = model();
        let tokens: Vec<u32> = (0..100).map(|i| (i * 7 % 300) as u32).collect();
        let scored = score_tokens(&config, &params, &tokens, 16, 0);
        assert_eq!(scored.len(), tokens.len());
        assert!(scored.iter().all(|l| l.is_finite() && *l <= 0.0));
    }

    #[test]
    fn a_perfect_induction_head_and_a_perfect_previous_token_head_score_one() {
        let length = 5;
        let n = 2 * length + 1;
        let mut induction = vec![0.0f32; n * n];
        let mut previous = vec![0.0f32; n * n];
        for i in 0..n {
            // Second-copy rows look at the token after the first occurrence;
            // every other row at itself.
            let target = if i > length && i < 2 * length { i - length + 1 } else { i };
            induction[i * n + target] = 1.0;
            previous[i * n + i.saturating_sub(1)] = 1.0;
        }
        assert_eq!(head_pattern_scores(&induction, n, length).0, 1.0);
        assert_eq!(head_pattern_scores(&previous, n, length), (0.0, 1.0));
    }

    #[test]
    fn the_induction_test_scores_every_head_and_an_untrained_model_copies_nothing() {
        let (config, params) = model();
        let mut g = Generator::new(&config, &params);
        let candidates: Vec<u32> = (3..300).collect();
        let r = induction_test(&mut g, &candidates, 0, 20, 3, 7);
        assert_eq!(r.heads.len(), config.n_layers * config.n_heads);
        assert!(r.heads.iter().all(|h| (0.0..=1.0).contains(&h.induction) && (0.0..=1.0).contains(&h.previous)));
        // An untrained model spreads its bets: about log2(300) bits a token,
        // the same on both copies.
        let uniform = (300f64).log2();
        assert!((r.first_bits - uniform).abs() < 1.0, "{}", r.first_bits);
        assert!((r.second_bits - r.first_bits).abs() < 0.5, "{} {}", r.first_bits, r.second_bits);
        // The same seed draws the same sequences.
        let again = induction_test(&mut g, &candidates, 0, 20, 3, 7);
        assert_eq!(again.first_bits, r.first_bits);
    }
}
