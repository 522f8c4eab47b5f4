//! The HTTP routes: the OpenAI endpoints, `/health`, and the chat page.
//!
//! A request is checked and turned into prompt tokens on a blocking thread
//! (tokenizing a large body or embedding a query for retrieval would stall
//! the async threads that keep every other stream flowing), queued for the
//! engine, then answered whole or streamed as server-sent events.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::api::{self, ApiError, ChatRequest, CompletionRequest, QuoteField};
use super::engine::{Engine, Event, Guide, Job, Model};
use crate::chat::quote::QuoteMode;
use crate::chat::tries::{best_try, told_in_tries, try_options, wanted_words, MAX_STORY_TRIES};
use crate::chat::{fit_to_window, guided_against, quoted_reply, render_tokens, Message, Role};
use crate::generate::inspect::{inspect, Heads, InspectOptions};
use crate::generate::{FinishReason, SamplingOptions, TokenLogprob};
use crate::rag::ground::{context_text, ground, GROUNDED_SYSTEM};
use crate::rag::{Index, Mode, Passage};

/// The chat page: one file, no external resources, compiled into the binary.
const PAGE: &str = include_str!("page.html");

/// Everything the handlers share.
pub struct AppState {
    pub model: Arc<Model>,
    pub engine: Engine,
    pub index: Option<Arc<Index>>,
    /// Passages retrieved per grounded question.
    pub rag_k: usize,
    /// Clients must send `Authorization: Bearer <key>` when set.
    pub api_key: Option<String>,
    /// Sampling for fields a request leaves out.
    pub defaults: SamplingOptions,
    /// Classifier-free guidance for chat requests without `guidance`.
    pub guidance: f32,
    /// Which answers about a context are quoted, for chat requests without `quote`.
    pub quote: QuoteMode,
    /// Stories sampled per story request, for chat requests without `story_tries`.
    pub story_tries: usize,
    /// When the server started (the model's `created`).
    pub started: u64,
}

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/v1/models/{id}", get(model))
        .route("/v1/fledge/inspect", post(inspect_text))
        .layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .route("/", get(page))
        .route("/health", get(health))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn request_id(prefix: &str) -> String {
    format!("{prefix}-{:024x}", rand::random::<u128>() >> 32)
}

async fn page() -> Response {
    let mut r = axum::response::Html(PAGE).into_response();
    let h = r.headers_mut();
    // The page loads nothing from elsewhere; say so, so a browser refuses anything injected.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

async fn health(State(s): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"status": "ok", "model": s.model.name, "engine": s.engine.stats.snapshot()}))
}

async fn not_found(req: Request) -> ApiError {
    ApiError::status(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("unknown_url"),
        format!(
            "no route {} {}: the API is POST /v1/chat/completions, POST /v1/completions, POST /v1/fledge/inspect, GET /v1/models, GET /health",
            req.method(),
            req.uri().path()
        ),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::status(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        Some("method_not_allowed"),
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// Checks the bearer key (compared in constant time) when one is set.
async fn require_key(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(key) = &s.api_key {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let same =
            given.len() == key.len() && given.bytes().zip(key.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !same {
            return ApiError::status(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_api_key"),
                "missing or wrong API key: send the header `Authorization: Bearer <key>` with the server's key",
            )
            .into_response();
        }
    }
    next.run(req).await
}

fn model_json(s: &AppState) -> Value {
    json!({
        "id": s.model.name,
        "object": "model",
        "created": s.started,
        "owned_by": "fledge",
        "context_window": s.model.config.max_seq_len,
        "retrieval": s.index.is_some(),
        "quote": s.quote,
        "story_tries": s.story_tries,
    })
}

async fn models(State(s): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"object": "list", "data": [model_json(&s)]}))
}

async fn model(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    check_model(&s, &id)?;
    Ok(Json(model_json(&s)))
}

fn check_model(s: &AppState, name: &str) -> Result<(), ApiError> {
    if name == s.model.name {
        return Ok(());
    }
    Err(ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("the model `{name}` does not exist; this server has `{}`", s.model.name),
        kind: "invalid_request_error",
        param: Some("model".into()),
        code: Some("model_not_found"),
    })
}

