//! The forward and backward pass of the whole model over one batch.
//!
//! [`Engine`] owns every activation buffer for a fixed batch shape, allocated
//! once, so a training step allocates nothing. The forward pass keeps what the
//! backward pass needs (normalized inputs, rotated queries and keys, attention
//! probabilities, SwiGLU inputs); the backward pass walks the layers in
//! reverse, adding each weight's gradient into one flat gradient buffer laid
//! out like the parameters (see [`super::params`]).

use super::attention;
use super::bf16::{Precision, PrecisionError};
use super::config::ModelConfig;
use super::kernels::{self, Rope};
use super::params::{LayerOffsets, ParamLayout};

/// What one layer's forward pass keeps for the backward pass.
struct LayerActs {
    /// Residual stream entering the layer, `[n, d]`.
    x_in: Vec<f32>,
    rstd1: Vec<f32>,
    xn1: Vec<f32>,
    /// Rotated queries, keys and values, head-major.
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    probs: Vec<f32>,
    /// Attention output, rows-major `[n, d]` (input of `o_proj`).
    att: Vec<f32>,
    /// Residual stream after attention.
    x_mid: Vec<f32>,
    rstd2: Vec<f32>,
    xn2: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    h: Vec<f32>,
}

/// Buffers the backward pass reuses from layer to layer.
struct Scratch {
    dx: Vec<f32>,
    dxn: Vec<f32>,
    d_rows: Vec<f32>,
    dq_hm: Vec<f32>,
    dk_hm: Vec<f32>,
    dv_hm: Vec<f32>,
    dq: Vec<f32>,
    dkv: Vec<f32>,
    dh: Vec<f32>,
    /// Head-major staging for attention outputs and their gradients.
    hm: Vec<f32>,
}

/// Forward/backward machinery for a fixed `batch × seq_len`.
pub struct Engine {
    pub config: ModelConfig,
    pub layout: ParamLayout,
    pub batch: usize,
    pub seq_len: usize,
    rope: Rope,
    layers: Vec<LayerActs>,
    x_final: Vec<f32>,
    rstd_final: Vec<f32>,
    xn_final: Vec<f32>,
    /// Logits `[n, vocab]`; after the loss, their gradient.
    logits: Vec<f32>,
    tokens: Vec<u32>,
    /// Where each position's document starts within its row, when several
    /// documents are packed into one row (see [`Engine::set_segments`]).
    segment_starts: Option<Vec<u32>>,
    scratch: Scratch,
    /// The linear layers' products: f32, or bf16 inputs with f32 sums.
    precision: Precision,
}

impl Engine {
    pub fn new(config: &ModelConfig, batch: usize, seq_len: usize) -> Self {
        assert!(seq_len <= config.max_seq_len, "seq_len {seq_len} exceeds max_seq_len {}", config.max_seq_len);
        let n = batch * seq_len;
        let d = config.d_model;
        let hd = config.head_dim();
        let kv = config.n_kv_heads * hd;
        let f = config.ffn_hidden;
        let z = |len: usize| vec![0.0f32; len];
        let layers = (0..config.n_layers)
            .map(|_| LayerActs {
                x_in: z(n * d),
                rstd1: z(n),
                xn1: z(n * d),
                q: z(n * d),
                k: z(n * kv),
                v: z(n * kv),
                probs: z(batch * config.n_heads * seq_len * seq_len),
                att: z(n * d),
                x_mid: z(n * d),
                rstd2: z(n),
                xn2: z(n * d),
                gate: z(n * f),
                up: z(n * f),
                h: z(n * f),
            })
            .collect();
        Self {
            config: config.clone(),
            layout: ParamLayout::new(config),
            batch,
            seq_len,
            rope: Rope::new(config.max_seq_len, hd, config.rope_theta),
            layers,
            x_final: z(n * d),
            rstd_final: z(n),
            xn_final: z(n * d),
            logits: z(n * config.vocab_size),
            tokens: vec![0; n],
            segment_starts: None,
            scratch: Scratch {
                dx: z(n * d),
                dxn: z(n * d),
                d_rows: z(n * d),
                dq_hm: z(n * d),
                dk_hm: z(n * kv),
                dv_hm: z(n * kv),
                dq: z(n * d),
                dkv: z(n * kv),
                dh: z(n * f),
                hm: z(n * d),
            },
            precision: Precision::F32,
        }
    }

