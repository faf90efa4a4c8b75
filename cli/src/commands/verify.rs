//! `prova verify model`: recompute a folder's version hash and check it against the registry on-chain.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use prova_core::args::ChainArgs;
use prova_core::manifest::{HashOptions, hash_dir};
use prova_core::verify::verify_model_version;

/// Verify subcommands.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Is this folder a registered model version, and by whom? Exit 0 if verified, 1 if not.
    Model(VerifyModelArgs),
}

/// Arguments of `prova verify model`.
#[derive(Debug, Args)]
pub struct VerifyModelArgs {
    /// The model folder (always re-hashed; no cache is trusted).
    pub dir: PathBuf,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// Refuse to answer unless the RPC endpoint serves this chain id.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let Self::Model(args) = self;
        let manifest = hash_dir(&args.dir, &HashOptions::default())?;
        let provider = prova_core::chain::connect(&args.chain.rpc_url)?;
        let verdict = verify_model_version(&provider, args.chain.registry, manifest.version_hash, args.chain_id).await?;
        let failure = verdict.failure();
        if args.json {
            let mut value = serde_json::to_value(&verdict)?;
            value["verified"] = failure.is_none().into();
            value["reason"] = failure.clone().into();
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("folder        {} ({} files)", args.dir.display(), manifest.files.len());
            println!("version hash  {}", manifest.version_hash);
            println!("registry      {} on chain {}", verdict.registry, verdict.chain_id);
            if let Some(reg) = &verdict.registration {
                println!("publisher     {} ({})", reg.publisher_name, reg.publisher);
                println!("attestor      {}", reg.attestor);
                println!("model id      {}", reg.model_id);
                println!("registered    block {} (unix time {})", reg.registered_block, reg.registered_at);
                if !reg.parent.is_zero() {
                    println!("parent        {}", reg.parent);
                }
            }
            match &failure {
                None => println!("VERIFIED: this folder is the registered version above"),
                Some(reason) => println!("NOT VERIFIED: {reason}"),
            }
        }
        Ok(if failure.is_none() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
