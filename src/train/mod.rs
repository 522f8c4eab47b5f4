//! Training: the optimizer and one optimizer step (the schedule, loop and
//! checkpoints come next).

pub mod optim;
pub mod trainer;

pub use trainer::Trainer;
