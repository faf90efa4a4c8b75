//! `prova key new`: create an encrypted keystore for an attestor or admin key.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::signer::{KEYSTORE_PASSWORD_ENV, new_keystore};
use clap::{Args, Subcommand};

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a random key into an encrypted JSON keystore and print its address.
    New(NewKeyArgs),
}

/// Arguments of `prova key new`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Folder to write the keystore into.
    #[arg(long, default_value = "keystores")]
    pub dir: PathBuf,
    /// File name (default: a random UUID).
    #[arg(long)]
    pub name: Option<String>,
}

impl KeyCommand {
    /// Runs the subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let Self::New(args) = self;
        let password = match std::env::var(KEYSTORE_PASSWORD_ENV) {
            Ok(password) => password,
            Err(_) => {
                let first = rpassword::prompt_password("new keystore password: ")?;
                let second = rpassword::prompt_password("repeat password: ")?;
                anyhow::ensure!(first == second, "the passwords differ");
                first
            }
        };
        anyhow::ensure!(!password.is_empty(), "refusing an empty keystore password");
        let (path, signer) = new_keystore(&args.dir, &password, args.name.as_deref())?;
        println!("address       {}", signer.address());
        println!("keystore      {}", path.display());
        Ok(ExitCode::SUCCESS)
    }
}
