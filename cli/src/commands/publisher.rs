//! `prova publisher ...`: publisher registration, admin transfer and the attestor key lifecycle, sent from the
//! publisher's admin account.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::ChainArgs;
use crate::signer::KeyArgs;
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use prova_attestor::admin::{self, KeyAuthorization};
use prova_chain::TxInfo;

use crate::explain::Sender;

/// Publisher subcommands.
#[derive(Debug, Subcommand)]
pub enum PublisherCommand {
    /// Register the admin account as a publisher; its address becomes the publisher id.
    Register {
        /// Human-readable name, e.g. "Acme AI".
        #[arg(long)]
        name: String,
        /// URI of a JSON document describing the publisher.
        #[arg(long, default_value = "")]
        metadata_uri: String,
        /// Chain, registry and admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Authorize an attestor key to sign for the publisher. The key proves possession: it signs its own consent,
    /// here (`--attestor-keystore`) or on its own machine (`prova key authorize`, then `--authorization FILE`).
    AddAttestor {
        /// The key's consent.
        #[command(flatten)]
        consent: ConsentArgs,
        /// Chain, registry and admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Revoke an attestor key: it can sign nothing new; what it signed stays valid.
    RevokeAttestor {
        /// The attestor key's address.
        key: Address,
        /// Chain, registry and admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Rotate keys: add the new key (with its consent), then revoke the old one.
    RotateAttestor {
        /// The key to retire.
        old_key: Address,
        /// The new key's consent.
        #[command(flatten)]
        consent: ConsentArgs,
        /// Chain, registry and admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Flag a key as compromised from a time on: what it signed from then on is flagged; earlier work stays valid.
    CompromiseAttestor {
        /// The attestor key's address.
        key: Address,
        /// Unix time from which the key is compromised (default: now).
        #[arg(long)]
        since: Option<u64>,
        /// Chain, registry and admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Nominate a new admin (step one of two; the new admin runs accept-admin).
    TransferAdmin {
        /// The nominated admin; the zero address cancels a pending transfer.
        new_admin: Address,
        /// Chain, registry and current admin key.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Accept the admin role of a publisher (step two, signed by the nominated admin).
    AcceptAdmin {
        /// Chain, registry and the nominated admin's key.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// Chain, registry, the signing admin key, and which publisher it acts for.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Publisher id; defaults to the signing account's own address.
    #[arg(long)]
    pub publisher: Option<Address>,
    /// The chain and registry.
    #[command(flatten)]
    pub chain: ChainArgs,
    /// The admin key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// An attestor key's consent to sign for the publisher: its own signature (proof of possession), so nobody can add,
/// and so bind forever, a key they do not hold.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ConsentArgs {
    /// The authorization JSON written by `prova key authorize` on the key holder's machine.
    #[arg(long)]
    pub authorization: Option<PathBuf>,
    /// The attestor key's keystore, to sign its authorization here (password from PROVA_KEYSTORE_PASSWORD or a
    /// prompt).
    #[arg(long)]
    pub attestor_keystore: Option<PathBuf>,
}

impl ConsentArgs {
    /// The authorization, read or signed here, checked against the publisher and registry acted for.
    async fn load(
        &self,
        provider: &DynProvider,
        registry: Address,
        publisher: Address,
    ) -> anyhow::Result<KeyAuthorization> {
        use anyhow::Context;
        let authorization = match (&self.authorization, &self.attestor_keystore) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                serde_json::from_str::<KeyAuthorization>(&text).with_context(|| {
                    format!("{} is not a key authorization (make one with `prova key authorize`)", path.display())
                })?
            }
            (None, Some(keystore)) => {
                let key = KeyArgs { keystore: Some(keystore.clone()) }.load()?;
                admin::authorize(provider, registry, publisher, &key, admin::AUTHORIZATION_LIFETIME_SECS).await?
            }
            (None, None) => anyhow::bail!("pass --authorization FILE or --attestor-keystore FILE"),
        };
        anyhow::ensure!(
            authorization.publisher == publisher && authorization.registry == registry,
            "the authorization is for publisher {} in registry {}, not publisher {publisher} in registry {registry}",
            authorization.publisher,
            authorization.registry
        );
        Ok(authorization)
    }
}

/// An admin account connected to a registry.
#[derive(Debug)]
pub struct Admin {
    /// Sends as the admin key.
    pub provider: DynProvider,
    /// The publisher acted for.
    pub publisher: Address,
    /// The admin account, attached to the errors of its transactions.
    pub sender: Sender,
}

impl AdminArgs {
    /// Loads the key, connects, checks the registry.
    pub async fn connect(&self) -> anyhow::Result<Admin> {
        let signer = self.key.load()?;
        let sender = Sender::new(signer.address());
        let publisher = self.publisher.unwrap_or(signer.address());
        let provider = prova_chain::connect_with_signer(&self.chain.rpc_url, signer)?;
        prova_chain::check_registry(&provider, self.chain.registry, None).await?;
        Ok(Admin { provider, publisher, sender })
    }
}

impl PublisherCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let (json, report) = match self {
            Self::Register { name, metadata_uri, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let receipt =
                    admin::register_publisher(&p, admin.chain.registry, &name, &metadata_uri).await.context(sender)?;
                (admin.json, Report { publisher, receipts: vec![receipt], ..Report::default() })
            }
            Self::AddAttestor { consent, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let authorization = consent.load(&p, admin.chain.registry, publisher).await?;
                let receipt = admin::add_attestor(&p, &authorization).await.context(sender)?;
                let attestor = Some(authorization.key);
                (admin.json, Report { publisher, attestor, receipts: vec![receipt], ..Report::default() })
            }
            Self::RevokeAttestor { key, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let receipt = admin::revoke_attestor(&p, admin.chain.registry, publisher, key).await.context(sender)?;
                (admin.json, Report { publisher, revoked: Some(key), receipts: vec![receipt], ..Report::default() })
            }
            Self::RotateAttestor { old_key, consent, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let authorization = consent.load(&p, admin.chain.registry, publisher).await?;
                let (added, revoked) = admin::rotate_attestor(&p, &authorization, old_key).await.context(sender)?;
                let report = Report {
                    publisher,
                    attestor: Some(authorization.key),
                    revoked: Some(old_key),
                    receipts: vec![added, revoked],
                    ..Report::default()
                };
                (admin.json, report)
            }
            Self::CompromiseAttestor { key, since, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let since = match since {
                    Some(since) => since,
                    None => prova_chain::chain_time(&p).await?,
                };
                let receipt =
                    admin::mark_compromised(&p, admin.chain.registry, publisher, key, since).await.context(sender)?;
                let report =
                    Report { publisher, compromised: Some((key, since)), receipts: vec![receipt], ..Report::default() };
                (admin.json, report)
            }
            Self::TransferAdmin { new_admin, admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let receipt =
                    admin::transfer_admin(&p, admin.chain.registry, publisher, new_admin).await.context(sender)?;
                let report =
                    Report { publisher, nominated: Some(new_admin), receipts: vec![receipt], ..Report::default() };
                (admin.json, report)
            }
            Self::AcceptAdmin { admin } => {
                let Admin { provider: p, publisher, sender } = admin.connect().await?;
                let receipt = admin::accept_admin(&p, admin.chain.registry, publisher).await.context(sender)?;
                let report =
                    Report { publisher, admin: Some(sender.address), receipts: vec![receipt], ..Report::default() };
                (admin.json, report)
            }
        };
        report.print(json)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// What a publisher command did: the publisher, the key it acted on, and its transactions.
#[derive(Debug, Default, serde::Serialize)]
struct Report {
    publisher: Address,
    /// The attestor key added.
    #[serde(skip_serializing_if = "Option::is_none")]
    attestor: Option<Address>,
    /// The attestor key revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<Address>,
    /// The key flagged compromised, and since when (unix time).
    #[serde(skip_serializing_if = "Option::is_none")]
    compromised: Option<(Address, u64)>,
    /// The admin nominated.
    #[serde(skip_serializing_if = "Option::is_none")]
    nominated: Option<Address>,
    /// The admin who accepted the role.
    #[serde(skip_serializing_if = "Option::is_none")]
    admin: Option<Address>,
    #[serde(skip)]
    receipts: Vec<TransactionReceipt>,
}

impl Report {
    fn print(&self, json: bool) -> anyhow::Result<()> {
        if json {
            let mut value = serde_json::to_value(self)?;
            value["transactions"] = serde_json::to_value(self.receipts.iter().map(TxInfo::from).collect::<Vec<_>>())?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        println!("publisher     {}", self.publisher);
        match (self.attestor, self.revoked) {
            (Some(added), Some(old)) => println!("attestor      {added} replaces {old}"),
            (Some(added), None) => println!("attestor      {added} (added)"),
            (None, Some(old)) => println!("attestor      {old} (revoked)"),
            (None, None) => {}
        }
        if let Some((key, since)) = self.compromised {
            println!("attestor      {key} compromised since {}", prova_core::time::iso8601(since));
        }
        if let Some(nominated) = self.nominated {
            println!("nominated     {nominated} (must run accept-admin)");
        }
        if let Some(admin) = self.admin {
            println!("admin         {admin} (admin role accepted)");
        }
        for receipt in &self.receipts {
            print_receipt(receipt);
        }
        Ok(())
    }
}

/// Prints the transaction lines every sending command ends with.
pub fn print_receipt(receipt: &TransactionReceipt) {
    println!("tx            {}", receipt.transaction_hash);
    println!("block         {}", receipt.block_number.unwrap_or_default());
    println!("gas used      {}", receipt.gas_used);
}
