//! Where a training step's time goes, by kernel: `FLEDGE_PROFILE=1`.
//!
//! Off by default, and then costs one relaxed atomic load per kernel call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Matmul,
    Norm,
    Rope,
    Attention,
    Swiglu,
    CrossEntropy,
    Optimizer,
    Other,
}

const KINDS: [&str; 8] =
    ["matmul", "norm", "rope+layout", "attention", "swiglu", "cross-entropy", "optimizer", "other"];
static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
static ENABLED: AtomicBool = AtomicBool::new(false);
static INIT: OnceLock<()> = OnceLock::new();

fn enabled() -> bool {
    INIT.get_or_init(|| ENABLED.store(std::env::var("FLEDGE_PROFILE").is_ok_and(|v| v == "1"), Ordering::Relaxed));
    ENABLED.load(Ordering::Relaxed)
}

/// Times the enclosing scope when profiling is on.
pub struct Span(Option<(Kind, Instant)>);

pub fn span(kind: Kind) -> Span {
    Span(enabled().then(|| (kind, Instant::now())))
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some((kind, start)) = self.0 {
            NANOS[kind as usize].fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

/// The accumulated seconds per kernel kind, largest first (empty when off).
pub fn report() -> Vec<(&'static str, f64)> {
    if !enabled() {
        return Vec::new();
    }
    let mut v: Vec<_> = KINDS.iter().zip(&NANOS).map(|(k, n)| (*k, n.load(Ordering::Relaxed) as f64 / 1e9)).collect();
    v.sort_by(|a, b| b.1.partial_cmp(&a.1).expect("finite"));
    v
}
