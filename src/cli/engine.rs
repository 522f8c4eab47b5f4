//! `--engine` and its flags, shared by `train`, `sft` and `speedrun`: who
//! computes a training run (fledge's CPU engine or PyTorch) and where.

use anyhow::{bail, Result};
use clap::Args;
use fledge::train::torch::{Device, EngineKind, TorchOptions};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Who computes: fledge (its CPU engine) or torch (PyTorch, for a GPU or several processes or machines;
    /// same data order, schedule and checkpoints) (default: fledge).
    #[arg(long, value_enum, default_value_t, hide_default_value = true)]
    pub engine: EngineKind,
    /// With --engine torch: cpu or cuda (default: cpu).
    #[arg(long, value_enum)]
    pub device: Option<Device>,
    /// With --engine torch: processes on this machine, run by torchrun as DistributedDataParallel
    /// (one per GPU with --device cuda) (default: 1).
    #[arg(long)]
    pub nproc: Option<usize>,
    /// With --engine torch: machines taking part; run the same command on each, with its --node-rank (default: 1).
    #[arg(long)]
    pub nnodes: Option<usize>,
    /// With --engine torch: this machine's number, 0 to --nnodes - 1; node 0 holds the data and writes the
    /// checkpoints, the others need no data (default: 0).
    #[arg(long)]
    pub node_rank: Option<usize>,
    /// With --engine torch and --nnodes above 1: HOST:PORT of node 0, where the processes meet (default: none).
    #[arg(long)]
    pub rdzv_endpoint: Option<String>,
    /// With --engine torch: the Python that has torch (default: $FLEDGE_PYTHON, else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// With --engine torch: compile the model with torch.compile (minutes to start; faster steps on a
    /// GPU) (default: off).
    #[arg(long)]
    pub compile: bool,
}

impl EngineArgs {
    /// The torch engine's options, or `None` for fledge's engine (which
    /// refuses the torch-only flags rather than ignore them).
    pub fn torch_options(&self) -> Result<Option<TorchOptions>> {
        if self.engine == EngineKind::Fledge {
            let given = [
                ("--device", self.device.is_some()),
                ("--nproc", self.nproc.is_some()),
                ("--nnodes", self.nnodes.is_some()),
                ("--node-rank", self.node_rank.is_some()),
                ("--rdzv-endpoint", self.rdzv_endpoint.is_some()),
                ("--python", self.python.is_some()),
                ("--compile", self.compile),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
                bail!("{flag} is for the PyTorch engine: add --engine torch");
            }
            return Ok(None);
        }
        let d = TorchOptions::default();
        Ok(Some(TorchOptions {
            python: self.python.clone().unwrap_or(d.python),
            device: self.device.unwrap_or(d.device),
            nproc: self.nproc.unwrap_or(d.nproc),
            nnodes: self.nnodes.unwrap_or(d.nnodes),
            node_rank: self.node_rank.unwrap_or(d.node_rank),
            rdzv_endpoint: self.rdzv_endpoint.clone(),
            compile: self.compile,
            ..d
        }))
    }
}

/// On a machine other than node 0, starts this machine's processes and
/// waits for them (node 0 drives and writes); `true` when it did.
pub fn follow_if_not_node_zero(torch: Option<&TorchOptions>) -> Result<bool> {
    match torch.filter(|o| o.node_rank > 0) {
        Some(options) => {
            fledge::train::torch::follow(options)?;
            println!("Node {} finished; node 0 wrote the checkpoints", options.node_rank);
            Ok(true)
        }
        None => Ok(false),
    }
}
