//! `fledge serve` and `fledge bench serve`: argument parsing, startup and
//! printing; the server itself is `fledge::serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::generate::SamplingOptions;
use fledge::serve::load::{self, LoadConfig, LoadReport};
use fledge::serve::{AppState, Engine, EngineConfig, HttpLimits, Model};

use crate::cli::chat::load_model;
use crate::cli::rag::open_index;

/// What the model and the engine need; shared by `serve` and `bench serve`.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// The chat model: a checkpoint, a run folder (its latest checkpoint) or an exported HF folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// How the matrices are stored while generating: f32, or q8_0 (a quarter of the bytes, faster;
    /// perplexity within 1%) (default: f32).
    #[arg(long, value_enum, default_value_t, hide_default_value = true)]
    pub quantize: fledge::generate::Quantize,
    /// The model id clients send as `model` (default: the model folder's name).
    #[arg(long)]
    name: Option<String>,
    /// Ground answers in this index (`fledge index add`); requests can turn it off with "retrieval": false
    /// (default: none, no retrieval).
    #[arg(long)]
    index: Option<PathBuf>,
    /// The embedding model folder (default: found as `fledge index` finds it).
    #[arg(long)]
    embedder: Option<PathBuf>,
    /// Passages retrieved per grounded answer.
    #[arg(long, default_value_t = 5)]
    rag_k: usize,
    /// Sequences generating at once (each holds a KV cache of the model's window).
    #[arg(long, default_value_t = 64)]
    max_active: usize,
    /// Requests waiting for a free slot; beyond this the server answers 503 at once.
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// Run each sequence through its own forward pass (to measure what batching gains; default: off,
    /// sequences batched).
    #[arg(long)]
    unbatched: bool,
    /// Sampling for requests that leave a field out.
    #[arg(long, default_value_t = fledge::generate::CHAT_TEMPERATURE)]
    temperature: f32,
    /// Sample only from the most likely tokens that together hold this probability, for requests
    /// without `top_p`.
    #[arg(long, default_value_t = fledge::generate::CHAT_TOP_P)]
    top_p: f32,
    /// Sample only from this many most likely tokens (0: all), for requests without `top_k` (as `fledge
    /// chat`).
    #[arg(long, default_value_t = fledge::generate::CHAT_TOP_K)]
    top_k: usize,
    /// Make tokens the reply has already used less likely (the prompt's do not count), for requests
    /// without `repetition_penalty` (1: off).
    #[arg(long, default_value_t = fledge::generate::CHAT_REPETITION_PENALTY)]
    repetition_penalty: f32,
    /// Classifier-free guidance toward the last user message, for chat requests without `guidance`,
    /// as `fledge chat --guidance` (0: off; not applied to answers with a context).
    #[arg(long, default_value_t = fledge::chat::CHAT_GUIDANCE)]
    guidance: f32,
    /// Answer about a context (a `context` message, or the passages retrieval found) with the span
    /// of it the model finds likeliest, as `fledge ask` does, for chat requests without `quote`:
    /// questions (only questions about the text, as `fledge chat --quote`; with an index every
    /// request gets a context, and a story request answered with a quote is no story), always
    /// (`--quote` alone) or off.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "always")]
    quote: fledge::chat::quote::QuoteMode,
    /// Asked for a story, sample up to this many side by side and answer with the first that uses
    /// every word of the request (else the one that uses the most), as `fledge chat --story-tries`,
    /// for chat requests without `story_tries`; the story then arrives whole, not token by token
    /// (1: one sample, streamed).
    #[arg(long, default_value_t = fledge::chat::tries::STORY_TRIES, value_parser = super::chat::parse_tries)]
    story_tries: usize,
}

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to listen on. The default answers only this machine; 0.0.0.0 answers the network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0: any free port, printed at startup).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Require `Authorization: Bearer KEY` on the API (default: none, the API is open; also read from
    /// FLEDGE_API_KEY).
    #[arg(long, env = "FLEDGE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Largest request body, in KiB.
    #[arg(long, default_value_t = 1024)]
    max_body_kib: usize,
    /// Open connections at once.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Seconds a client has to send its request body once the headers are in (the headers get 10).
    #[arg(long, default_value_t = 10.0)]
    body_timeout: f64,
    /// Seconds after which any connection is closed.
    #[arg(long, default_value_t = 600)]
    connection_timeout: u64,
    /// Let web pages from this origin call the API (repeatable; default: none, CORS off).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,
}

#[derive(Args)]
pub struct BenchServeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Concurrent streaming clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long the clients keep sending requests.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Longest answer per request, in tokens.
    #[arg(long, default_value_t = 64)]
    max_tokens: usize,
    /// Also run the same load unbatched, and print both (default: off).
    #[arg(long)]
    compare: bool,
    /// Write the figures (JSON) here (default: none, print only).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn state(args: &ModelArgs, api_key: Option<String>, unbatched: bool) -> Result<Arc<AppState>> {
    let model = crate::cli::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tokenizer) = load_model(&model)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => fledge::train::checkpoint::model_name(&model),
    };
    let index = match &args.index {
        Some(dir) => Some(Arc::new(open_index(dir, args.embedder.as_deref())?)),
        None => None,
    };
    if args.max_active == 0 {
        bail!("--max-active must be at least 1");
    }
    let quantized = fledge::generate::QuantizedWeights::for_option(args.quantize, &config, &params);
    let model = Arc::new(Model { name, config, params, tokenizer, quantized });
    let engine = Engine::start(
        model.clone(),
        EngineConfig { max_active: args.max_active, queue: args.queue, batch: !unbatched, ..Default::default() },
    );
    let defaults = SamplingOptions {
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        repetition_penalty: args.repetition_penalty,
        ..Default::default()
    };
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if !(0.0..=10.0).contains(&args.guidance) {
        bail!("--guidance is {}; it must be between 0 and 10", args.guidance);
    }
    let (guidance, quote, story_tries) = (args.guidance, args.quote, args.story_tries);
    Ok(Arc::new(AppState {
        model,
        engine,
        index,
        rag_k: args.rag_k,
        api_key,
        defaults,
        guidance,
        quote,
        story_tries,
        started,
    }))
}