/// The body, as JSON: a size-limit or read failure and a wrong content type
/// become errors in OpenAI's shape. Requiring `application/json` also means a
/// web page on another origin cannot post here without a CORS preflight.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let body = body.map_err(|e| {
        let kind =
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "request_too_large" } else { "invalid_request_error" };
        ApiError::status(e.status(), "invalid_request_error", Some(kind), format!("could not read the body: {e}"))
    })?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        return Err(ApiError::status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            None,
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    Ok(body)
}

/// A request turned into what the engine runs.
struct Prepared {
    prompt: Vec<u32>,
    options: SamplingOptions,
    sources: Vec<Passage>,
    /// For `echo`: the prompt text to put before the completion.
    echo: Option<String>,
    /// For `echo` with `logprobs`: the prompt's tokens (after
    /// `<|endoftext|>`) with the model's log-probabilities.
    prompt_logprobs: Vec<TokenLogprob>,
    /// The other prompt of a guided chat answer.
    guide: Option<Guide>,
    /// A chat answer to quote from its context: the conversation as rendered.
    quote: Option<Vec<Message>>,
    /// A story request told in tries: how many, and the words the story should use.
    tries: Option<(usize, Vec<String>)>,
}

/// Runs CPU work (tokenizing, retrieval) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::status(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None, format!("request failed: {e}")))
    })
}

fn context_exceeded(message: String) -> ApiError {
    ApiError::invalid("messages".to_string(), message).with_code("context_length_exceeded")
}

/// Chat: retrieval (when the server has an index and the request allows it),
/// then the oldest turns dropped until prompt plus reply fit the window.
fn prepare_chat(s: &AppState, req: &ChatRequest) -> Result<Prepared, ApiError> {
    req.check_unsupported()?;
    let window = s.model.config.max_seq_len;
    let (mut options, max_tokens) = api::sampling_options(&req.sampling(), &s.defaults, window)?;
    options.logprobs = req.logprobs_wanted()?;
    let mut messages = req.conversation()?;
    let tok = &s.model.tokenizer;
    // An unfinished answer to continue: taken off here, its tokens put after
    // the generation prompt below.
    let unfinished = match req.continue_final_message {
        Some(true) if messages.last().is_some_and(|m| m.role == Role::Assistant) => {
            messages.pop().map(|m| tok.encode(&m.content, false))
        }
        Some(true) => {
            return Err(ApiError::invalid(
                "continue_final_message".to_string(),
                "`continue_final_message` needs the last message to be the assistant's answer to continue",
            ))
        }
        _ => None,
    };
    let begun = unfinished.as_ref().map_or(0, Vec::len);
    // A quote is found by beam search: it cannot continue an unfinished answer and has no sampled
    // log-probabilities, so the mode steps aside for those, and `quote: true` is refused with them.
    let steps_aside = begun > 0 || options.logprobs.is_some();
    let quote = req.quote.map_or(s.quote, QuoteField::mode);
    if steps_aside && req.quote == Some(QuoteField::On(true)) {
        return Err(ApiError::invalid(
            "quote".to_string(),
            "a quoted answer is a span chosen by beam search: it cannot continue an unfinished answer \
             and has no sampled log-probabilities; leave out `continue_final_message` and `logprobs`, \
             or `quote`",
        ));
    }
    // Room kept for the answer when trimming: what was asked for, else a quarter of the window.
    let reserve = (max_tokens.unwrap_or(window / 4) + begun).min(window - 1);
    let mut sources = Vec::new();
    if let (Some(index), true) = (&s.index, req.retrieval.unwrap_or(true)) {
        if let Some(question) = messages.iter().rev().find(|m| m.role == Role::User).map(|m| m.content.clone()) {
            let system = messages.iter().find(|m| m.role == Role::System).map(|m| m.content.clone());
            let passages = index.retrieve_for_prompt(&question, s.rag_k, Mode::Hybrid).map_err(|e| {
                ApiError::status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    None,
                    format!("retrieval failed: {e}"),
                )
            })?;
            let grounded =
                ground(tok, Some(system.as_deref().unwrap_or(GROUNDED_SYSTEM)), &question, &passages, window, reserve)
                    .map_err(|e| context_exceeded(e.to_string()))?;
            sources = grounded.cited;
            if !sources.is_empty() {
                let at = messages.iter().take_while(|m| m.role == Role::System).count();
                if at == 0 {
                    messages.insert(0, Message::new(Role::System, GROUNDED_SYSTEM));
                }
                messages.insert(at.max(1), Message::new(Role::Context, context_text(&sources)));
            }
        }
    }
    fit_to_window(tok, &mut messages, window, reserve).map_err(|e| context_exceeded(e.to_string()))?;
    let mut prompt = render_tokens(tok, &messages, true).ids;
    prompt.extend(unfinished.unwrap_or_default());
    if prompt.len() >= window {
        return Err(context_exceeded(format!(
            "the conversation takes {} tokens, and the model's window is {window}",
            prompt.len()
        )));
    }
    options.max_new_tokens = options.max_new_tokens.min(window - prompt.len());
    let guidance = match req.guidance {
        Some(g) if !(0.0..=10.0).contains(&g) => {
            return Err(ApiError::invalid(
                "guidance".to_string(),
                format!("`guidance` is {g}; it must be between 0 and 10"),
            ))
        }
        Some(g) => g,
        None => s.guidance,
    };
    // As `fledge chat`: guided unless there is a context to answer from.
    let guide = guided_against(&messages, guidance).map(|without| {
        let mut other = render_tokens(tok, &without, true).ids;
        other.extend_from_slice(&prompt[prompt.len() - begun..]);
        Guide { prompt: other, weight: guidance }
    });
    let story_tries = match req.story_tries {
        Some(n) if !(1..=MAX_STORY_TRIES as i64).contains(&n) => {
            return Err(ApiError::invalid(
                "story_tries".to_string(),
                format!("`story_tries` is {n}; it must be between 1 and {MAX_STORY_TRIES}"),
            ))
        }
        Some(n) => n as usize,
        None => s.story_tries,
    };
    // As `fledge chat`: a story request, sampled, is told in tries (not one continuing an unfinished answer).
    let tries =
        (begun == 0 && told_in_tries(&messages, &options, story_tries)).then(|| (story_tries, wanted_words(&messages)));
    // Decided once retrieval has added its passages.
    let quote = (!steps_aside && quote.applies(&messages)).then_some(messages);
    Ok(Prepared { prompt, options, sources, echo: None, prompt_logprobs: Vec::new(), guide, quote, tries })
}

