//! Integration tests: the real engine over real Parquet in temp dirs.

mod dialect;
mod engine;
mod hardening;
mod load;
mod security;
mod semantics;
mod slt;
mod stages;
mod support;
mod tables;
mod variant;
