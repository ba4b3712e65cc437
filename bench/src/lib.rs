//! Benchmark support: the init variants of the cold-start experiment (`probe`).

pub mod probe;
