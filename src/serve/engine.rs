//! The generation engine: one thread that owns the model and runs every
//! request's next token in one batched forward pass.
//!
//! Requests wait in a bounded queue (full: the caller answers 503). Each step
//! the engine admits waiting requests into free KV-cache slots, drops the
//! ones whose client has gone (the receiving end of their channel was
//! dropped: the HTTP connection closed), then builds one batch: a row for
//! every sequence that is generating, and prompt tokens of sequences still
//! reading theirs, up to a row budget so that a long prompt is read in chunks
//! without stalling everyone else's stream. Generation never runs on the
//! async threads that serve HTTP.
//!
//! A guided request (classifier-free guidance, `crate::chat::generate_reply`)
//! holds two slots: its prompt, and the other prompt it is contrasted with,
//! read first; while it generates, each step has a row for both, and its
//! logits are contrasted before sampling.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::generate::batch::{BatchDecoder, Row};
use crate::generate::{
    contrast_logits, Decoding, FinishReason, Generator, QuantizedWeights, SamplingOptions, Step, TokenLogprob,
};
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;

/// A loaded model, shared by the engine and the HTTP handlers.
pub struct Model {
    /// The id clients pass as `model`.
    pub name: String,
    pub config: ModelConfig,
    pub params: Vec<f32>,
    pub tokenizer: Tokenizer,
    /// The matrices in Q8_0 when serving quantized (`--quantize q8_0`).
    pub quantized: Option<QuantizedWeights>,
}

impl Model {
    /// A batch-1 generator over this model's weights, Q8_0 when it is served so.
    pub fn generator(&self) -> Generator<'_> {
        let g = Generator::new(&self.config, &self.params);
        match &self.quantized {
            Some(q) => g.quantized(q),
            None => g,
        }
    }
}

/// What a request's channel carries, in order: text pieces, then one `Done`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A piece of the answer, and the log-probabilities of the tokens it
    /// came from (when the request asked for them).
    Text(String, Vec<TokenLogprob>),
    Done {
        finish: FinishReason,
        prompt_tokens: usize,
        completion_tokens: usize,
    },
}

/// A request ready to run: prompt tokens, how to sample, where to send the text.
pub struct Job {
    pub prompt: Vec<u32>,
    pub options: SamplingOptions,
    pub events: UnboundedSender<Event>,
    /// Classifier-free guidance: the prompt without the request, and its weight.
    pub guide: Option<Guide>,
}

/// The other prompt of a guided job (no longer than the job's own) and how
/// strongly the reply is steered away from it.
#[derive(Debug, Clone)]
pub struct Guide {
    pub prompt: Vec<u32>,
    pub weight: f32,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Sequences generating at once (each holds a KV cache).
    pub max_active: usize,
    /// Requests waiting for a slot; more are refused.
    pub queue: usize,
    /// Rows per forward pass: every generating sequence's next token, then
    /// prompt tokens up to this many.
    pub step_rows: usize,
    /// Run all sequences through one forward pass (false: one pass per
    /// sequence, kept to measure what batching gains).
    pub batch: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { max_active: 64, queue: 256, step_rows: 256, batch: true }
    }
}

/// Counters the engine keeps; `/health` and the load test read them.
#[derive(Debug, Default)]
pub struct Stats {
    pub queued: AtomicUsize,
    pub active: AtomicUsize,
    pub completed: AtomicU64,
    /// Of `completed`, requests answered by quoting their context, outside
    /// the batch (see `routes::quote_or_submit`).
    pub quoted: AtomicU64,
    pub cancelled: AtomicU64,
    pub rejected: AtomicU64,
    pub prompt_tokens: AtomicU64,
    /// Prompt tokens a slot's cache already held (not read again).
    pub cached_prompt_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
    pub steps: AtomicU64,
    pub rows: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct StatsSnapshot {
    pub queued: usize,
    pub active: usize,
    pub completed: u64,
    pub quoted: u64,
    pub cancelled: u64,
    pub rejected: u64,
    pub prompt_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub generated_tokens: u64,
    pub steps: u64,
    pub rows: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        StatsSnapshot {
            queued: self.queued.load(Ordering::SeqCst),
            active: self.active.load(Ordering::SeqCst),
            completed: l(&self.completed),
            quoted: l(&self.quoted),
            cancelled: l(&self.cancelled),
            rejected: l(&self.rejected),
            prompt_tokens: l(&self.prompt_tokens),
            cached_prompt_tokens: l(&self.cached_prompt_tokens),
            generated_tokens: l(&self.generated_tokens),
            steps: l(&self.steps),
            rows: l(&self.rows),
        }
    }
}

