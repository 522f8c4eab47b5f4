//! Helpers shared by the integration tests.

use std::path::PathBuf;

pub mod server;

/// `../shared/data` beside the repository, if it is there.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn shared_data() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    p.is_dir().then_some(p)
}

/// Whether a test whose dependency is missing must fail instead of skipping.
/// CI sets FLEDGE_REQUIRE_INTEROP=1 after installing what the tests need, so
/// a missing install can never pass as a skip there.
#[allow(dead_code)]
pub fn must_run() -> bool {
    std::env::var("FLEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Skips (returns `None`) or, when required, panics with the reason.
#[allow(dead_code)]
pub fn skip_or_fail(reason: &str) -> Option<()> {
    if must_run() {
        panic!("required interop test cannot run: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    None
}

/// The Python interpreter to use: $FLEDGE_PYTHON, else python3.
#[allow(dead_code)]
pub fn python() -> String {
    std::env::var("FLEDGE_PYTHON").unwrap_or_else(|_| "python3".into())
}