    /// Packs documents: `starts[b * seq_len + i]` is the index in row `b`
    /// where the document holding position `i` begins, and attention never
    /// looks before it. `None` (the default) is plain causal attention over
    /// the whole row.
    pub fn set_segments(&mut self, starts: Option<&[u32]>) {
        if let Some(st) = starts {
            assert_eq!(st.len(), self.rows(), "one segment start per position");
            debug_assert!(st.iter().enumerate().all(|(i, &s)| (s as usize) <= i % self.seq_len));
        }
        self.segment_starts = starts.map(|s| s.to_vec());
    }

    /// Chooses the precision of the linear layers' products (forward and
    /// backward); `Auto` resolves on this CPU. Returns the concrete choice.
    /// Attention, norms, the loss and everything else stay f32.
    pub fn set_precision(&mut self, precision: Precision) -> Result<Precision, PrecisionError> {
        self.precision = precision.resolve()?;
        Ok(self.precision)
    }

    /// The concrete precision of the products (`F32` or `Bf16`).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    fn rows(&self) -> usize {
        self.batch * self.seq_len
    }

    /// Runs the model on `tokens` (`batch × seq_len`) and leaves the logits in
    /// the engine. Returns nothing: call [`Engine::loss_and_grad_logits`] or
    /// [`Engine::eval_loss`] next.
    pub fn forward(&mut self, params: &[f32], tokens: &[u32]) {
        let c = &self.config;
        let (n, d, hd, f, v) = (self.rows(), c.d_model, c.head_dim(), c.ffn_hidden, c.vocab_size);
        let (b, t, heads, kv_heads) = (self.batch, self.seq_len, c.n_heads, c.n_kv_heads);
        let kv = kv_heads * hd;
        let eps = c.norm_eps;
        let prec = self.precision;
        assert_eq!(tokens.len(), n, "expected batch × seq_len tokens");
        self.tokens.copy_from_slice(tokens);
        let embed = &params[self.layout.embed..self.layout.embed + v * d];

        // Embedding lookup into the first layer's input.
        {
            let x = &mut self.layers[0].x_in;
            for (row, &tok) in x.chunks_mut(d).zip(tokens) {
                row.copy_from_slice(&embed[tok as usize * d..(tok as usize + 1) * d]);
            }
        }
        for l in 0..c.n_layers {
            let o = self.layout.layers[l];
            let (done, rest) = self.layers.split_at_mut(l);
            let a = &mut rest[0];
            if l > 0 {
                // This layer's input is the previous layer's output.
                kernels::add_into(&mut a.x_in, &done[l - 1].x_mid, &self.scratch.d_rows);
            }
            let w = |off: usize, len: usize| &params[off..off + len];
            kernels::rmsnorm_forward(&mut a.xn1, &mut a.rstd1, &a.x_in, w(o.attn_norm, d), d, eps);
            // Projections, then rotate q and k into head-major layout.
            let lin = &mut self.scratch.dq; // rows-major staging
            kernels::linear_forward_in(prec, lin, &a.xn1, w(o.wq, d * d), n, d, d);
            kernels::to_head_major(&mut a.q, lin, b, t, heads, hd, Some(&self.rope));
            let lin_kv = &mut self.scratch.dkv;
            kernels::linear_forward_in(prec, lin_kv, &a.xn1, w(o.wk, kv * d), n, d, kv);
            kernels::to_head_major(&mut a.k, lin_kv, b, t, kv_heads, hd, Some(&self.rope));
            kernels::linear_forward_in(prec, lin_kv, &a.xn1, w(o.wv, kv * d), n, d, kv);
            kernels::to_head_major(&mut a.v, lin_kv, b, t, kv_heads, hd, None);
            attention::attention_forward(
                prec,
                &mut self.scratch.hm,
                &mut a.probs,
                &a.q,
                &a.k,
                &a.v,
                self.segment_starts.as_deref(),
                b,
                heads,
                kv_heads,
                t,
                hd,
            );
            kernels::from_head_major(&mut a.att, &self.scratch.hm, b, t, heads, hd, None);
            // Output projection and residual.
            kernels::linear_forward_in(prec, &mut a.x_mid, &a.att, w(o.wo, d * d), n, d, d);
            kernels::add_assign(&mut a.x_mid, &a.x_in);
            // MLP.
            kernels::rmsnorm_forward(&mut a.xn2, &mut a.rstd2, &a.x_mid, w(o.ffn_norm, d), d, eps);
            kernels::linear_forward_in(prec, &mut a.gate, &a.xn2, w(o.w_gate, f * d), n, d, f);
            kernels::linear_forward_in(prec, &mut a.up, &a.xn2, w(o.w_up, f * d), n, d, f);
            kernels::swiglu_forward(&mut a.h, &a.gate, &a.up);
            // The MLP's output waits in d_rows; the next layer (or the final
            // norm) adds it to x_mid to form its input.
            kernels::linear_forward_in(prec, &mut self.scratch.d_rows, &a.h, w(o.w_down, d * f), n, f, d);
        }
        let last = self.layers.last().expect("at least one layer");
        kernels::add_into(&mut self.x_final, &last.x_mid, &self.scratch.d_rows);
        let fw = &params[self.layout.final_norm..self.layout.final_norm + d];
        kernels::rmsnorm_forward(&mut self.xn_final, &mut self.rstd_final, &self.x_final, fw, d, eps);
        let head = &params[self.layout.lm_head..self.layout.lm_head + v * d];
        kernels::linear_forward_in(prec, &mut self.logits, &self.xn_final, head, n, d, v);
    }

    /// The logits of the last forward pass, `[batch*seq_len, vocab]`.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Mean cross-entropy of the last forward pass against `targets`, without gradients.
    pub fn eval_loss(&self, targets: &[u32]) -> f64 {
        kernels::cross_entropy_loss(&self.logits, targets, self.config.vocab_size)
    }

    /// Cross-entropy of each position of the last forward pass (for bits per byte).
    pub fn eval_losses(&self, targets: &[u32]) -> Vec<f64> {
        kernels::cross_entropy_rows(&self.logits, targets, self.config.vocab_size)
    }

    /// Mean cross-entropy against `targets`; turns the logits into the gradient
    /// of `loss * grad_scale` (the scale divides among accumulation steps).
    pub fn loss_and_grad_logits(&mut self, targets: &[u32], grad_scale: f32) -> f32 {
        kernels::cross_entropy_inplace(&mut self.logits, targets, self.config.vocab_size, grad_scale)
    }

    /// Backpropagates from the logits' gradient, adding into `grads` (same
    /// layout as `params`; zero it before the first micro-batch of a step).
    pub fn backward(&mut self, params: &[f32], grads: &mut [f32]) {
        let c = self.config.clone();
        let (n, d, hd, f, v) = (self.rows(), c.d_model, c.head_dim(), c.ffn_hidden, c.vocab_size);
        let (b, t, heads, kv_heads) = (self.batch, self.seq_len, c.n_heads, c.n_kv_heads);
        let dims = Dims { n, d, hd, f, b, t, heads, kv_heads };
        let prec = self.precision;
        let s = &mut self.scratch;

        // Output head: dW_head += dlogits^T @ xn_final; dxn = dlogits @ W_head.
        let head = self.layout.lm_head;
        kernels::linear_backward_in(
            prec,
            &mut s.dxn,
            &mut grads[head..head + v * d],
            &self.logits,
            &self.xn_final,
            &params[head..head + v * d],
            n,
            d,
            v,
            false,
        );
        kernels::zero(&mut s.dx);
        let fnorm = self.layout.final_norm;
        kernels::rmsnorm_backward(
            &mut s.dx,
            &mut grads[fnorm..fnorm + d],
            &s.dxn,
            &self.x_final,
            &params[fnorm..fnorm + d],
            &self.rstd_final,
            d,
        );

        for l in (0..c.n_layers).rev() {
            let (o, acts) = (self.layout.layers[l], &mut self.layers[l]);
            // dx is the gradient of the layer's output (= x_mid + down(...)).
            mlp_backward(prec, s, grads, params, o, acts, dims);
            // dx is now the gradient of x_mid (= x_in + o_proj(att)).
            attention_backward(prec, s, grads, params, o, acts, &self.rope, dims);
            // dx is now the gradient of this layer's input.
        }

        // Embedding rows receive the gradient of the first layer's input.
        let embed = self.layout.embed;
        let dembed = &mut grads[embed..embed + v * d];
        for (row, &tok) in s.dx.chunks(d).zip(&self.tokens) {
            let dst = &mut dembed[tok as usize * d..(tok as usize + 1) * d];
            for (g, x) in dst.iter_mut().zip(row) {
                *g += x;
            }
        }
    }
}

