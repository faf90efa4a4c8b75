//! `prova key new`: create an encrypted keystore for an attestor or admin key.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::signer::{KEYSTORE_PASSWORD_ENV, new_keystore};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a random key into an encrypted JSON keystore and print its address.
    New(NewKeyArgs),
    /// Sign this key's consent to be an attestor of a publisher (its proof of possession), for the publisher's admin
    /// to send with `prova publisher add-attestor --authorization FILE`. Prints the authorization JSON.
    Authorize(AuthorizeArgs),
}

/// Arguments of `prova key authorize`.
#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    /// The publisher the key agrees to sign for.
    #[arg(long)]
    pub publisher: alloy::primitives::Address,
    /// Seconds (of chain time) the authorization stays usable.
    #[arg(long, default_value_t = prova_attestor::admin::AUTHORIZATION_LIFETIME_SECS)]
    pub valid_for: u64,
    /// Write the JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: crate::args::ChainArgs,
    /// The attestor key.
    #[command(flatten)]
    pub key: crate::signer::KeyArgs,
}

impl AuthorizeArgs {
    async fn run(self) -> anyhow::Result<ExitCode> {
        let key = self.key.load()?;
        let provider = prova_chain::connect(&self.chain.rpc_url)?;
        let authorization =
            prova_attestor::admin::authorize(&provider, self.chain.registry, self.publisher, &key, self.valid_for)
                .await?;
        let json = serde_json::to_string_pretty(&authorization)?;
        match &self.out {
            Some(path) => {
                std::fs::write(path, json + "\n")?;
                eprintln!("authorization for key {} written to {}", authorization.key, path.display());
            }
            None => println!("{json}"),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Arguments of `prova key new`. The keystore is written 0600 in a folder created 0700, with geth's standard scrypt
/// cost (about a second to write, and again to unlock); an existing file is never overwritten.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Folder to write the keystore into (created 0700 if missing).
    #[arg(long, default_value = "keystores")]
    pub dir: PathBuf,
    /// File name (default: a random UUID); refused if the file exists.
    #[arg(long)]
    pub name: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl KeyCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let args = match self {
            Self::New(args) => args,
            Self::Authorize(args) => return args.run().await,
        };
        // Refused before asking for a password; `new_keystore` refuses again, atomically.
        if let Some(name) = &args.name
            && args.dir.join(name).symlink_metadata().is_ok()
        {
            return Err(crate::signer::Error::Exists(args.dir.join(name)).into());
        }
        let password = match std::env::var(KEYSTORE_PASSWORD_ENV) {
            Ok(password) => Zeroizing::new(password),
            Err(_) => {
                let first = Zeroizing::new(rpassword::prompt_password("new keystore password: ")?);
                let second = Zeroizing::new(rpassword::prompt_password("repeat password: ")?);
                anyhow::ensure!(first == second, "the passwords differ");
                first
            }
        };
        anyhow::ensure!(!password.is_empty(), "refusing an empty keystore password");
        let (path, signer) = new_keystore(&args.dir, &password, args.name.as_deref())?;
        if args.json {
            let value = serde_json::json!({ "address": signer.address(), "keystore": path });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("address       {}", signer.address());
            println!("keystore      {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    }
}
