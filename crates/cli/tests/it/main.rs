//! End-to-end tests of the `valwatch` binary: every test runs the real executable.

mod check_config;
mod run;
mod support;