/// Completion: the prompt continued as a document (after `<|endoftext|>`,
/// as every training document started); prompt plus `max_tokens` must fit.
fn prepare_completion(s: &AppState, req: &CompletionRequest) -> Result<Prepared, ApiError> {
    req.check_unsupported()?;
    let window = s.model.config.max_seq_len;
    let (mut options, max_tokens) = api::sampling_options(&req.sampling(), &s.defaults, window)?;
    options.logprobs = req.logprobs_wanted()?;
    let text = req.prompt_text()?;
    let tok = &s.model.tokenizer;
    let mut prompt = vec![tok.eot_id()];
    prompt.extend(tok.encode(&text, false));
    let wanted = max_tokens.unwrap_or(16);
    if prompt.len() + wanted > window {
        return Err(ApiError::invalid(
            "prompt".to_string(),
            format!(
                "the model's context window is {window} tokens, but the prompt takes {} and max_tokens asks for {wanted}; \
                 shorten the prompt or lower max_tokens",
                prompt.len()
            ),
        )
        .with_code("context_length_exceeded"));
    }
    let echo = req.echo.unwrap_or(false);
    let prompt_logprobs = match options.logprobs {
        Some(n) if echo => prompt_logprobs(&s.model, &prompt, n),
        _ => Vec::new(),
    };
    let echo = echo.then_some(text);
    Ok(Prepared { prompt, options, sources: Vec::new(), echo, prompt_logprobs, guide: None, quote: None, tries: None })
}

/// Each prompt token's log-probability given the ones before it (the
/// model's own distribution: nothing was sampled), with `n` alternatives.
fn prompt_logprobs(model: &Model, prompt: &[u32], n: usize) -> Vec<TokenLogprob> {
    let mut generator = model.generator();
    let seen = inspect(&mut generator, prompt, InspectOptions { top: n, heads: Heads::None, logit_lens: false });
    prompt[1..]
        .iter()
        .zip(&seen.logprobs)
        .zip(&seen.top)
        .map(|((&token, &logprob), top)| TokenLogprob { token, logprob, top: top.clone() })
        .collect()
}

fn submit(s: &AppState, p: &Prepared) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    submit_with(s, p, p.options.clone())
}

