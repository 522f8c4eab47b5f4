//! Serving: an OpenAI-compatible HTTP API and a chat page, from one binary.
//!
//! - [`engine`]: one thread owns the model and runs all requests' next
//!   tokens in one batched forward pass (continuous batching), fed by a
//!   bounded queue.
//! - [`api`]: the OpenAI request and response shapes, checked field by field.
//! - [`routes`]: the endpoints and the embedded page.
//! - [`load`]: the load test behind `fledge bench serve`.
//!
//! The stack is axum on tokio. Connections are accepted here rather than by
//! `axum::serve` so that each one gets limits a public-facing server needs:
//! a cap on open connections, a deadline for request headers (a client that
//! sends them a byte a minute), a deadline and a size cap for the request body
//! (the same client, after its headers), and a lifetime after which the
//! connection is closed (a client that opens a stream and never reads it).

pub mod api;
pub mod engine;
pub mod inspect;
pub mod load;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use engine::{Engine, EngineConfig, Model};
pub use routes::AppState;

/// Limits on what one client can hold or send.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Open connections at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Time a client has to send its request body, once the headers are in.
    pub body_timeout: Duration,
    /// Time after which any connection is closed, streaming or not.
    pub connection_timeout: Duration,
    /// Origins allowed to call the API from a browser (none: CORS off).
    pub cors_origins: Vec<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body: 1 << 20,
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(600),
            cors_origins: Vec::new(),
        }
    }
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("CORS origin `{0}` is not a valid header value (give one like http://localhost:3000)")]
    BadOrigin(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The routes with the body limits and, when configured, CORS.
pub fn app(state: Arc<AppState>, limits: &HttpLimits) -> Result<Router, ServeError> {
    let body_limits = BodyLimits { max_bytes: limits.max_body, timeout: limits.body_timeout };
    let mut app = routes::router(state)
        .layer(DefaultBodyLimit::max(limits.max_body))
        .layer(middleware::from_fn_with_state(body_limits, read_body_in_time));
    if !limits.cors_origins.is_empty() {
        let origins = limits
            .cors_origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| ServeError::BadOrigin(o.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
        );
    }
    Ok(app)
}

/// How much body a request may send, and how fast.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    max_bytes: usize,
    timeout: Duration,
}

/// Reads the whole request body before any handler runs, within a size cap
/// and a deadline. hyper bounds the time to send the headers, but not the
/// body: without this, a client that sends its headers and then one byte
/// every few seconds holds its connection (one of `--max-connections`) for as
/// long as it likes, and a few such clients lock everyone else out. Reading
/// here, up front, makes the deadline cover the whole body whatever the
/// handler does with it. A refused request's connection is closed, so its
/// slot is free at once.
async fn read_body_in_time(State(limits): State<BodyLimits>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, limits.max_bytes).collect();
    let bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return closing(api::ApiError::status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                Some("request_too_large"),
                format!(
                    "the request body is over this server's limit of {} KiB (`fledge serve --max-body-kib`)",
                    limits.max_bytes / 1024
                ),
            ))
        }
        Ok(Err(e)) => {
            return closing(api::ApiError::status(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                format!("could not read the body: {e}"),
            ))
        }
        Err(_) => {
            return closing(api::ApiError::status(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                Some("request_timeout"),
                format!(
                    "the request body did not arrive within {} s of the headers; send the whole body at once",
                    limits.timeout.as_secs_f64()
                ),
            ))
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// An error response after which the connection is closed: the rest of a
/// refused body is not worth reading, and the slot goes to the next client.
fn closing(error: api::ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Accepts connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => return Ok(()),
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let (header_timeout, lifetime) = (limits.header_timeout, limits.connection_timeout);
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(lifetime, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("connection from {peer}: {e}"),
                Err(_) => tracing::debug!("connection from {peer} closed after {lifetime:?}"),
            }
            drop(permit);
        });
    }
}