/// A positive number of seconds from the command line.
fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(value > 0.0 && value.is_finite()) {
        bail!("{flag} is {value}; give a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(value))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

pub fn run_serve(args: ServeArgs) -> Result<()> {
    let limits = HttpLimits {
        max_body: args.max_body_kib * 1024,
        max_connections: args.max_connections,
        body_timeout: seconds("--body-timeout", args.body_timeout)?,
        connection_timeout: Duration::from_secs(args.connection_timeout),
        cors_origins: args.cors_origins.clone(),
        ..Default::default()
    };
    if args.api_key.as_deref() == Some("") {
        bail!("--api-key (or FLEDGE_API_KEY) is empty; give a key or leave it out");
    }
    let state = state(&args.model, args.api_key.clone(), args.model.unbatched)?;
    let app = fledge::serve::app(state.clone(), &limits)?;
    runtime()?.block_on(async move {
        let addr = format!("{}:{}", args.host, args.port);
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let loopback = local.ip().is_loopback();
        if !loopback && args.api_key.is_none() {
            tracing::warn!("listening on {local} without an API key: anyone on the network can use this model");
        }
        println!(
            "fledge is serving `{}` ({}-token window{}) at http://{local}/ : chat page at /, OpenAI API at /v1",
            state.model.name,
            state.model.config.max_seq_len,
            if state.index.is_some() { ", answers grounded in the index" } else { "" }
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down");
        };
        fledge::serve::serve(listener, app, &limits, shutdown).await?;
        Ok(())
    })
}

pub fn run_bench_serve(args: BenchServeArgs) -> Result<()> {
    let mut runs = vec![("batched", false)];
    if args.compare || args.model.unbatched {
        runs = if args.compare { vec![("batched", false), ("unbatched", true)] } else { vec![("unbatched", true)] };
    }
    let rss_before = fledge::bench::peak_rss_mb();
    let mut reports: Vec<(String, LoadReport, Option<f64>)> = Vec::new();
    for (label, unbatched) in runs {
        let state = state(&args.model, None, unbatched)?;
        let limits = HttpLimits::default();
        let app = fledge::serve::app(state.clone(), &limits)?;
        let cfg = LoadConfig {
            clients: args.clients,
            duration: Duration::from_secs(args.seconds),
            max_tokens: args.max_tokens,
            request_timeout: Duration::from_secs(args.seconds + 120),
            api_key: None,
        };
        eprintln!("{label}: {} clients streaming for {} s ...", args.clients, args.seconds);
        let report = runtime()?.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr: SocketAddr = listener.local_addr()?;
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                fledge::serve::serve(listener, app, &limits, async {
                    let _ = stopped.await;
                })
                .await
            });
            let report = load::run(addr, &state.model.name, &cfg).await;
            let _ = stop.send(());
            let _ = server.await;
            anyhow::Ok(report)
        })?;
        let stats = state.engine.stats.snapshot();
        eprintln!(
            "  engine: {} steps, {:.1} rows per step, {} cancelled, {} rejected",
            stats.steps,
            stats.rows as f64 / stats.steps.max(1) as f64,
            stats.cancelled,
            stats.rejected
        );
        reports.push((label.to_string(), report, fledge::bench::peak_rss_mb()));
    }
    println!(
        "{:<10} {:>8} {:>7} {:>10} {:>10} {:>11} {:>11} {:>9} {:>9}",
        "engine", "answers", "errors", "TTFT p50", "TTFT p95", "answer p50", "answer p95", "tokens/s", "peak MiB"
    );
    for (label, r, peak) in &reports {
        println!(
            "{label:<10} {:>8} {:>7} {:>8.0}ms {:>8.0}ms {:>9.0}ms {:>9.0}ms {:>9.1} {:>9.0}",
            r.requests,
            r.errors,
            r.ttft_p50_ms,
            r.ttft_p95_ms,
            r.latency_p50_ms,
            r.latency_p95_ms,
            r.tokens_per_second,
            peak.unwrap_or(f64::NAN)
        );
        for e in &r.error_samples {
            println!("  error: {e}");
        }
    }
    if reports.len() == 2 {
        println!("batching: {:.2}x the tokens/s", reports[0].1.tokens_per_second / reports[1].1.tokens_per_second);
    }
    println!(
        "{} clients, {} s, up to {} tokens per answer; peak memory is this process (server and clients), {:.0} MiB before the load",
        args.clients,
        args.seconds,
        args.max_tokens,
        rss_before.unwrap_or(f64::NAN)
    );
    if let Some(out) = &args.out {
        let json: Vec<_> = reports
            .iter()
            .map(|(label, r, peak)| serde_json::json!({"engine": label, "report": r, "peak_rss_mib": peak}))
            .collect();
        fledge::fsutil::write_atomic(out, serde_json::to_string_pretty(&json)?.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
