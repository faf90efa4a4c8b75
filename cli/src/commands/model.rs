//! `prova model hash` and `prova model publish`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::args::ChainArgs;
use crate::explain::{Relayer, Sender};
use crate::signer::KeyArgs;
use alloy::primitives::B256;
use anyhow::Context;
use clap::{Args, Subcommand};
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_core::bindings::model_id;
use prova_core::manifest::Manifest;

use super::hashing::HashingArgs;
use super::parse_b256;

/// Model subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Hash a model folder: print its manifest and version hash.
    Hash(HashArgs),
    /// Hash a model folder, sign its version hash with an attestor key and register it on-chain.
    Publish(Box<PublishArgs>),
    /// Revoke the publisher's claim of a version with a reason (sent by the publisher's admin). It stays readable,
    /// marked revoked; other publishers' claims of the same hash are untouched.
    Revoke(RevokeArgs),
    /// Print a Merkle proof that one file belongs to a version; it verifies with the registry's `verifyFile`
    /// and with @openzeppelin/merkle-tree.
    ProveFile(ProveFileArgs),
    /// Upload a folder's manifest to a prova API, which stores it once the version is indexed.
    UploadManifest(UploadArgs),
}

/// Manifest formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestFormat {
    /// prova's manifest: files with sizes, ignore list, version hash, tool.
    Prova,
    /// sigstore model_signing's in-toto statement (per-file sha256 resources), unsigned.
    ModelSigning,
}

/// Arguments of `prova model revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The version hash.
    #[arg(value_parser = parse_b256)]
    pub version_hash: B256,
    /// Why, e.g. "weights leaked" or "superseded by 0x...".
    #[arg(long)]
    pub reason: String,
    /// Chain, registry and admin key.
    #[command(flatten)]
    pub admin: super::publisher::AdminArgs,
}

