//! The chat page in headless Chromium (Debian's, driven by playwright-core):
//! it loads, a message gets a streamed answer, Stop ends a long answer, New
//! chat clears the page (tests/browser/chat_page.cjs). Runs where Chromium,
//! Node and playwright-core are installed; scripts/test.sh installs them in CI.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{random_model, Server};

fn playwright_core() -> Option<PathBuf> {
    let dir = match std::env::var_os("FLEDGE_NODE_MODULES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/fledge/browser-node/node_modules"),
    };
    let p = dir.join("playwright-core");
    p.is_dir().then_some(p)
}

#[test]
fn the_chat_page_streams_an_answer_in_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let Some(playwright) = playwright_core().filter(|_| node_ok && Path::new(&chromium).exists()) else {
        common::skip_or_fail(
            "the browser test needs Node, playwright-core (npm install --prefix ~/.cache/fledge/browser-node \
             playwright-core) and Chromium at /usr/bin/chromium (apt-get install chromium)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The reference shape, so that a 480-token answer lasts long enough to stop.
    let model = random_model(dir.path(), "page-test", true);
    let server = Server::start(&model, &[]);
    let screenshot =
        std::env::var("FLEDGE_SCREENSHOT").map(PathBuf::from).unwrap_or_else(|_| dir.path().join("chat-page.png"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/chat_page.cjs");
    let out = Command::new("node")
        .arg(&script)
        .args([&server.url("/"), screenshot.to_str().unwrap()])
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium)
        .env("MAX_TOKENS", "400")
        .env("MESSAGE", "the cat sat on the mat")
        // Both answers are then the same on every run; with this seed the
        // second is long enough (the model is random) to be stopped midway.
        .env("SEED", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "chat_page.cjs failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&seen).unwrap());
    assert!(seen["model"].as_str().unwrap().contains("page-test"), "{seen}");
    assert_eq!(seen["user"], "the cat sat on the mat");
    assert!(!seen["answer"].as_str().unwrap().is_empty(), "{seen}");
    // The answer arrived in pieces, not all at once.
    assert!(seen["updates"].as_u64().unwrap() >= 2, "{seen}");
    assert!(seen["status"].as_str().unwrap().contains("tokens in"), "{seen}");
    assert_eq!(seen["stopped"], "stopped", "{seen}");
    assert_eq!(seen["sendEnabledAfterStop"], true);
    assert_eq!(seen["turnsAfterNewChat"], 0);
    assert_eq!(seen["errors"].as_array().unwrap().len(), 0, "{seen}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "screenshot written");
    // The page's stream ended when the browser stopped reading: nothing keeps generating.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.health()["engine"]["active"] != 0 {
        assert!(std::time::Instant::now() < deadline, "{}", server.health());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