/// The queue was full.
#[derive(Debug, thiserror::Error)]
#[error("the server is busy: {waiting} requests are already waiting; retry shortly")]
pub struct Busy {
    pub waiting: usize,
}

/// The handle the HTTP side holds: submit jobs, read counters.
pub struct Engine {
    queue: SyncSender<Job>,
    pub stats: Arc<Stats>,
    pub config: EngineConfig,
    _thread: JoinHandle<()>,
}

impl Engine {
    pub fn start(model: Arc<Model>, config: EngineConfig) -> Self {
        // Room for every job not yet picked up: the limit is enforced in `submit`.
        let (queue, jobs) = mpsc::sync_channel(config.max_active + config.queue);
        let stats = Arc::new(Stats::default());
        let (s, c) = (stats.clone(), config.clone());
        let thread = std::thread::Builder::new()
            .name("fledge-engine".into())
            .spawn(move || run(&model, &c, &jobs, &s))
            .expect("spawn the engine thread");
        Self { queue, stats, config, _thread: thread }
    }

    /// Queues a job, or refuses it at once when every slot is taken and the
    /// queue is full. Jobs the engine has not picked up yet count as waiting
    /// only beyond the free slots, so a burst into an idle server is not refused.
    pub fn submit(&self, job: Job) -> Result<(), Busy> {
        let waiting = self.stats.queued.fetch_add(1, Ordering::SeqCst);
        let active = self.stats.active.load(Ordering::SeqCst);
        let refuse = |stats: &Stats| {
            stats.rejected.fetch_add(1, Ordering::SeqCst);
            stats.queued.fetch_sub(1, Ordering::SeqCst);
            Busy { waiting: self.config.queue }
        };
        if waiting + active >= self.config.max_active + self.config.queue {
            return Err(refuse(&self.stats));
        }
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(refuse(&self.stats)),
        }
    }
}

/// A request holding a slot.
struct Active {
    slot: usize,
    prompt: Vec<u32>,
    /// Prompt tokens already in the cache.
    fed: usize,
    decoding: Decoding,
    events: UnboundedSender<Event>,
    guide: Option<Guiding>,
}

/// The second sequence of a guided job.
struct Guiding {
    slot: usize,
    prompt: Vec<u32>,
    fed: usize,
    weight: f32,
    /// Its latest logits, waiting for the job's own.
    logits: Vec<f32>,
}

/// Which of a job's sequences a row of logits belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Sequence {
    Own,
    Guide,
}

impl Active {
    fn reading_prompt(&self) -> bool {
        self.fed < self.prompt.len() || self.guide.as_ref().is_some_and(|g| g.fed < g.prompt.len())
    }

    fn release(&self, decoder: &mut BatchDecoder) {
        decoder.release(self.slot);
        if let Some(g) = &self.guide {
            decoder.release(g.slot);
        }
    }

    fn done(&self, finish: FinishReason) -> Event {
        Event::Done { finish, prompt_tokens: self.prompt.len(), completion_tokens: self.decoding.tokens().len() }
    }
}

/// The engine's loop: admit waiting jobs, drop those whose client went
/// away, run one batched forward pass over every active sequence's next
/// rows, sample where a sequence asked for logits, send what came out.
/// Returns when the job channel closes and nothing is active.
fn run(model: &Model, config: &EngineConfig, jobs: &Receiver<Job>, stats: &Stats) {
    // Two slots a job at most (a guided one), so a free job place always has its slots.
    let mut decoder = BatchDecoder::new(&model.config, &model.params, 2 * config.max_active);
    if let Some(q) = &model.quantized {
        decoder = decoder.quantized(q);
    }
    let mut active: Vec<Active> = Vec::new();
    loop {
        if !admit(&mut active, &mut decoder, jobs, model, config, stats) {
            return;
        }
        drop_cancelled(&mut active, &mut decoder, stats);
        if active.is_empty() {
            continue;
        }
        let (rows, owners) = schedule(&mut active, config.step_rows);
        let logits = forward(&mut decoder, &rows, config.batch);
        stats.steps.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
        let steps = sample(&mut active, &owners, &logits, &decoder, model);
        deliver(&mut active, steps, &mut decoder, stats);
    }
}

