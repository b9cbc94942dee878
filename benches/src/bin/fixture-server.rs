//! `fixture-server [--port N] [--small] [--keys-file PATH --keys N]`: generates the mainnet
//! epoch (or the small one) and serves it as a beacon node would on 127.0.0.1. With
//! `--keys-file`, also writes a JSON key file (16 labels) of `N` validators spread over the
//! registry, for `valwatch ethereum analyze --keys`. Prints one line
//! `listening http://127.0.0.1:PORT epoch E` once ready, then serves until killed.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use valwatch_benches::mainnet::{Params, generate, pubkey};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut port = 0u16;
    let mut params = Params::mainnet();
    let mut keys_file: Option<String> = None;
    let mut keys = 16_000u32;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| std::io::Error::other("--port needs a number"))?;
            }
            "--small" => params = Params::small(),
            "--keys-file" => keys_file = args.next(),
            "--keys" => {
                keys = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| std::io::Error::other("--keys needs a number"))?;
            }
            other => return Err(std::io::Error::other(format!("unknown argument {other}"))),
        }
    }
    if let Some(path) = keys_file {
        let step = (params.validators / keys.max(1)).max(1);
        let mut labels: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (n, index) in (0..params.validators)
            .step_by(step as usize)
            .take(keys as usize)
            .enumerate()
        {
            labels
                .entry(format!("server-{}", n % 16))
                .or_default()
                .push(pubkey(index));
        }
        std::fs::write(
            &path,
            serde_json::to_vec(&labels).map_err(std::io::Error::other)?,
        )?;
    }
    let started = Instant::now();
    let generated = generate(&params);
    let answers = Arc::new(generated.answers);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let address = listener.local_addr()?;
    eprintln!(
        "generated epoch {} ({} validators, {} blocks, {:.1} MB of answers) in {:.2} s",
        answers.epoch,
        params.validators,
        answers.blocks.len(),
        answers.epoch_bytes() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening http://{address} epoch {}", answers.epoch)?;
    stdout.flush()?;
    valwatch_benches::server::serve(listener, answers).await
}
