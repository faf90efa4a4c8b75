//! Publishing a model version: commit to the claim, sign the EIP-712 message with the attestor key, relay it, wait
//! for confirmations.
//!
//! A claim is first committed (`commitModelVersion(keccak256(publisher, versionHash, salt))`, which reveals nothing)
//! and revealed in a later block, so its priority is the commitment's block: someone who copies the version hash
//! from the revealing transaction in the mempool can only get a later priority. `commit: false` skips the commitment
//! (one transaction instead of two; the priority is then the registration's block).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use prova_chain::{check_registry, wait};
use prova_core::bindings::{IProvenanceRegistry, RegisterModelVersion, commitment_of, random_nonce};
use serde::Serialize;
use tracing::info;

use crate::error::{Error, Result};

/// The longest model name the registry takes, in bytes (`ProvenanceRegistry.MAX_MODEL_NAME_LENGTH`).
pub const MAX_MODEL_NAME_LENGTH: usize = 256;

/// What to register.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The publisher; `None` means the publisher the attestor key belongs to.
    pub publisher: Option<Address>,
    /// The manifest's Merkle root.
    pub version_hash: B256,
    /// keccak256 of the model name.
    pub model_id: B256,
    /// The model name itself, recorded in the registration's event; empty keeps it private (only `model_id` is
    /// published). When given, its keccak256 must be `model_id`.
    pub model_name: String,
    /// Parent version, or zero.
    pub parent: B256,
    /// Metadata URI.
    pub metadata_uri: String,
    /// keccak256 of the metadata document, or zero.
    pub metadata_hash: B256,
    /// How long the signature stays valid.
    pub validity: Duration,
    /// Confirmations to wait for.
    pub confirmations: u64,
    /// Commit first and reveal in a later block (priority from the commitment); `false` registers directly.
    pub commit: bool,
    /// The chain id the caller expects; a different chain is refused before anything is signed.
    pub expected_chain_id: Option<u64>,
}

impl PublishRequest {
    /// A request for `version_hash` of the model named `model_name` (recorded on-chain) by the attestor key's own
    /// publisher, with no parent or metadata, committed first, a signature valid for an hour and one confirmation.
    pub fn new(version_hash: B256, model_name: &str) -> Self {
        Self {
            publisher: None,
            version_hash,
            model_id: prova_core::bindings::model_id(model_name),
            model_name: model_name.to_owned(),
            parent: B256::ZERO,
            metadata_uri: String::new(),
            metadata_hash: B256::ZERO,
            validity: Duration::from_secs(3600),
            confirmations: 1,
            commit: true,
            expected_chain_id: None,
        }
    }
}

/// A model version that made it on-chain.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// The version hash.
    pub version_hash: B256,
    /// keccak256 of the model name.
    pub model_id: B256,
    /// The model name recorded with the claim, or `None` if it was kept private.
    pub model_name: Option<String>,
    /// The publisher.
    pub publisher: Address,
    /// The attestor key that signed.
    pub attestor: Address,
    /// The chain.
    pub chain_id: u64,
    /// The registry.
    pub registry: Address,
    /// The registering transaction.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// Its block hash.
    pub block_hash: B256,
    /// The `ModelVersionRegistered` log's index in the block.
    pub log_index: u64,
    /// Gas used by the transaction.
    pub gas_used: u64,
    /// The commitment the claim revealed, if it was committed first.
    pub commitment: Option<Commitment>,
}

/// A commitment a claim revealed: its priority.
#[derive(Debug, Clone, Serialize)]
pub struct Commitment {
    /// The committing transaction.
    pub tx_hash: B256,
    /// Its block: the claim's priority.
    pub block_number: u64,
    /// Gas used by the transaction.
    pub gas_used: u64,
}

/// Signs `request` with `attestor` and sends it through `sender` (which may be the attestor itself or a relayer).
pub async fn publish_model_version(
    sender: &DynProvider,
    registry: Address,
    attestor: &PrivateKeySigner,
    request: &PublishRequest,
) -> Result<Published> {
    let chain_id = check_registry(sender, registry, request.expected_chain_id).await?;
    let contract = IProvenanceRegistry::new(registry, sender);

    let key = contract.getAttestorKey(attestor.address()).call().await?;
    if key.publisher.is_zero() {
        return Err(Error::NotAnAttestor(attestor.address()));
    }
    if key.revokedAt != 0 {
        return Err(Error::RevokedAttestor(attestor.address()));
    }
    let publisher = request.publisher.unwrap_or(key.publisher);
    if contract.isRegistered(publisher, request.version_hash).call().await? {
        return Err(Error::AlreadyRegistered { version_hash: request.version_hash, publisher });
    }
    if !request.parent.is_zero() && !contract.isClaimed(request.parent).call().await? {
        return Err(Error::UnknownParent(request.parent));
    }

    // The salt is secret until the reveal, and covered by the attestor's signature: a relay cannot strip it.
    let (commit_salt, commitment) = if request.commit {
        let salt = B256::random();
        let pending = contract.commitModelVersion(commitment_of(publisher, request.version_hash, salt)).send().await?;
        info!(tx = %pending.tx_hash(), version = %request.version_hash, "sent commitModelVersion");
        // The reveal must land in a later block than the commitment; one confirmation ensures it.
        let receipt = wait(pending, 1).await?;
        let committed = Commitment {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
        };
        (salt, Some(committed))
    } else {
        (B256::ZERO, None)
    };

    let name = &request.model_name;
    if name.len() > MAX_MODEL_NAME_LENGTH
        || (!name.is_empty() && prova_core::bindings::model_id(name) != request.model_id)
    {
        return Err(Error::Refused(format!(
            "the model name must be at most {MAX_MODEL_NAME_LENGTH} bytes and hash to the model id (it is {} bytes)",
            name.len()
        )));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    let message = RegisterModelVersion {
        publisher,
        versionHash: request.version_hash,
        modelId: request.model_id,
        parent: request.parent,
        metadataURI: request.metadata_uri.clone(),
        metadataHash: request.metadata_hash,
        commitSalt: commit_salt,
        nonce: random_nonce(),
        deadline: U256::from((now + request.validity).as_secs()),
    };
    let digest = message.signing_hash(chain_id, registry);
    let signature = attestor.sign_hash_sync(&digest).map_err(prova_core::Error::from)?;

    let pending = contract
        .registerModelVersion(message.claim(), request.model_name.clone(), signature.as_bytes().into())
        .send()
        .await?;
    info!(tx = %pending.tx_hash(), version = %request.version_hash, "sent registerModelVersion");
    let receipt = wait(pending, request.confirmations.max(1)).await?;

    let log = receipt
        .inner
        .logs()
        .iter()
        .find(|log| {
            log.address() == registry
                && log.topic0() == Some(&IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH)
        })
        .ok_or_else(|| prova_chain::Error::Missing("the receipt holds no ModelVersionRegistered event".into()))?;
    Ok(Published {
        version_hash: request.version_hash,
        model_id: request.model_id,
        model_name: Some(request.model_name.clone()).filter(|name| !name.is_empty()),
        publisher,
        attestor: attestor.address(),
        chain_id,
        registry,
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
        block_hash: receipt.block_hash.unwrap_or_default(),
        log_index: log.log_index.unwrap_or_default(),
        gas_used: receipt.gas_used,
        commitment,
    })
}