/// Arguments of `prova model prove-file`.
#[derive(Debug, Args)]
pub struct ProveFileArgs {
    /// The file's path inside the model folder, `/`-separated.
    pub path: String,
    /// The model folder.
    #[arg(long, required_unless_present = "manifest")]
    pub dir: Option<PathBuf>,
    /// A prova manifest instead of the folder.
    #[arg(long, conflicts_with = "dir")]
    pub manifest: Option<PathBuf>,
    /// How to hash the folder.
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Arguments of `prova model upload-manifest`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The model folder.
    pub dir: PathBuf,
    /// The prova API.
    #[arg(long, env = "PROVA_API")]
    pub api: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// How to hash the folder.
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Arguments of `prova model hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// The model folder.
    pub dir: PathBuf,
    /// Print the manifest as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the manifest JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Format of --json and --out.
    #[arg(long, value_enum, default_value = "prova")]
    pub format: ManifestFormat,
    /// How to hash.
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Arguments of `prova model publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The model folder.
    pub dir: PathBuf,
    /// Model name, e.g. acme/llm-7b (at most 256 bytes): recorded on-chain in the registration's event, and its
    /// keccak256 is the model id.
    #[arg(long, env = "PROVA_MODEL")]
    pub model: String,
    /// Publish only the model id (the name's keccak256), not the name: readers see the hash alone, and a guessed
    /// name can still be checked against it.
    #[arg(long)]
    pub private_name: bool,
    /// Parent version hash (fine-tune, quantization, merge).
    #[arg(long, value_parser = parse_b256, default_value = "")]
    pub parent: B256,
    /// URI of the version's metadata (model card, manifest).
    #[arg(long, default_value = "")]
    pub metadata_uri: String,
    /// keccak256 of the metadata document.
    #[arg(long, value_parser = parse_b256, default_value = "")]
    pub metadata_hash: B256,
    /// Publisher id; defaults to the publisher the attestor key belongs to.
    #[arg(long)]
    pub publisher: Option<alloy::primitives::Address>,
    /// Confirmations to wait for.
    #[arg(long, default_value_t = 1)]
    pub confirmations: u64,
    /// Register in one transaction, without first committing in an earlier block. The claim's priority is then
    /// its own block, which anyone watching the mempool can beat; the default commit-reveal cannot be front-run.
    #[arg(long)]
    pub no_commit: bool,
    /// Seconds the signature stays valid.
    #[arg(long, default_value_t = 3600)]
    pub deadline_secs: u64,
    /// Refuse to sign unless the RPC endpoint serves this chain id.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Write the manifest JSON to this file as well.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// After publishing, upload the manifest to this prova API (so it can answer file-level matches).
    #[arg(long, env = "PROVA_API")]
    pub api: Option<String>,
    /// How to hash.
    #[command(flatten)]
    pub hashing: HashingArgs,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The attestor key (it also pays for gas unless PROVA_RELAYER_PRIVATE_KEY is set).
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Environment variable with a separate relayer key that sends (and pays for) the transaction.
pub const RELAYER_KEY_ENV: &str = "PROVA_RELAYER_PRIVATE_KEY";

impl ModelCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Hash(args) => {
                let manifest = args.hashing.hash(&args.dir)?;
                let document = match args.format {
                    ManifestFormat::Prova => serde_json::to_value(&manifest)?,
                    ManifestFormat::ModelSigning => {
                        prova_core::manifest::model_signing::to_statement(&manifest, &folder_name(&args.dir))
                    }
                };
                if let Some(out) = &args.out {
                    std::fs::write(out, serde_json::to_string_pretty(&document)? + "\n")
                        .with_context(|| format!("cannot write {}", out.display()))?;
                }
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&document)?);
                } else {
                    print_manifest(&manifest);
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Publish(args) => publish(*args).await,
            Self::Revoke(args) => {
                let admin = args.admin.connect().await?;
                let (publisher, version_hash) = (admin.publisher, args.version_hash);
                let receipt = prova_attestor::admin::revoke_version(
                    &admin.provider,
                    args.admin.chain.registry,
                    publisher,
                    version_hash,
                    &args.reason,
                )
                .await
                .context(admin.sender)?;
                if args.admin.json {
                    let tx = prova_chain::TxInfo::from(&receipt);
                    let value = serde_json::json!({ "version_hash": version_hash, "publisher": publisher, "tx": tx });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!("revoked       {version_hash} (publisher {publisher}'s claim)");
                    super::publisher::print_receipt(&receipt);
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::ProveFile(args) => {
                let manifest = match (&args.manifest, &args.dir) {
                    (Some(path), _) => Manifest::from_json(
                        &std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
                    )?,
                    (None, Some(dir)) => args.hashing.hash(dir)?,
                    (None, None) => anyhow::bail!("pass --dir or --manifest"),
                };
                let entry = manifest
                    .files
                    .iter()
                    .find(|e| e.path == args.path)
                    .with_context(|| format!("{} is not a file of this version", args.path))?;
                let proof = manifest.tree().proof(entry.leaf()).expect("every entry is a leaf");
                let document = serde_json::json!({
                    "version_hash": manifest.version_hash,
                    "leaf_types": prova_core::manifest::LEAF_TYPES,
                    "path": entry.path,
                    "size": entry.size,
                    "sha256": entry.sha256,
                    "leaf": entry.leaf(),
                    "proof": proof,
                });
                println!("{}", serde_json::to_string_pretty(&document)?);
                Ok(ExitCode::SUCCESS)
            }
            Self::UploadManifest(args) => {
                let manifest = args.hashing.hash(&args.dir)?;
                super::api_client::upload_manifest(&args.api, &manifest, Duration::from_secs(30)).await?;
                if args.json {
                    let value = serde_json::json!({
                        "version_hash": manifest.version_hash,
                        "files": manifest.files.len(),
                        "api": args.api,
                    });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!(
                        "uploaded manifest of {} ({} files) to {}",
                        manifest.version_hash,
                        manifest.files.len(),
                        args.api
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn write_manifest(out: Option<&PathBuf>, manifest: &Manifest) -> anyhow::Result<()> {
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(manifest)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// The folder's own name, which model_signing uses as the subject name.
fn folder_name(dir: &std::path::Path) -> String {
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    absolute.file_name().map_or_else(|| "model".to_owned(), |n| n.to_string_lossy().into_owned())
}

fn print_manifest(manifest: &Manifest) {
    for entry in &manifest.files {
        println!("{}  {:>14}  {}", entry.sha256, entry.size, entry.path);
    }
    println!("files         {}", manifest.files.len());
    println!("bytes         {}", manifest.total_bytes());
    println!("version hash  {}", manifest.version_hash);
}

async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let attestor = args.key.load()?;
    let manifest = args.hashing.hash(&args.dir)?;
    write_manifest(args.out.as_ref(), &manifest)?;
    let (sender_key, relayer) = match std::env::var(RELAYER_KEY_ENV) {
        Ok(hex) => (crate::signer::parse_private_key(&hex, RELAYER_KEY_ENV)?, Relayer::InUse),
        Err(_) => (attestor.clone(), Relayer::Available),
    };
    let paying = Sender { address: sender_key.address(), relayer };
    let sender = prova_chain::connect_with_signer(&args.chain.rpc_url, sender_key)?;
    let request = PublishRequest {
        publisher: args.publisher,
        version_hash: manifest.version_hash,
        model_id: model_id(&args.model),
        model_name: if args.private_name { String::new() } else { args.model.clone() },
        parent: args.parent,
        metadata_uri: args.metadata_uri,
        metadata_hash: args.metadata_hash,
        validity: Duration::from_secs(args.deadline_secs),
        confirmations: args.confirmations,
        commit: !args.no_commit,
        expected_chain_id: args.chain_id,
    };
    let published = publish_model_version(&sender, args.chain.registry, &attestor, &request).await.context(paying)?;
    if let Some(api) = &args.api {
        super::api_client::upload_manifest(api, &manifest, Duration::from_secs(60)).await?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&published)?);
    } else {
        println!("version hash  {}", published.version_hash);
        let private = if args.private_name { ", the name not published" } else { "" };
        println!("model         {} ({}{private})", args.model, request.model_id);
        println!("publisher     {}", published.publisher);
        println!("attestor      {}", published.attestor);
        if let Some(c) = &published.commitment {
            println!(
                "committed     block {} (tx {}, gas {}): the claim's priority",
                c.block_number, c.tx_hash, c.gas_used
            );
        }
        println!("tx            {}", published.tx_hash);
        println!("block         {} ({})", published.block_number, published.block_hash);
        println!("gas used      {}", published.gas_used);
    }
    Ok(ExitCode::SUCCESS)
}
