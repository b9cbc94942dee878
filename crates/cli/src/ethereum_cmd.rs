//! `valwatch ethereum ...`: one-shot Ethereum commands. The logic lives in
//! `valwatch_ethereum::report`; this file parses arguments and prints.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use valwatch_core::{Endpoint, read_key_file};
use valwatch_ethereum::client::{BeaconClient, DEFAULT_MAX_ANSWER_BYTES};
use valwatch_ethereum::report::{analyze_epoch, render_table};

/// Ethereum commands.
#[derive(Debug, clap::Subcommand)]
pub enum EthereumCommand {
    /// Analyse one past epoch and print every attestation duty, proposals and sync participation.
    Analyze(AnalyzeArgs),
}

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON document: `validators` and `summary`.
    Json,
    /// A plain text table.
    Table,
}

/// Arguments of `valwatch ethereum analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Beacon API URL; repeat for failover endpoints.
    #[arg(long = "beacon", required = true)]
    pub beacon: Vec<String>,
    /// Epoch to analyse (its next epoch must be complete).
    #[arg(long)]
    pub epoch: u64,
    /// Key file (label → pubkeys); without it every validator with a duty is reported.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Seconds before a request to a beacon node times out.
    #[arg(long, default_value_t = 30)]
    pub timeout_seconds: u64,
}

/// Runs an Ethereum command.
pub async fn run(command: EthereumCommand) -> anyhow::Result<()> {
    match command {
        EthereumCommand::Analyze(args) => analyze(args).await,
    }
}

async fn analyze(args: AnalyzeArgs) -> anyhow::Result<()> {
    let endpoints = args
        .beacon
        .iter()
        .map(|url| Endpoint::parse(url, None))
        .collect::<Result<Vec<_>, _>>()
        .context("--beacon")?;
    let keys = match &args.keys {
        Some(path) => {
            Some(read_key_file(path).with_context(|| format!("--keys {}", path.display()))?)
        }
        None => None,
    };
    let client = BeaconClient::new(
        endpoints,
        Duration::from_secs(args.timeout_seconds),
        DEFAULT_MAX_ANSWER_BYTES,
    )?;
    let report = analyze_epoch(&client, args.epoch, keys.as_ref())
        .await
        .with_context(|| format!("analysing epoch {}", args.epoch))?;
    match args.format {
        Format::Json => {
            // Streamed: a report of every validator is hundreds of MB of text.
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
            out.flush()?;
        }
        Format::Table => print!("{}", render_table(&report)),
    }
    Ok(())
}
