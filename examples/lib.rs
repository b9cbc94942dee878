//! Examples of valwatch as a library; see `cargo run -p valwatch-examples --example custom_chain`.
//! The package has no library code of its own: this file only anchors the examples.
