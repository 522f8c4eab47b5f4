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

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::generate::batch::{BatchDecoder, Row};
use crate::generate::{Decoding, FinishReason, Generator, QuantizedWeights, SamplingOptions, Step, TokenLogprob};
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
    pub cancelled: AtomicU64,
    pub rejected: AtomicU64,
    pub prompt_tokens: AtomicU64,
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
    pub cancelled: u64,
    pub rejected: u64,
    pub prompt_tokens: u64,
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
            cancelled: l(&self.cancelled),
            rejected: l(&self.rejected),
            prompt_tokens: l(&self.prompt_tokens),
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
}

impl Active {
    fn reading_prompt(&self) -> bool {
        self.fed < self.prompt.len()
    }

    fn done(&self, finish: FinishReason) -> Event {
        Event::Done { finish, prompt_tokens: self.prompt.len(), completion_tokens: self.decoding.tokens().len() }
    }
}

fn run(model: &Model, config: &EngineConfig, jobs: &Receiver<Job>, stats: &Stats) {
    let tok = &model.tokenizer;
    let window = model.config.max_seq_len;
    let vocab = model.config.vocab_size;
    let mut decoder = BatchDecoder::new(&model.config, &model.params, config.max_active);
    if let Some(q) = &model.quantized {
        decoder = decoder.quantized(q);
    }
    let mut active: Vec<Active> = Vec::new();
    loop {
        // Admit waiting requests while slots are free; sleep when idle.
        while active.len() < config.max_active {
            let job = if active.is_empty() {
                match jobs.recv() {
                    Ok(j) => j,
                    Err(_) => return,
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
            if job.prompt.is_empty() || job.prompt.len() >= window {
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
            let slot = decoder.acquire().expect("a free slot while fewer than max_active are active");
            stats.prompt_tokens.fetch_add(job.prompt.len() as u64, Ordering::Relaxed);
            let decoding = Decoding::new(tok, &job.options);
            active.push(Active { slot, prompt: job.prompt, fed: 0, decoding, events: job.events });
            stats.active.store(active.len(), Ordering::SeqCst);
            stats.queued.fetch_sub(1, Ordering::SeqCst);
        }
        // A closed channel means the client went away: free its slot now.
        active.retain(|a| {
            let gone = a.events.is_closed();
            if gone {
                decoder.release(a.slot);
                stats.cancelled.fetch_add(1, Ordering::SeqCst);
            }
            !gone
        });
        stats.active.store(active.len(), Ordering::SeqCst);
        if active.is_empty() {
            continue;
        }

        // Generating sequences first (one row each), then prompt chunks.
        let mut rows = Vec::new();
        let mut owners = Vec::new();
        for (i, a) in active.iter().enumerate() {
            if !a.reading_prompt() {
                rows.push(Row { slot: a.slot, token: a.decoding.last_token(), logits: true });
                owners.push(i);
            }
        }
        for (i, a) in active.iter_mut().enumerate() {
            let room = config.step_rows.saturating_sub(rows.len());
            if !a.reading_prompt() || room == 0 {
                continue;
            }
            let end = (a.fed + room).min(a.prompt.len());
            for p in a.fed..end {
                rows.push(Row { slot: a.slot, token: a.prompt[p], logits: p + 1 == a.prompt.len() });
            }
            if end == a.prompt.len() {
                owners.push(i);
            }
            a.fed = end;
        }
        // `owners` lists the rows asking for logits in row order, as the logits come back.
        let logits = forward(&mut decoder, &rows, config.batch);
        stats.steps.fetch_add(1, Ordering::Relaxed);
        stats.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);

        // Sampling (top-k selection, detokenizing) costs about as much as the
        // forward pass at these sizes; sequences sample in parallel.
        let mut logit_row = vec![None; active.len()];
        for (k, &i) in owners.iter().enumerate() {
            logit_row[i] = Some(k);
        }
        let steps: Vec<Option<Step>> = active
            .par_iter_mut()
            .zip(logit_row)
            .map(|(a, k)| {
                let k = k?;
                let mut l = logits[k * vocab..(k + 1) * vocab].to_vec();
                Some(if decoder.len(a.slot) >= window {
                    a.decoding.finish(FinishReason::ContextFull)
                } else {
                    a.decoding.next(&mut l, tok)
                })
            })
            .collect();
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
            decoder.release(a.slot);
            stats.completed.fetch_add(1, Ordering::SeqCst);
        }
        stats.active.store(active.len(), Ordering::SeqCst);
    }
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