fn submit_with(
    s: &AppState,
    p: &Prepared,
    options: SamplingOptions,
) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job { prompt: p.prompt.clone(), options, events: tx, guide: p.guide.clone() };
    s.engine.submit(job).map_err(|busy| {
        ApiError::status(StatusCode::SERVICE_UNAVAILABLE, "server_error", Some("server_busy"), busy.to_string())
    })?;
    Ok(rx)
}

/// A whole answer, gathered from a job's engine events.
struct Told {
    text: String,
    logprobs: Vec<TokenLogprob>,
    finish: FinishReason,
    prompt_tokens: usize,
    completion_tokens: usize,
}

/// Reads a job's events to its end; `None` if the engine stopped first.
async fn told(mut events: mpsc::UnboundedReceiver<Event>) -> Option<Told> {
    let (mut text, mut logprobs) = (String::new(), Vec::new());
    loop {
        match events.recv().await? {
            Event::Text(t, lps) => {
                text.push_str(&t);
                logprobs.extend(lps);
            }
            Event::Done { finish, prompt_tokens, completion_tokens } => {
                return Some(Told { text, logprobs, finish, prompt_tokens, completion_tokens })
            }
        }
    }
}

/// A story request told in tries, as `fledge chat` tells it
/// (`crate::chat::tries`): `tries` jobs with the seeds of
/// [`try_options`] run side by side in the engine's batch, and the one
/// [`best_try`] keeps is sent as one piece (when the engine's queue is full,
/// the tries it took). A client that leaves drops the
/// receiver, this task stops waiting, and dropping the tries' receivers
/// cancels them in the engine.
fn submit_tries(
    s: &AppState,
    p: &Prepared,
    tries: usize,
    wanted: Vec<String>,
) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    // A busy engine takes fewer tries rather than refusing the request: only the first must get in.
    let mut jobs = vec![submit_with(s, p, try_options(&p.options, 0))?];
    jobs.extend((1..tries as u64).map_while(|j| submit_with(s, p, try_options(&p.options, j)).ok()));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let all = tokio::select! {
            all = futures_util::future::join_all(jobs.into_iter().map(told)) => all,
            () = tx.closed() => return,
        };
        // An engine that stopped answers nothing: dropping `tx` tells `respond`.
        let Some(mut all) = all.into_iter().collect::<Option<Vec<Told>>>() else { return };
        let Some(best) = best_try(&wanted, all.iter().map(|t| t.text.as_str())) else { return };
        let t = all.swap_remove(best);
        let (finish, prompt_tokens, completion_tokens) = (t.finish, t.prompt_tokens, t.completion_tokens);
        let _ = tx.send(Event::Text(t.text, t.logprobs));
        let _ = tx.send(Event::Done { finish, prompt_tokens, completion_tokens });
    });
    Ok(rx)
}

/// A quoted answer (`quote`, as `fledge ask`), found off the engine's thread
/// with a batch-1 generator of its own and sent as one piece; when the model
/// declines to answer from the text, the request goes to the engine and is
/// decoded as any other.
async fn quote_or_submit(
    s: &AppState,
    p: &Prepared,
    messages: Vec<Message>,
) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
    let (model, max_new_tokens) = (s.model.clone(), p.options.max_new_tokens);
    let quoted =
        blocking(move || Ok(quoted_reply(&mut model.generator(), &model.tokenizer, &messages, max_new_tokens))).await?;
    let Some(text) = quoted else { return submit(s, p) };
    let (tx, rx) = mpsc::unbounded_channel();
    let completion_tokens = s.model.tokenizer.encode(&text, false).len();
    // Counted as the engine counts what it answers, so /health adds up.
    let stats = &s.engine.stats;
    stats.prompt_tokens.fetch_add(p.prompt.len() as u64, Ordering::Relaxed);
    stats.generated_tokens.fetch_add(completion_tokens as u64, Ordering::Relaxed);
    stats.quoted.fetch_add(1, Ordering::SeqCst);
    stats.completed.fetch_add(1, Ordering::SeqCst);
    // The receiver is held here, so these sends cannot fail.
    let _ = tx.send(Event::Text(text, Vec::new()));
    let _ = tx.send(Event::Done { finish: FinishReason::StopToken, prompt_tokens: p.prompt.len(), completion_tokens });
    Ok(rx)
}

/// How chat and completion responses differ.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Completion,
}

