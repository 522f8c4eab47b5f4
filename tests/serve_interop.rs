//! The official `openai` Python package drives `fledge serve`: a chat
//! completion, the same one streamed, a completion, the models list, and
//! errors as the client's typed exceptions (tests/interop/openai_client.py).

mod common;

use std::path::Path;
use std::process::Command;

use common::server::{random_model, Server};

#[test]
fn the_openai_python_client_drives_the_server() {
    let python = common::python();
    let probe = Command::new(&python).args(["-c", "import openai"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        common::skip_or_fail("Python with the openai package is not installed (bash scripts/test.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = random_model(dir.path(), "tiny-chat", false);
    let server = Server::start(&model, &["--api-key", "test-key"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/openai_client.py");
    let out = Command::new(&python).arg(&script).args([&server.url(""), "tiny-chat", "test-key"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "openai_client.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&seen).unwrap());
    assert_eq!(seen["models"][0], "tiny-chat");
    assert_eq!(seen["errors"]["wrong key"]["status"], 401);
}
