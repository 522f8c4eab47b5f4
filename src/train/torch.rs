//! `fledge train --engine torch`: the same run, computed by PyTorch.
//!
//! fledge drives and PyTorch computes (see `python/fledge_torch.py`, shipped
//! inside the binary): the training loop, batch order, schedule, validation,
//! metrics and checkpoints stay fledge's ([`super::run::run_loop`]); the
//! Python process holds the weights and AdamW's moments on the device and
//! answers four commands over a Unix socket: `init` (weights, moments, step
//! count), `step` (a step's micro-batches and learning rate; returns the loss
//! and gradient norm), `eval` (per-position validation losses) and `pull`
//! (weights and moments, before a checkpoint). A checkpoint is therefore a
//! fledge checkpoint whichever engine wrote it, and a run resumes in either.
//!
//! `--nproc N` runs N processes under `torchrun` (DistributedDataParallel:
//! gloo on CPU, nccl on CUDA); `--nnodes/--node-rank/--rdzv-endpoint` span
//! several machines, the first of which (node rank 0) runs the fledge that
//! drives. Other nodes run `fledge train --engine torch` with their node rank
//! only to start their processes; they need no data.

use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::optim::AdamWConfig;
use super::run::{Scorer, TrainError};
use super::trainer::StepStats;
use crate::data::shards::Batch;
use crate::model::params::ParamLayout;
use crate::model::{ModelConfig, Precision};

/// The trainer's source, written next to the socket at each start.
const TRAINER: &str = include_str!("../../python/fledge_torch.py");

/// What to install when Python or torch is missing.
pub const INSTALL: &str = "python -m venv .venv-torch && .venv-torch/bin/pip install torch safetensors numpy";

/// Which engine computes a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// fledge's own CPU engine.
    #[default]
    Fledge,
    /// PyTorch (`python/fledge_torch.py`), on CPU or CUDA, one or more processes.
    Torch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
}

/// How to start the PyTorch trainer.
#[derive(Debug, Clone)]
pub struct TorchOptions {
    /// The interpreter: `--python`, else $FLEDGE_PYTHON, else `python3`.
    pub python: PathBuf,
    pub device: Device,
    /// Processes per machine.
    pub nproc: usize,
    pub nnodes: usize,
    pub node_rank: usize,
    /// `host:port` of node 0, for several machines.
    pub rdzv_endpoint: Option<String>,
    /// The products' precision as the run asks for it: `bf16` is autocast
    /// (bfloat16 products, f32 weights, as fledge's engine does); `auto` is
    /// bf16 on a CUDA device that has it, else f32. Set from the run's
    /// settings by [`super::run::run_loop`].
    pub precision: Precision,
    /// Compile the model with `torch.compile` (`--compile`).
    pub compile: bool,
}

impl Default for TorchOptions {
    fn default() -> Self {
        Self {
            python: default_python(),
            device: Device::Cpu,
            nproc: 1,
            nnodes: 1,
            node_rank: 0,
            rdzv_endpoint: None,
            precision: Precision::F32,
            compile: false,
        }
    }
}

/// $FLEDGE_PYTHON, else `python3`.
pub fn default_python() -> PathBuf {
    std::env::var_os("FLEDGE_PYTHON").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("python3"))
}

fn torch_err(message: impl Into<String>) -> TrainError {
    TrainError::Torch(message.into())
}

