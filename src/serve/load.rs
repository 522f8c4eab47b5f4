//! The load test behind `fledge bench serve`: clients on loopback, each
//! streaming chat completions back to back for a fixed time, measuring what a
//! user feels (time to the first token, time to the whole answer) and what
//! the server delivers (answers and tokens per second, errors).
//!
//! Bounded in count and time: a fixed number of clients, no new request after
//! the deadline, and a timeout on every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub clients: usize,
    pub duration: Duration,
    pub max_tokens: usize,
    pub request_timeout: Duration,
    pub api_key: Option<String>,
}

/// One request's outcome, as a client saw it.
#[derive(Debug, Clone)]
struct Outcome {
    ttft: Option<f64>,
    total: f64,
    tokens: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub clients: usize,
    pub seconds: f64,
    pub requests: usize,
    pub errors: usize,
    /// The first few errors, verbatim.
    pub error_samples: Vec<String>,
    pub ttft_p50_ms: f64,
    pub ttft_p95_ms: f64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// Completion tokens (from each answer's usage) over the run's wall time.
    pub tokens_per_second: f64,
    pub tokens: usize,
}

const PROMPTS: [&str; 8] = [
    "Tell me a story about a little cat.",
    "What is your name?",
    "Once upon a time there was a girl who loved the sea. What did she do?",
    "Who are you?",
    "Can you tell me about a dog that found a ball?",
    "What do you like to do on a sunny day?",
    "Write a short story about a brave mouse and a big red apple.",
    "Hello!",
];

/// Percentile (nearest rank) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// Runs the load against a server at `addr` serving `model`.
pub async fn run(addr: SocketAddr, model: &str, cfg: &LoadConfig) -> LoadReport {
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(cfg.clients).build_http();
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut tasks = Vec::new();
    for c in 0..cfg.clients {
        let (client, outcomes, errors) = (client.clone(), outcomes.clone(), errors.clone());
        let (model, cfg) = (model.to_string(), cfg.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let body = json!({
                    "model": model,
                    "messages": [{"role": "user", "content": PROMPTS[(c + n as usize) % PROMPTS.len()]}],
                    "max_tokens": cfg.max_tokens,
                    "temperature": 0.8,
                    "seed": (c as u64) << 32 | n,
                    "stream": true,
                    "stream_options": {"include_usage": true},
                    // One sample a story request: the load test measures streaming, and
                    // a story told in tries arrives whole (time to first token = all of it).
                    "story_tries": 1,
                });
                n += 1;
                let one = one_request(&client, addr, &body, cfg.api_key.as_deref());
                match tokio::time::timeout(cfg.request_timeout, one).await {
                    Ok(Ok(o)) => outcomes.lock().await.push(o),
                    Ok(Err(e)) => errors.lock().await.push(e),
                    Err(_) => errors.lock().await.push(format!("timed out after {:?}", cfg.request_timeout)),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let outcomes = outcomes.lock().await.clone();
    let errors = errors.lock().await.clone();
    let mut ttft: Vec<f64> = outcomes.iter().filter_map(|o| o.ttft).map(|t| t * 1e3).collect();
    let mut latency: Vec<f64> = outcomes.iter().map(|o| o.total * 1e3).collect();
    ttft.sort_by(f64::total_cmp);
    latency.sort_by(f64::total_cmp);
    let tokens: usize = outcomes.iter().map(|o| o.tokens).sum();
    LoadReport {
        clients: cfg.clients,
        seconds,
        requests: outcomes.len(),
        errors: errors.len(),
        error_samples: errors.into_iter().take(5).collect(),
        ttft_p50_ms: percentile(&ttft, 50.0),
        ttft_p95_ms: percentile(&ttft, 95.0),
        latency_p50_ms: percentile(&latency, 50.0),
        latency_p95_ms: percentile(&latency, 95.0),
        tokens_per_second: tokens as f64 / seconds,
        tokens,
    }
}

/// One streamed chat completion: reads the server-sent events to `[DONE]`.
async fn one_request(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    body: &Value,
    key: Option<&str>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut req =
        hyper::Request::post(format!("http://{addr}/v1/chat/completions")).header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    let (mut buffer, mut ttft, mut tokens, mut done) = (String::new(), None, 0, false);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("stream broke: {e}"))?;
        let Some(data) = frame.data_ref() else { continue };
        buffer.push_str(&String::from_utf8_lossy(data));
        while let Some(cut) = buffer.find("\n\n") {
            let event: String = buffer.drain(..cut + 2).collect();
            let Some(data) = event.trim().strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let chunk: Value = serde_json::from_str(data).map_err(|e| format!("bad chunk {data:?}: {e}"))?;
            let content = chunk["choices"][0]["delta"]["content"].as_str().unwrap_or("");
            if ttft.is_none() && !content.is_empty() {
                ttft = Some(start.elapsed().as_secs_f64());
            }
            if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
                tokens = n as usize;
            }
        }
    }
    if !done {
        return Err("the stream ended without [DONE]".into());
    }
    Ok(Outcome { ttft, total: start.elapsed().as_secs_f64(), tokens })
}
