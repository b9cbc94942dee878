//! Benchmarks of valwatch; run them with `cargo bench -p valwatch-benches`.
//! The package has no library code of its own: this file only anchors the benches.
