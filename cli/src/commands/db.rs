//! `prova db`: the Postgres schemas, applied on request.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::args::DatabaseArgs;

/// Database commands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply a schema's pending migrations to a database.
    Migrate(MigrateArgs),
}

/// Which schema.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaArg {
    /// The public registry mirror (written by `prova index`, read by `prova serve`).
    Registry,
    /// A lab's private store of sampled outputs (used by `prova outputs`).
    Attestor,
}

/// Arguments of `prova db migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The schema to apply.
    #[arg(long, value_enum, default_value = "registry")]
    pub schema: SchemaArg,
    /// The database.
    #[command(flatten)]
    pub db: DatabaseArgs,
}

impl DbCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Migrate(args) => {
                let schema = match args.schema {
                    SchemaArg::Registry => prova_db::Schema::Registry,
                    SchemaArg::Attestor => prova_db::Schema::Attestor,
                };
                prova_db::connect_and_migrate(&args.db.database_url, 1, schema).await?;
                eprintln!("{schema:?} schema is up to date");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
