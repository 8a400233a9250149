//! Integration tests: the real engine over real Parquet in temp dirs.

fn main() {}