async fn chat_completions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let req: ChatRequest = api::parse(&body)?;
    check_model(&s, &req.model)?;
    let stream = req.stream.unwrap_or(false);
    let usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let st = s.clone();
    let prepared = blocking(move || prepare_chat(&st, &req)).await?;
    respond(&s, prepared, Kind::Chat, stream, usage).await
}

async fn completions(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let req: CompletionRequest = api::parse(&body)?;
    check_model(&s, &req.model)?;
    let stream = req.stream.unwrap_or(false);
    let usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let st = s.clone();
    let prepared = blocking(move || prepare_completion(&st, &req)).await?;
    respond(&s, prepared, Kind::Completion, stream, usage).await
}

/// `POST /v1/fledge/inspect` (see [`super::inspect`]).
async fn inspect_text(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let req: super::inspect::InspectRequest = api::parse(&body)?;
    if let Some(m) = &req.model {
        check_model(&s, m)?;
    }
    let st = s.clone();
    let value = blocking(move || {
        let (tokens, options) = super::inspect::prepare(&st.model, &req)?;
        Ok(super::inspect::respond(&st.model, &tokens, options))
    })
    .await?;
    Ok(Json(value).into_response())
}

/// What every response and chunk of one request shares.
struct Envelope {
    id: String,
    created: u64,
    model: String,
    kind: Kind,
}

