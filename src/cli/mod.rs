//! The command-line layer: each file turns one group of `fledge` commands'
//! flags into calls to the pipeline's stages and prints what they did. The
//! stages never import from here.

pub mod ablate;
pub mod bench;
pub mod chat;
pub mod engine;
pub mod export;
pub mod inspect;
pub mod rag;
pub mod serve;
