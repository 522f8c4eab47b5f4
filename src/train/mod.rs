//! Training: the optimizer, one optimizer step, checkpoints, and the loop.

pub mod checkpoint;
pub mod mid;
pub mod optim;
pub mod plot;
pub mod run;
pub mod torch;
pub mod trainer;

pub use trainer::Trainer;