/// The shapes one layer's backward pass works in.
#[derive(Clone, Copy)]
struct Dims {
    /// Rows (batch × seq_len), model width, head width, MLP width.
    n: usize,
    d: usize,
    hd: usize,
    f: usize,
    b: usize,
    t: usize,
    heads: usize,
    kv_heads: usize,
}

/// The MLP's backward pass: from `s.dx`, the gradient of the layer's output,
/// adds the gradients of `w_down`, `w_gate`, `w_up` and the MLP's norm, and
/// leaves in `s.dx` the gradient of `x_mid` (the residual path included).
fn mlp_backward(
    prec: Precision,
    s: &mut Scratch,
    grads: &mut [f32],
    params: &[f32],
    o: LayerOffsets,
    a: &mut LayerActs,
    Dims { n, d, f, .. }: Dims,
) {
    let p = |off: usize, len: usize| &params[off..off + len];
    kernels::linear_backward_in(
        prec,
        &mut s.dh,
        &mut grads[o.w_down..o.w_down + d * f],
        &s.dx,
        &a.h,
        p(o.w_down, d * f),
        n,
        f,
        d,
        false,
    );
    kernels::swiglu_backward_inplace(&mut a.gate, &mut a.up, &s.dh);
    let (dgate, dup) = (&a.gate, &a.up);
    kernels::linear_backward_in(
        prec,
        &mut s.dxn,
        &mut grads[o.w_gate..o.w_gate + f * d],
        dgate,
        &a.xn2,
        p(o.w_gate, f * d),
        n,
        d,
        f,
        false,
    );
    kernels::linear_backward_in(
        prec,
        &mut s.dxn,
        &mut grads[o.w_up..o.w_up + f * d],
        dup,
        &a.xn2,
        p(o.w_up, f * d),
        n,
        d,
        f,
        true,
    );
    kernels::rmsnorm_backward(
        &mut s.dx,
        &mut grads[o.ffn_norm..o.ffn_norm + d],
        &s.dxn,
        &a.x_mid,
        p(o.ffn_norm, d),
        &a.rstd2,
        d,
    );
}

