//! A model with random weights and a `fledge serve` process on a free port,
//! for the serving tests.
#![allow(dead_code)] // not every test binary uses every helper

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fledge::model::params::{init_params, ParamLayout};
use fledge::model::ModelConfig;
use fledge::tokenizer::Tokenizer;
use fledge::train::checkpoint::{self, TrainState};

/// Writes a chat checkpoint with random weights under `dir/name`: a
/// tokenizer trained on text the test makes, and the model shape given.
/// `big` picks the reference shape (6 layers of 256, about 2 ms a token), so
/// that a long answer takes long enough to cancel or to fill a queue.
pub fn random_model(dir: &Path, name: &str, big: bool) -> PathBuf {
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red", "ball", "park"];
    let mut text = String::new();
    for i in 0..4000usize {
        text.push_str(words[(i * 7 + i / 13) % words.len()]);
        text.push(if i % 11 == 10 { '.' } else { ' ' });
    }
    let tok = Tokenizer::train([text.as_str()].into_iter(), 400, false).unwrap();
    let mut config = ModelConfig::preset(if big { "reference" } else { "tiny" }, tok.vocab_size()).unwrap();
    config.max_seq_len = 512;
    let layout = ParamLayout::new(&config);
    let params = init_params(&config, &layout, 11);
    let zeros = vec![0.0; params.len()];
    let state = TrainState::default();
    let out = dir.join(name);
    checkpoint::save(&out, &config, &layout, &params, &zeros, &zeros, &tok, &state).unwrap();
    out
}

/// A running `fledge serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `fledge serve --model MODEL --port 0 EXTRA...` and waits for its address.
    pub fn start(model: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fledge"))
            .args(["serve", "--model", model.to_str().unwrap(), "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("no address in the startup line {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A plain HTTP/1.1 request; returns (status, body).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr).into_bytes();
        for (k, v) in headers {
            raw.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(body);
        self.raw(&raw)
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, String) {
        self.request("POST", path, &[("Content-Type", "application/json")], body.to_string().as_bytes())
    }

    /// Sends `raw` bytes as they are (written from a second thread, so a
    /// server that answers before reading everything is still heard);
    /// returns (status, body), status 0 when the connection closed without one.
    pub fn raw(&self, raw: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let raw = raw.to_vec();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(&raw);
        });
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let _ = sender.join();
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }

    /// Open file descriptors and resident memory (KiB) of the server process (Linux).
    pub fn resources(&self) -> (usize, u64) {
        let pid = self.child.id();
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        (fds, rss)
    }

    pub fn health(&self) -> serde_json::Value {
        let (status, body) = self.request("GET", "/health", &[], b"");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `/health` once the engine holds no request: a client has its whole
    /// answer a moment before the engine's thread counts the request as
    /// completed, so counters read right after an answer may lag by one.
    pub fn settled_health(&self) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let h = self.health();
            if h["engine"]["active"].as_u64() == Some(0) || std::time::Instant::now() > deadline {
                return h;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
