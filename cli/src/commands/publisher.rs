//! `prova publisher register | add-attestor | revoke-attestor`, sent from the publisher's admin account.

use std::process::ExitCode;

use alloy::primitives::Address;
use alloy::rpc::types::TransactionReceipt;
use clap::{Args, Subcommand};
use prova_attestor::admin;
use prova_core::args::ChainArgs;
use prova_core::signer::KeyArgs;

/// Publisher subcommands.
#[derive(Debug, Subcommand)]
pub enum PublisherCommand {
    /// Register the admin account as a publisher; its address becomes the publisher id.
    Register(RegisterArgs),
    /// Authorize an attestor key to sign for the publisher.
    AddAttestor(KeyChangeArgs),
    /// Revoke an attestor key: it can sign nothing new.
    RevokeAttestor(KeyChangeArgs),
}

/// Arguments of `prova publisher register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Human-readable name, e.g. "Acme AI".
    #[arg(long)]
    pub name: String,
    /// URI of a JSON document describing the publisher.
    #[arg(long, default_value = "")]
    pub metadata_uri: String,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The admin key.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of the key-management subcommands.
#[derive(Debug, Args)]
pub struct KeyChangeArgs {
    /// The attestor key's address.
    pub attestor: Address,
    /// Publisher id; defaults to the admin account's own address.
    #[arg(long)]
    pub publisher: Option<Address>,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The admin key.
    #[command(flatten)]
    pub key: KeyArgs,
}

impl PublisherCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let receipt = match self {
            Self::Register(args) => {
                let signer = args.key.load()?;
                let publisher = signer.address();
                let provider = prova_core::chain::connect_with_signer(&args.chain.rpc_url, signer)?;
                prova_core::chain::check_registry(&provider, args.chain.registry, None).await?;
                let receipt =
                    admin::register_publisher(&provider, args.chain.registry, &args.name, &args.metadata_uri).await?;
                println!("publisher     {publisher}");
                receipt
            }
            Self::AddAttestor(args) => change_key(args, true).await?,
            Self::RevokeAttestor(args) => change_key(args, false).await?,
        };
        print_receipt(&receipt);
        Ok(ExitCode::SUCCESS)
    }
}

async fn change_key(args: KeyChangeArgs, add: bool) -> anyhow::Result<TransactionReceipt> {
    let signer = args.key.load()?;
    let publisher = args.publisher.unwrap_or(signer.address());
    let provider = prova_core::chain::connect_with_signer(&args.chain.rpc_url, signer)?;
    prova_core::chain::check_registry(&provider, args.chain.registry, None).await?;
    let receipt = if add {
        admin::add_attestor(&provider, args.chain.registry, publisher, args.attestor).await?
    } else {
        admin::revoke_attestor(&provider, args.chain.registry, publisher, args.attestor).await?
    };
    println!("publisher     {publisher}");
    println!("attestor      {}", args.attestor);
    Ok(receipt)
}

/// Prints the transaction lines every sending command ends with.
pub fn print_receipt(receipt: &TransactionReceipt) {
    println!("tx            {}", receipt.transaction_hash);
    println!("block         {}", receipt.block_number.unwrap_or_default());
    println!("gas used      {}", receipt.gas_used);
}
