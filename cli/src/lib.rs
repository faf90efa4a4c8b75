//! The `prova` command line: one subcommand per role.
//!
//! Exit codes: 0 success (or verified), 1 checked and not verified, 2 could not run (bad input, unreachable RPC or
//! database, refused transaction).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod args;
pub mod commands;
pub mod explain;
pub mod signer;

/// prova: on-chain provenance for AI models.
#[derive(Debug, Parser)]
#[command(name = "prova", version, about, propagate_version = true)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "PROVA_LOG_JSON")]
    pub log_json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hash and publish model versions.
    #[command(subcommand)]
    Model(commands::model::ModelCommand),
    /// Register a publisher and manage its attestor keys (sent from the admin account).
    #[command(subcommand)]
    Publisher(commands::publisher::PublisherCommand),
    /// ERC-8004 agents: register, bind a model version, sign interaction receipts, give feedback, validations.
    #[command(subcommand)]
    Agent(commands::agent::AgentCommand),
    /// Create encrypted keystores.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Deploy a ProvenanceRegistry.
    Deploy(commands::deploy::DeployArgs),
    /// Attest sampled model outputs, write receipts, and scan datasets for attested outputs.
    #[command(subcommand)]
    Outputs(commands::outputs::OutputsCommand),
    /// Index registry events into Postgres and follow the chain head.
    Index(commands::index::IndexArgs),
    /// Postgres schemas: apply migrations.
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// Serve the HTTP API from Postgres.
    Serve(commands::serve::ServeArgs),
    /// Check claims directly against the chain, with no database and no API.
    #[command(subcommand)]
    Verify(commands::verify::VerifyCommand),
    /// Run the whole stack locally: anvil, Postgres, contracts, demo data, indexer and API.
    Dev(commands::dev::DevArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::shell::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a folder.
    Man(commands::shell::ManArgs),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Model(cmd) => cmd.run().await,
        Command::Publisher(cmd) => cmd.run().await,
        Command::Agent(cmd) => cmd.run().await,
        Command::Key(cmd) => cmd.run().await,
        Command::Deploy(args) => args.run().await,
        Command::Outputs(cmd) => cmd.run().await,
        Command::Index(args) => args.run().await,
        Command::Db(cmd) => cmd.run().await,
        Command::Serve(args) => args.run().await,
        Command::Verify(cmd) => cmd.run().await,
        Command::Dev(args) => args.run().await,
        Command::Completions(args) => args.run(),
        Command::Man(args) => args.run(),
    }
}

/// Logs go to stderr, so stdout stays clean for results; `RUST_LOG` filters them (default `info`).
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org): piped logs stay plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves when the process gets Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
