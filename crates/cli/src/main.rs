//! `valwatch`: one exporter for the validators of every chain an operator runs.
//!
//! `valwatch run` starts every configured chain and serves Prometheus metrics;
//! `valwatch check-config` validates a configuration file. The logic lives in the library
//! crates; this binary only parses arguments, wires the pieces and handles signals.

mod config;
mod cosmos_cmd;
mod ethereum_cmd;
mod run;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Watches blockchain validators from the outside and exports what they missed.
#[derive(Debug, Parser)]
#[command(name = "valwatch", version, about, long_about = None)]
struct Cli {
    /// Log format: human-readable text, or one JSON object per line for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the exporter for every chain in the configuration file.
    Run {
        /// The configuration file (TOML); see examples/valwatch.toml.
        #[arg(long, short)]
        config: PathBuf,
        /// Listen address, overriding `server.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// State directory, overriding `server.state_dir`.
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Checks a configuration file and prints a one-line summary.
    CheckConfig {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// One-shot Ethereum commands.
    #[command(subcommand)]
    Ethereum(ethereum_cmd::EthereumCommand),
    /// One-shot Cosmos commands.
    #[command(subcommand)]
    Cosmos(cosmos_cmd::CosmosCommand),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn one_shot(task: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(task)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::CheckConfig { file } => config::Config::load(&file).map(|config| {
            println!("{}: ok: {}", file.display(), config.summary());
        }),
        Command::Run {
            config,
            listen,
            state_dir,
        } => run::run(&config, listen, state_dir),
        Command::Ethereum(command) => one_shot(ethereum_cmd::run(command)),
        Command::Cosmos(command) => one_shot(cosmos_cmd::run(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