/// Admits waiting jobs while slots are free, blocking for one when nothing
/// is active. False when the channel closed while the engine was idle.
fn admit(
    active: &mut Vec<Active>,
    decoder: &mut BatchDecoder,
    jobs: &Receiver<Job>,
    model: &Model,
    config: &EngineConfig,
    stats: &Stats,
) -> bool {
    while active.len() < config.max_active {
        let job = if active.is_empty() {
            match jobs.recv() {
                Ok(j) => j,
                Err(_) => return false,
            }
        } else {
            match jobs.try_recv() {
                Ok(j) => j,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => break,
            }
        };
        // Each job moves from `queued` to another counter: the other one
        // first, so that a reader never sees it in neither (and thinks
        // the engine idle while it is about to start).
        if job.events.is_closed() {
            stats.cancelled.fetch_add(1, Ordering::SeqCst);
            stats.queued.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        if job.prompt.is_empty() || job.prompt.len() >= model.config.max_seq_len {
            // The HTTP side checks this; an engine never trusts it.
            let _ = job.events.send(Event::Done {
                finish: FinishReason::ContextFull,
                prompt_tokens: job.prompt.len(),
                completion_tokens: 0,
            });
            stats.completed.fetch_add(1, Ordering::SeqCst);
            stats.queued.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        // A slot that already holds the start of the prompt (the conversation so far) reads only the rest.
        let (slot, fed) = decoder.acquire_for(&job.prompt).expect("a free slot while fewer than max_active are active");
        stats.prompt_tokens.fetch_add(job.prompt.len() as u64, Ordering::Relaxed);
        stats.cached_prompt_tokens.fetch_add(fed as u64, Ordering::Relaxed);
        let decoding = Decoding::new(&model.tokenizer, &job.options);
        let guide = job.guide.filter(|g| !g.prompt.is_empty() && g.prompt.len() <= job.prompt.len()).map(|g| {
            let (slot, fed) =
                decoder.acquire_for(&g.prompt).expect("two free slots while fewer than max_active are active");
            Guiding { slot, prompt: g.prompt, fed, weight: g.weight, logits: Vec::new() }
        });
        active.push(Active { slot, prompt: job.prompt, fed, decoding, events: job.events, guide });
        stats.active.store(active.len(), Ordering::SeqCst);
        stats.queued.fetch_sub(1, Ordering::SeqCst);
    }
    true
}

/// A closed channel means the client went away: frees its slots now.
fn drop_cancelled(active: &mut Vec<Active>, decoder: &mut BatchDecoder, stats: &Stats) {
    active.retain(|a| {
        let gone = a.events.is_closed();
        if gone {
            a.release(decoder);
            stats.cancelled.fetch_add(1, Ordering::SeqCst);
        }
        !gone
    });
    stats.active.store(active.len(), Ordering::SeqCst);
}

/// This step's rows: generating sequences first (one row each, and one for
/// a guide), then prompt chunks up to `step_rows`. With them, the rows that
/// ask for logits, in row order (as the logits come back): which job, and
/// whether the row is its own or its guide's.
fn schedule(active: &mut [Active], step_rows: usize) -> (Vec<Row>, Vec<(usize, Sequence)>) {
    let mut rows = Vec::new();
    let mut owners = Vec::new();
    for (i, a) in active.iter().enumerate() {
        if !a.reading_prompt() {
            rows.push(Row { slot: a.slot, token: a.decoding.last_token(), logits: true });
            owners.push((i, Sequence::Own));
            if let Some(g) = &a.guide {
                rows.push(Row { slot: g.slot, token: a.decoding.last_token(), logits: true });
                owners.push((i, Sequence::Guide));
            }
        }
    }
    for (i, a) in active.iter_mut().enumerate() {
        if !a.reading_prompt() {
            continue;
        }
        // A guide's prompt first: its logits wait for the job's own.
        if let Some(g) = a.guide.as_mut() {
            if feed(&mut rows, step_rows, g.slot, &g.prompt, &mut g.fed) {
                owners.push((i, Sequence::Guide));
            }
        }
        if feed(&mut rows, step_rows, a.slot, &a.prompt, &mut a.fed) {
            owners.push((i, Sequence::Own));
        }
    }
    (rows, owners)
}

/// Each job's next step from its row of `logits` (steered by its guide's),
/// or `None` for a job still reading its prompt. Sampling (top-k selection,
/// detokenizing) costs about as much as the forward pass at these sizes, so
/// sequences sample in parallel.
fn sample(
    active: &mut [Active],
    owners: &[(usize, Sequence)],
    logits: &[f32],
    decoder: &BatchDecoder,
    model: &Model,
) -> Vec<Option<Step>> {
    let (vocab, window, tok) = (model.config.vocab_size, model.config.max_seq_len, &model.tokenizer);
    let mut logit_row = vec![None; active.len()];
    for (k, &(i, sequence)) in owners.iter().enumerate() {
        let row = &logits[k * vocab..(k + 1) * vocab];
        match sequence {
            Sequence::Own => logit_row[i] = Some(k),
            Sequence::Guide => {
                let g = active[i].guide.as_mut().expect("a guide row comes from a guided job");
                g.logits.clear();
                g.logits.extend_from_slice(row);
            }
        }
    }
    active
        .par_iter_mut()
        .zip(logit_row)
        .map(|(a, k)| {
            let k = k?;
            let mut l = logits[k * vocab..(k + 1) * vocab].to_vec();
            if let Some(g) = &a.guide {
                contrast_logits(&mut l, &g.logits, g.weight, crate::chat::GUIDANCE_PLAUSIBLE);
            }
            Some(if decoder.len(a.slot) >= window {
                a.decoding.finish(FinishReason::ContextFull)
            } else {
                a.decoding.next(&mut l, tok)
            })
        })
        .collect()
}

/// Sends each step's text to its client; a finished job gets its `Done`
/// and leaves, freeing its slots.
fn deliver(active: &mut Vec<Active>, steps: Vec<Option<Step>>, decoder: &mut BatchDecoder, stats: &Stats) {
    let mut finished = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        let a = &mut active[i];
        match step {
            None => {}
            Some(Step::Text(piece)) => {
                stats.generated_tokens.fetch_add(1, Ordering::Relaxed);
                if !piece.is_empty() {
                    let _ = a.events.send(Event::Text(piece, a.decoding.take_logprobs()));
                }
            }
            Some(Step::Finished(piece, reason)) => {
                let logprobs = a.decoding.take_logprobs();
                if !piece.is_empty() || !logprobs.is_empty() {
                    let _ = a.events.send(Event::Text(piece, logprobs));
                }
                let _ = a.events.send(a.done(reason));
                finished.push(i);
            }
        }
    }
    for &i in finished.iter().rev() {
        let a = active.swap_remove(i);
        a.release(decoder);
        stats.completed.fetch_add(1, Ordering::SeqCst);
    }
    stats.active.store(active.len(), Ordering::SeqCst);
}

/// Adds up to the rows' room of `prompt`'s unread tokens for `slot`;
/// true when its last one is among them (the row that asks for logits).
fn feed(rows: &mut Vec<Row>, step_rows: usize, slot: usize, prompt: &[u32], fed: &mut usize) -> bool {
    let room = step_rows.saturating_sub(rows.len());
    if *fed >= prompt.len() || room == 0 {
        return false;
    }
    let end = (*fed + room).min(prompt.len());
    for p in *fed..end {
        rows.push(Row { slot, token: prompt[p], logits: p + 1 == prompt.len() });
    }
    *fed = end;
    end == prompt.len()
}

/// One forward pass over all rows, or (unbatched) one per sequence.
fn forward(decoder: &mut BatchDecoder, rows: &[Row], batch: bool) -> Vec<f32> {
    if batch {
        return decoder.forward(rows).to_vec();
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let end = start + rows[start..].iter().take_while(|r| r.slot == rows[start].slot).count();
        out.extend_from_slice(decoder.forward(&rows[start..end]));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{generate_reply, render_tokens, without_request, Message, Role};
    use crate::model::params::{init_params, ParamLayout};

    /// A random tiny model with a tokenizer of a few hundred tokens, and an
    /// engine over it reading prompts in chunks of 7 rows.
    fn tiny_engine() -> (Arc<Model>, Engine) {
        let text = "tell me a story about a cat. the cat sat on the mat and the dog ran.\n".repeat(30);
        let tokenizer = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let config = ModelConfig::preset("tiny", tokenizer.vocab_size()).unwrap();
        let params = init_params(&config, &ParamLayout::new(&config), 5);
        let model = Arc::new(Model { name: "m".into(), config, params, tokenizer, quantized: None });
        let engine = Engine::start(model.clone(), EngineConfig { step_rows: 7, ..Default::default() });
        (model, engine)
    }

    /// A job's text, from its pieces up to `Done`.
    fn served_text(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> String {
        let mut served = String::new();
        while let Some(event) = rx.blocking_recv() {
            match event {
                Event::Text(piece, _) => served.push_str(&piece),
                Event::Done { .. } => break,
            }
        }
        served
    }

    /// A guided job's text is `generate_reply`'s for the same options, with
    /// other jobs (guided or not) batched beside it and prompts read in
    /// chunks of a few rows.
    #[test]
    fn guided_jobs_answer_as_batch_one_guidance_does() {
        let (model, engine) = tiny_engine();
        let tok = &model.tokenizer;

        let conversations = [
            vec![Message::new(Role::User, "tell me a story about a cat.")],
            vec![
                Message::new(Role::User, "the dog ran."),
                Message::new(Role::Assistant, "the cat sat."),
                Message::new(Role::User, "a story about the mat?"),
            ],
            vec![Message::new(Role::User, "the cat sat on")],
        ];
        let weights = [1.5, 3.0, 0.0];
        let mut receivers = Vec::new();
        for (i, (messages, &weight)) in conversations.iter().zip(&weights).enumerate() {
            let options =
                SamplingOptions { temperature: 0.9, max_new_tokens: 16, seed: i as u64, ..Default::default() };
            let guide = (weight > 0.0)
                .then(|| Guide { prompt: render_tokens(tok, &without_request(messages).unwrap(), true).ids, weight });
            let prompt = render_tokens(tok, messages, true).ids;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            engine.submit(Job { prompt, options: options.clone(), events: tx, guide }).unwrap();
            receivers.push((rx, options));
        }
        for ((mut rx, options), (messages, &weight)) in receivers.into_iter().zip(conversations.iter().zip(&weights)) {
            let served = served_text(&mut rx);
            let (mut g, mut other) = (model.generator(), model.generator());
            let expected = generate_reply(&mut g, &mut other, weight, tok, messages, &options, |_| {});
            assert_eq!(served, expected.text, "guidance {weight}");
            if weight > 0.0 {
                let plain = generate_reply(&mut g, &mut other, 0.0, tok, messages, &options, |_| {});
                assert_ne!(served, plain.text, "the guidance changes these replies, so the check says something");
            }
        }
    }

    /// A chat's next turn, sent whole as the API sends it, reads only what
    /// its slot does not already hold, and answers as a fresh read does.
    #[test]
    fn a_next_turn_reuses_its_slot_and_answers_as_a_fresh_read() {
        let (model, engine) = tiny_engine();
        let tok = &model.tokenizer;
        let options = SamplingOptions { temperature: 0.9, max_new_tokens: 12, seed: 3, ..Default::default() };
        let ask = |messages: &[Message]| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let prompt = render_tokens(tok, messages, true).ids;
            engine.submit(Job { prompt, options: options.clone(), events: tx, guide: None }).unwrap();
            served_text(&mut rx)
        };
        let mut messages = vec![Message::new(Role::User, "tell me a story about a cat.")];
        let first = ask(&messages);
        let cached = engine.stats.snapshot().cached_prompt_tokens;
        messages.push(Message::new(Role::Assistant, first));
        messages.push(Message::new(Role::User, "the dog ran."));
        let second = ask(&messages);
        let kept = engine.stats.snapshot().cached_prompt_tokens - cached;
        assert!(kept >= render_tokens(tok, &messages[..1], true).ids.len() as u64, "kept {kept}");
        let (mut g, mut other) = (model.generator(), model.generator());
        assert_eq!(second, generate_reply(&mut g, &mut other, 0.0, tok, &messages, &options, |_| {}).text);
    }
}