impl TorchOptions {
    /// Checks the interpreter has torch (and CUDA when asked for) before
    /// anything is started, with what to install when not.
    pub fn check(&self) -> Result<(), TrainError> {
        if self.nproc == 0 || self.nnodes == 0 || self.node_rank >= self.nnodes {
            return Err(torch_err(format!(
                "--nproc and --nnodes must be positive and --node-rank below --nnodes (got {}, {}, {})",
                self.nproc, self.nnodes, self.node_rank
            )));
        }
        if self.nnodes > 1 && self.rdzv_endpoint.is_none() {
            return Err(torch_err(
                "--nnodes above 1 needs --rdzv-endpoint HOST:PORT of node 0 (the same on every machine)",
            ));
        }
        let probe = "import json, torch, numpy; print(json.dumps([torch.__version__, torch.cuda.is_available(), torch.cuda.device_count()]))";
        let out = Command::new(&self.python).args(["-c", probe]).stdin(Stdio::null()).output().map_err(|e| {
            torch_err(format!(
                "cannot run Python {} ({e}). Install PyTorch with `{INSTALL}` and pass --python .venv-torch/bin/python (or set FLEDGE_PYTHON)",
                self.python.display()
            ))
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.lines().last().unwrap_or("").trim();
            return Err(torch_err(format!(
                "Python {} cannot import torch and numpy ({last}). Install them with `{INSTALL}` and pass --python .venv-torch/bin/python (or set FLEDGE_PYTHON)",
                self.python.display()
            )));
        }
        let (version, cuda, devices): (String, bool, usize) = serde_json::from_slice(&out.stdout)
            .map_err(|e| torch_err(format!("unexpected answer from {}: {e}", self.python.display())))?;
        if self.device == Device::Cuda && !cuda {
            return Err(torch_err(format!(
                "--device cuda, but torch {version} in {} sees no CUDA device (a CPU-only torch build, or no GPU or driver here). Use --device cpu, or install a CUDA build of torch (https://pytorch.org/get-started/locally/)",
                self.python.display()
            )));
        }
        if self.device == Device::Cuda && devices < self.nproc {
            return Err(torch_err(format!(
                "--nproc {} on CUDA needs one GPU per process; torch sees {devices}",
                self.nproc
            )));
        }
        Ok(())
    }

    /// The command that starts this machine's processes.
    /// Every process needs at least one of a step's `windows` (batch ×
    /// grad_accum).
    pub fn check_world(&self, windows: usize) -> Result<(), TrainError> {
        let world = self.nproc * self.nnodes;
        if world > windows {
            return Err(TrainError::Settings(format!(
                "{world} processes share each step's {windows} windows (batch × grad_accum): each needs at least one; raise --batch or --grad-accum, or use fewer processes"
            )));
        }
        Ok(())
    }

    fn command(&self, script: &Path) -> Command {
        let mut cmd = Command::new(&self.python);
        if self.nproc > 1 || self.nnodes > 1 {
            cmd.args(["-m", "torch.distributed.run", "--nproc-per-node", &self.nproc.to_string()]);
            match &self.rdzv_endpoint {
                Some(endpoint) if self.nnodes > 1 => {
                    cmd.args(["--nnodes", &self.nnodes.to_string(), "--node-rank", &self.node_rank.to_string()]);
                    cmd.args(["--rdzv-backend", "static", "--rdzv-endpoint", endpoint]);
                }
                _ => {
                    cmd.arg("--standalone");
                }
            }
        }
        cmd.arg(script);
        cmd.env("FLEDGE_TORCH_DEVICE", if self.device == Device::Cuda { "cuda" } else { "cpu" });
        cmd.stdin(Stdio::null());
        // Its own process group: Ctrl-C reaches fledge only, which saves a
        // checkpoint (asking the trainer for the weights) and then stops it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }
}

/// A private folder for the socket and the trainer's source, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, TrainError> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("fledge-torch-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| TrainError::Io { path: dir.clone(), source })?;
        let script = dir.join("fledge_torch.py");
        std::fs::write(&script, TRAINER).map_err(|source| TrainError::Io { path: script.clone(), source })?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A machine other than node 0: starts its processes and waits for them.
pub fn follow(options: &TorchOptions) -> Result<(), TrainError> {
    options.check()?;
    let scratch = ScratchDir::new()?;
    let status = options
        .command(&scratch.0.join("fledge_torch.py"))
        .status()
        .map_err(|e| torch_err(format!("cannot start {}: {e}", options.python.display())))?;
    if !status.success() {
        return Err(torch_err(format!("the torch trainer on node {} exited with {status}", options.node_rank)));
    }
    Ok(())
}

/// The running PyTorch trainer, seen from fledge.
pub struct TorchWorker {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: BufWriter<UnixStream>,
    total: usize,
    batch: usize,
    seq_len: usize,
    /// The torch version, device and process count, for the checkpoint's record.
    pub hardware: String,
    /// What the trainer computes in: `bf16` (autocast) or `f32`.
    pub precision: Precision,
    _scratch: ScratchDir,
}

/// The trainer's exit status, if it has exited.
fn exited(child: &mut Child) -> Option<String> {
    child.try_wait().ok().flatten().map(|s| s.to_string())
}

impl TorchWorker {
    /// Starts the trainer and hands it the weights, moments and step count.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        options: &TorchOptions,
        config: &ModelConfig,
        layout: &ParamLayout,
        (params, m, v): (&[f32], &[f32], &[f32]),
        adam_step: u64,
        adamw: AdamWConfig,
        clip: f32,
        (batch, seq_len): (usize, usize),
    ) -> Result<Self, TrainError> {
        options.check()?;
        let scratch = ScratchDir::new()?;
        let socket = scratch.0.join("socket");
        let listener = UnixListener::bind(&socket).map_err(|source| TrainError::Io { path: socket.clone(), source })?;
        listener.set_nonblocking(true).map_err(|source| TrainError::Io { path: socket.clone(), source })?;
        let mut child = options
            .command(&scratch.0.join("fledge_torch.py"))
            .env("FLEDGE_TORCH_SOCKET", &socket)
            .spawn()
            .map_err(|e| torch_err(format!("cannot start {}: {e}", options.python.display())))?;
        // Rank 0 connects once torch is imported (and, with several machines,
        // once every node has joined): no time limit, only the child's life.
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = exited(&mut child) {
                        return Err(torch_err(format!(
                            "the torch trainer exited with {status} before it started (its messages are above)"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(source) => return Err(TrainError::Io { path: socket, source }),
            }
        };
        stream.set_nonblocking(false).map_err(|source| TrainError::Io { path: socket.clone(), source })?;
        let reader = BufReader::new(stream.try_clone().map_err(|source| TrainError::Io { path: socket, source })?);
        let mut worker = Self {
            child,
            reader,
            writer: BufWriter::new(stream),
            total: layout.total,
            batch,
            seq_len,
            hardware: String::new(),
            precision: Precision::F32,
            _scratch: scratch,
        };
        let tensors: Vec<_> = layout
            .tensors
            .iter()
            .map(|t| serde_json::json!({"name": t.name, "shape": t.shape, "offset": t.offset, "decay": t.decay}))
            .collect();
        let mut payload = Vec::with_capacity(3 * layout.total * 4);
        for part in [params, m, v] {
            payload.extend(part.iter().flat_map(|x| x.to_le_bytes()));
        }
        let header = serde_json::json!({
            "cmd": "init",
            "config": config,
            "tensors": tensors,
            "adam_step": adam_step,
            "adamw": adamw,
            "clip": clip,
            "batch": batch,
            "precision": options.precision,
            "compile": options.compile,
        });
        let (answer, _) = worker.call(header, &payload)?;
        worker.hardware = answer["hardware"].as_str().unwrap_or("torch").to_string();
        worker.precision = if answer["precision"] == "bf16" { Precision::Bf16 } else { Precision::F32 };
        Ok(worker)
    }

    /// Sends one command and reads the answer.
    fn call(
        &mut self,
        mut header: serde_json::Value,
        payload: &[u8],
    ) -> Result<(serde_json::Value, Vec<u8>), TrainError> {
        header["bytes"] = payload.len().into();
        let result = (|| -> std::io::Result<(serde_json::Value, Vec<u8>)> {
            let raw = serde_json::to_vec(&header)?;
            self.writer.write_all(&(raw.len() as u64).to_le_bytes())?;
            self.writer.write_all(&raw)?;
            self.writer.write_all(payload)?;
            self.writer.flush()?;
            let mut len = [0u8; 8];
            self.reader.read_exact(&mut len)?;
            let mut raw = vec![0u8; u64::from_le_bytes(len) as usize];
            self.reader.read_exact(&mut raw)?;
            let answer: serde_json::Value = serde_json::from_slice(&raw)?;
            let mut body = vec![0u8; answer["bytes"].as_u64().unwrap_or(0) as usize];
            self.reader.read_exact(&mut body)?;
            Ok((answer, body))
        })();
        match result {
            Ok((answer, _)) if answer.get("error").is_some() => {
                Err(torch_err(format!("the torch trainer failed: {}", answer["error"].as_str().unwrap_or("?"))))
            }
            Ok(ok) => Ok(ok),
            Err(e) => {
                std::thread::sleep(Duration::from_millis(200));
                let status = exited(&mut self.child).unwrap_or_else(|| "no exit yet".into());
                Err(torch_err(format!("lost the torch trainer ({e}; {status}); its messages are above")))
            }
        }
    }

    /// One optimizer step over `micro_batches`.
    pub fn step(&mut self, micro_batches: &[Batch], lr: f32) -> Result<StepStats, TrainError> {
        let (payload, segments) = encode(micro_batches);
        let rows: usize = micro_batches.iter().map(|b| b.inputs.len() / self.seq_len).sum();
        let header =
            serde_json::json!({"cmd": "step", "lr": lr, "rows": rows, "seq_len": self.seq_len, "segments": segments});
        let (answer, _) = self.call(header, &payload)?;
        let number = |k: &str| answer[k].as_f64().map(|x| x as f32).unwrap_or(f32::NAN);
        Ok(StepStats { loss: number("loss"), grad_norm: number("grad_norm") })
    }

    /// Copies the trainer's weights and moments into fledge's buffers.
    pub fn pull(&mut self, params: &mut [f32], m: &mut [f32], v: &mut [f32]) -> Result<(), TrainError> {
        let (_, body) = self.call(serde_json::json!({"cmd": "pull"}), &[])?;
        if body.len() != 3 * self.total * 4 {
            return Err(torch_err(format!(
                "the torch trainer sent {} bytes of weights, not {}",
                body.len(),
                12 * self.total
            )));
        }
        let mut values = body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        for part in [params, m, v] {
            part.iter_mut().zip(&mut values).for_each(|(x, y)| *x = y);
        }
        Ok(())
    }
}

/// The micro-batches' inputs, targets and (when any has them) segment
/// starts, each as u32 little-endian, and whether starts are included.
fn encode(batches: &[Batch]) -> (Vec<u8>, bool) {
    let segments = batches.iter().any(|b| b.segment_starts.is_some());
    let mut out = Vec::new();
    for b in batches {
        out.extend(b.inputs.iter().flat_map(|x| x.to_le_bytes()));
    }
    for b in batches {
        out.extend(b.targets.iter().flat_map(|x| x.to_le_bytes()));
    }
    if segments {
        for b in batches {
            match &b.segment_starts {
                Some(s) => out.extend(s.iter().flat_map(|x| x.to_le_bytes())),
                // Plain causal attention: every position's document starts at 0.
                None => out.resize(out.len() + b.inputs.len() * 4, 0),
            }
        }
    }
    (out, segments)
}

impl Scorer for TorchWorker {
    fn batch(&self) -> usize {
        self.batch
    }
    fn seq_len(&self) -> usize {
        self.seq_len
    }
    fn losses(
        &mut self,
        inputs: &[u32],
        targets: &[u32],
        segment_starts: Option<&[u32]>,
    ) -> Result<Vec<f64>, TrainError> {
        let batch = Batch {
            inputs: inputs.to_vec(),
            targets: targets.to_vec(),
            segment_starts: segment_starts.map(<[u32]>::to_vec),
        };
        let (payload, segments) = encode(std::slice::from_ref(&batch));
        let rows = inputs.len() / self.seq_len;
        let header = serde_json::json!({"cmd": "eval", "rows": rows, "seq_len": self.seq_len, "segments": segments});
        let (_, body) = self.call(header, &payload)?;
        if body.len() != inputs.len() * 8 {
            return Err(torch_err("the torch trainer sent the wrong number of losses"));
        }
        Ok(body.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }
}

impl Drop for TorchWorker {
    fn drop(&mut self) {
        // Ask politely, then make sure: the processes must not outlive the run.
        let raw = br#"{"cmd":"quit","bytes":0}"#;
        let _ = self.writer.write_all(&(raw.len() as u64).to_le_bytes());
        let _ = self.writer.write_all(raw);
        let _ = self.writer.flush();
        for _ in 0..200 {
            if exited(&mut self.child).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The whole process group: torchrun and its workers.
        let _ = Command::new("kill").args(["-KILL", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