/// Attention's backward pass: from `s.dx`, the gradient of `x_mid`, adds the
/// gradients of `wo`, `wq`, `wk`, `wv` and the attention norm, and leaves in
/// `s.dx` the gradient of the layer's input (the residual path included).
#[allow(clippy::too_many_arguments)]
fn attention_backward(
    prec: Precision,
    s: &mut Scratch,
    grads: &mut [f32],
    params: &[f32],
    o: LayerOffsets,
    a: &mut LayerActs,
    rope: &Rope,
    Dims { n, d, hd, b, t, heads, kv_heads, .. }: Dims,
) {
    let kv = kv_heads * hd;
    let p = |off: usize, len: usize| &params[off..off + len];
    kernels::linear_backward_in(
        prec,
        &mut s.d_rows,
        &mut grads[o.wo..o.wo + d * d],
        &s.dx,
        &a.att,
        p(o.wo, d * d),
        n,
        d,
        d,
        false,
    );
    kernels::to_head_major(&mut s.hm, &s.d_rows, b, t, heads, hd, None);
    kernels::zero(&mut s.dk_hm);
    kernels::zero(&mut s.dv_hm);
    attention::attention_backward(
        prec,
        &mut s.dq_hm,
        &mut s.dk_hm,
        &mut s.dv_hm,
        &s.hm,
        &a.probs,
        &a.q,
        &a.k,
        &a.v,
        b,
        heads,
        kv_heads,
        t,
        hd,
    );
    // Undo the rotation (the rotation's backward) and return to rows.
    kernels::from_head_major(&mut s.dq, &s.dq_hm, b, t, heads, hd, Some(rope));
    kernels::linear_backward_in(
        prec,
        &mut s.dxn,
        &mut grads[o.wq..o.wq + d * d],
        &s.dq,
        &a.xn1,
        p(o.wq, d * d),
        n,
        d,
        d,
        false,
    );
    kernels::from_head_major(&mut s.dkv, &s.dk_hm, b, t, kv_heads, hd, Some(rope));
    kernels::linear_backward_in(
        prec,
        &mut s.dxn,
        &mut grads[o.wk..o.wk + kv * d],
        &s.dkv,
        &a.xn1,
        p(o.wk, kv * d),
        n,
        d,
        kv,
        true,
    );
    kernels::from_head_major(&mut s.dkv, &s.dv_hm, b, t, kv_heads, hd, None);
    kernels::linear_backward_in(
        prec,
        &mut s.dxn,
        &mut grads[o.wv..o.wv + kv * d],
        &s.dkv,
        &a.xn1,
        p(o.wv, kv * d),
        n,
        d,
        kv,
        true,
    );
    kernels::rmsnorm_backward(
        &mut s.dx,
        &mut grads[o.attn_norm..o.attn_norm + d],
        &s.dxn,
        &a.x_in,
        p(o.attn_norm, d),
        &a.rstd1,
        d,
    );
}
