//! Integration tests: the real engine over real Parquet in temp dirs.

mod dialect;
mod engine;
mod hardening;
mod security;
mod slt;
mod support;