impl Envelope {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.kind, chunk) {
            (Kind::Chat, false) => "chat.completion",
            (Kind::Chat, true) => "chat.completion.chunk",
            (Kind::Completion, _) => "text_completion",
        }
    }

    /// One choice with `text` (a delta when streaming) and its tokens'
    /// log-probabilities (`null` when not asked for).
    fn choice(&self, text: Option<&str>, finish: Option<&str>, chunk: bool, logprobs: Value) -> Value {
        match (self.kind, chunk) {
            (Kind::Chat, false) => json!({
                "index": 0, "message": {"role": "assistant", "content": text.unwrap_or("")},
                "logprobs": logprobs, "finish_reason": finish,
            }),
            (Kind::Chat, true) => {
                let delta = match text {
                    Some(t) => json!({"content": t}),
                    None => json!({}),
                };
                json!({"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish})
            }
            (Kind::Completion, _) => {
                json!({"index": 0, "text": text.unwrap_or(""), "logprobs": logprobs, "finish_reason": finish})
            }
        }
    }

    fn message(&self, choices: Vec<Value>, chunk: bool) -> Value {
        json!({
            "id": self.id, "object": self.object(chunk), "created": self.created, "model": self.model,
            "system_fingerprint": null, "choices": choices,
        })
    }
}

/// Turns tokens' log-probabilities into the response's `logprobs` field, in
/// the endpoint's shape; `null` when the request did not ask for them.
struct Logprobs {
    model: Arc<Model>,
    kind: Kind,
    wanted: bool,
    distribution: String,
    /// Characters of response text before the next token (completions' `text_offset`).
    offset: usize,
}

impl Logprobs {
    fn value(&mut self, items: &[TokenLogprob]) -> Value {
        if !self.wanted {
            return Value::Null;
        }
        let tok = &self.model.tokenizer;
        match self.kind {
            Kind::Chat => api::chat_logprobs(tok, items, &self.distribution),
            Kind::Completion => {
                let v = api::completion_logprobs(tok, items, self.offset, &self.distribution);
                self.offset += items.iter().map(|t| tok.token_text(t.token).chars().count()).sum::<usize>();
                v
            }
        }
    }
}

async fn respond(
    s: &AppState,
    p: Prepared,
    kind: Kind,
    stream: bool,
    include_usage: bool,
) -> Result<Response, ApiError> {
    let mut events = match (&p.quote, &p.tries) {
        (Some(messages), _) => quote_or_submit(s, &p, messages.clone()).await?,
        (None, Some((tries, wanted))) => submit_tries(s, &p, *tries, wanted.clone())?,
        (None, None) => submit(s, &p)?,
    };
    let env = Envelope {
        id: request_id(if kind == Kind::Chat { "chatcmpl" } else { "cmpl" }),
        created: now(),
        model: s.model.name.clone(),
        kind,
    };
    let sources = (!p.sources.is_empty()).then(|| api::sources_json(&p.sources));
    let mut logprobs = Logprobs {
        model: s.model.clone(),
        kind,
        wanted: p.options.logprobs.is_some(),
        distribution: match &p.guide {
            Some(g) => format!(
                "guided: classifier-free guidance {} toward the last user message, then {}",
                g.weight,
                p.options.logprob_distribution()
            ),
            None => p.options.logprob_distribution(),
        },
        offset: 0,
    };
    if !stream {
        // Dropping `events` (the client left and this future was dropped) cancels generation.
        let Some(answer) = told(events).await else {
            return Err(ApiError::status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
                "the generation engine stopped",
            ));
        };
        let text = p.echo.unwrap_or_default() + &answer.text;
        let mut tokens = p.prompt_logprobs;
        tokens.extend(answer.logprobs);
        let choice = env.choice(Some(&text), Some(api::finish_reason(answer.finish)), false, logprobs.value(&tokens));
        let mut body = env.message(vec![choice], false);
        body["usage"] = api::usage(answer.prompt_tokens, answer.completion_tokens);
        if let Some(src) = sources {
            body["sources"] = src;
        }
        return Ok(Json(body).into_response());
    }
    // Streaming: a task turns engine events into chunks. When the client goes
    // away the SSE body is dropped, the task's send fails, it drops `events`,
    // and the engine frees the slot at its next step.
    let (tx, rx) = mpsc::channel::<SseEvent>(32);
    tokio::spawn(async move {
        let data = |v: Value| SseEvent::default().data(v.to_string());
        if kind == Kind::Chat {
            let first = json!({"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null});
            if tx.send(data(env.message(vec![first], true))).await.is_err() {
                return;
            }
        }
        if let Some(echo) = p.echo.filter(|e| !e.is_empty()) {
            let lp = logprobs.value(&p.prompt_logprobs);
            if tx.send(data(env.message(vec![env.choice(Some(&echo), None, true, lp)], true))).await.is_err() {
                return;
            }
        }
        // Waiting for the next event, also watch for the client leaving: a
        // story told in tries sends nothing until its tries are done.
        while let Some(event) = tokio::select! {
            event = events.recv() => event,
            () = tx.closed() => return,
        } {
            match event {
                Event::Text(t, lps) => {
                    let choice = env.choice(Some(&t), None, true, logprobs.value(&lps));
                    if tx.send(data(env.message(vec![choice], true))).await.is_err() {
                        return;
                    }
                }
                Event::Done { finish, prompt_tokens, completion_tokens } => {
                    let choice = env.choice(None, Some(api::finish_reason(finish)), true, Value::Null);
                    let mut last = env.message(vec![choice], true);
                    if let Some(src) = &sources {
                        last["sources"] = src.clone();
                    }
                    let _ = tx.send(data(last)).await;
                    if include_usage {
                        let mut u = env.message(Vec::new(), true);
                        u["usage"] = api::usage(prompt_tokens, completion_tokens);
                        let _ = tx.send(data(u)).await;
                    }
                    let _ = tx.send(SseEvent::default().data("[DONE]")).await;
                    return;
                }
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(rx).map(Ok::<_, Infallible>)).into_response())
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    /// Issue 19, item 15: the page's header wrapped inside words ("windo w"),
    /// and its greeting told the user of the shipped model that they trained it.
    #[test]
    fn the_page_breaks_lines_between_words_and_does_not_claim_who_trained_the_model() {
        assert!(!PAGE.contains("break-all"), "word-break: break-all splits words at any letter");
        assert!(PAGE.contains(
            ".model { color: var(--muted); font-size: 13px; margin-bottom: 16px; overflow-wrap: anywhere; }"
        ));
        assert!(!PAGE.contains("you trained"), "the page also serves the shipped model");
        assert!(PAGE.contains("Say something to the model."));
    }

    /// Issue 23, item 3: the inspection views live in the page itself: nothing
    /// is loaded from elsewhere (the CSP would refuse it), and they use the
    /// fields the API offers.
    #[test]
    fn the_page_loads_nothing_from_elsewhere_and_asks_for_what_it_shows() {
        for banned in ["http://", "https://", "//cdn", "<script src", "<link rel=\"stylesheet", "@import", "url("] {
            assert!(!PAGE.contains(banned), "the page must not load anything: found {banned:?}");
        }
        for needed in [
            "logprobs = true",
            "top_logprobs = 5",
            "continue_final_message = true",
            "/v1/fledge/inspect",
            "role=\"switch\"",
            "Show probabilities",
            "body.story_tries",
        ] {
            assert!(PAGE.contains(needed), "{needed:?}");
        }
    }
}
