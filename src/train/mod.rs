//! Training: the optimizer (and, next, the schedule, loop and checkpoints).

pub mod optim;
