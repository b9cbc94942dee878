//! `valwatch cosmos ...`: one-shot Cosmos commands. Thin: the analysis lives in
//! `valwatch_cosmos::analyze`.

use std::time::Duration;

use anyhow::Context;
use valwatch_core::Endpoint;
use valwatch_cosmos::{address, analyze, rpc};

/// Cosmos one-shot commands.
#[derive(Debug, clap::Subcommand)]
pub enum CosmosCommand {
    /// Signed, missed and proposed blocks per validator over a range of heights.
    Analyze(AnalyzeArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// One JSON array.
    Json,
    /// An aligned text table.
    Table,
}

/// Arguments of `valwatch cosmos analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// CometBFT RPC URL.
    #[arg(long)]
    pub rpc: String,
    /// First height judged.
    #[arg(long)]
    pub from: u64,
    /// Last height judged (its votes are read from block `to + 1`).
    #[arg(long)]
    pub to: u64,
    /// Consensus address (hex or `<prefix>valcons`); repeat for several. Default: every
    /// validator in the set at any height of the range.
    #[arg(long = "validator")]
    pub validators: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Seconds before one request times out.
    #[arg(long, default_value_t = 10)]
    pub timeout_seconds: u64,
}

/// Runs a Cosmos command.
pub async fn run(command: CosmosCommand) -> anyhow::Result<()> {
    match command {
        CosmosCommand::Analyze(args) => run_analyze(args).await,
    }
}

async fn run_analyze(args: AnalyzeArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::parse(&args.rpc, None).context("--rpc")?;
    let only = args
        .validators
        .iter()
        .map(|v| address::parse_consensus(v).with_context(|| format!("--validator {v}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let http = rpc::http_client(Duration::from_secs(args.timeout_seconds))
        .map_err(anyhow::Error::msg)
        .context("HTTP client")?;
    let client = rpc::RpcClient::new(endpoint, http, rpc::DEFAULT_MAX_BODY);
    let reports = analyze::analyze(&client, args.from, args.to, &only).await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        Format::Table => {
            println!(
                "{:<40}  {:<24}  {:>8}  {:>8}  {:>8}  missed_heights",
                "address", "moniker", "signed", "missed", "proposed"
            );
            for r in &reports {
                let heights: Vec<String> = r.missed_heights.iter().map(u64::to_string).collect();
                println!(
                    "{:<40}  {:<24}  {:>8}  {:>8}  {:>8}  {}",
                    r.address,
                    r.moniker.as_deref().unwrap_or("-"),
                    r.signed,
                    r.missed,
                    r.proposed,
                    heights.join(",")
                );
            }
        }
    }
    Ok(())
}
