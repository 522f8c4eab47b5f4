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
//! sends them a byte a minute), and a lifetime after which the connection is
//! closed (a client that opens a stream and never reads it).

pub mod api;
pub mod engine;
pub mod load;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::Router;
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

/// The routes with the body limit and, when configured, CORS.
pub fn app(state: Arc<AppState>, limits: &HttpLimits) -> Result<Router, ServeError> {
    let mut app = routes::router(state).layer(DefaultBodyLimit::max(limits.max_body));
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
