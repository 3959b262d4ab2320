//! hook-runner's benchmark suite (see scripts/bench.sh and README "Benchmarks").
fn main() {}
