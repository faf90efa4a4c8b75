//! Checking a model version against the chain alone: no database, no API.
//!
//! A version hash may be claimed by several publishers (each claim its own record, none blocking another). The
//! claims are found from the registry's `ModelVersionRegistered` logs (filtered by the indexed version hash) and
//! each is then read from the registry's state, which is authoritative. They are ordered by priority: the block of
//! the commitment a claim revealed (or its own block when it revealed none), then the registration block, then the
//! log's position.

use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use serde::Serialize;

use prova_chain::{call_error, check_registry};
use prova_core::bindings::IProvenanceRegistry;

use crate::error::Result;

/// What the registry says about a version hash.
#[derive(Debug, Clone, Serialize)]
pub struct ModelVerdict {
    /// The chain that was asked.
    pub chain_id: u64,
    /// The registry that was asked.
    pub registry: Address,
    /// The version hash that was looked up.
    pub version_hash: B256,
    /// The publisher the user asked about, if any.
    pub asked_publisher: Option<Address>,
    /// Every publisher's claim of the hash, in priority order (see the module documentation).
    pub claims: Vec<Registration>,
}

/// One publisher's claim of a version hash, as read from the contract.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// The publisher id.
    pub publisher: Address,
    /// The publisher's registered name (its own words: names are not unique).
    pub publisher_name: String,
    /// The attestor key that signed.
    pub attestor: Address,
    /// keccak256 of the model name.
    pub model_id: B256,
    /// The model name from the claim's `ModelVersionRegistered` event, shown only when its keccak256 is the
    /// contract's `model_id`; `None` when the publisher kept it private (or the node returned no such log).
    pub model_name: Option<String>,
    /// Parent version, or zero.
    pub parent: B256,
    /// Metadata URI.
    pub metadata_uri: String,
    /// Block timestamp of the registration.
    pub registered_at: u64,
    /// Block number of the registration.
    pub registered_block: u64,
    /// Block timestamp of the commitment the claim revealed, or zero.
    pub committed_at: u64,
    /// Block number of that commitment, or zero.
    pub committed_block: u64,
    /// When it was revoked, or zero.
    pub revoked_at: u64,
    /// True if the attestor key was flagged compromised at or before the registration.
    pub signed_by_compromised_key: bool,
}

impl Registration {
    /// The block that orders this claim among the others: its commitment's, or its own.
    pub fn priority_block(&self) -> u64 {
        if self.committed_block != 0 { self.committed_block } else { self.registered_block }
    }

    /// Why this claim does not stand, or `None` if it is not revoked and was signed by a sound key.
    pub fn problem(&self) -> Option<String> {
        if self.revoked_at != 0 {
            return Some(format!(
                "{}'s claim was revoked by that publisher at {}",
                self.publisher,
                prova_core::time::iso8601(self.revoked_at)
            ));
        }
        if self.signed_by_compromised_key {
            return Some(format!(
                "{}'s claim was signed by attestor key {} after the key was compromised",
                self.publisher, self.attestor
            ));
        }
        None
    }
}

impl ModelVerdict {
    /// The claim of the publisher asked about, when one was asked about and has claimed the hash.
    pub fn asked_claim(&self) -> Option<&Registration> {
        let publisher = self.asked_publisher?;
        self.claims.iter().find(|c| c.publisher == publisher)
    }

    /// The claim the verdict is about: the asked publisher's, or else the first standing claim in priority order.
    pub fn registration(&self) -> Option<&Registration> {
        match self.asked_publisher {
            Some(_) => self.asked_claim(),
            None => self.claims.iter().find(|c| c.problem().is_none()).or(self.claims.first()),
        }
    }

    /// True if some publisher has claimed the hash.
    pub fn is_claimed(&self) -> bool {
        !self.claims.is_empty()
    }

    /// Why the version is not verified, or `None` if the claim asked about (or, with no publisher asked about,
    /// at least one claim) stands: not revoked and signed by a sound key.
    pub fn failure(&self) -> Option<String> {
        let (hash, registry, chain) = (self.version_hash, self.registry, self.chain_id);
        if let Some(publisher) = self.asked_publisher {
            return match self.asked_claim() {
                None => Some(format!(
                    "publisher {publisher} has not claimed version {hash} in registry {registry} on chain {chain}{}",
                    if self.claims.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} other claims)", self.claims.len())
                    }
                )),
                Some(claim) => claim.problem(),
            };
        }
        if self.claims.is_empty() {
            return Some(format!("version {hash} is not registered in registry {registry} on chain {chain}"));
        }
        if self.claims.iter().any(|c| c.problem().is_none()) {
            return None;
        }
        let problems: Vec<String> = self.claims.iter().filter_map(Registration::problem).collect();
        Some(format!("no claim of version {hash} stands: {}", problems.join("; ")))
    }
}

/// Reads every claim of `version_hash` in the registry at `registry`, checking the chain id first when given.
/// With `publisher`, the verdict is about that publisher's claim (the others are still listed).
pub async fn verify_model_version(
    provider: &DynProvider,
    registry: Address,
    version_hash: B256,
    publisher: Option<Address>,
    expected_chain: Option<u64>,
) -> Result<ModelVerdict> {
    let chain_id = check_registry(provider, registry, expected_chain).await?;
    let head = provider
        .get_block_number()
        .await
        .map_err(|source| prova_chain::Error::Rpc { what: "reading the head".into(), source })?;
    let filter = Filter::new()
        .address(registry)
        .event_signature(IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH)
        .topic1(version_hash);
    let logs = prova_chain::get_logs(provider, &filter, 0, head).await?;
    // In chain order, so that the stable sort below breaks ties by log position.
    let mut publishers: Vec<Address> = Vec::new();
    let logged = logs.iter().filter_map(prova_chain::decode::<IProvenanceRegistry::ModelVersionRegistered>);
    // The asked publisher's state is read even without a log (a node that drops logs cannot hide a claim).
    for claimant in logged.map(|e| e.publisher).chain(publisher) {
        if !publishers.contains(&claimant) {
            publishers.push(claimant);
        }
    }
    let mut claims = Vec::with_capacity(publishers.len());
    for claimant in publishers {
        if let Some(claim) = read_claim(provider, registry, claimant, version_hash).await? {
            claims.push(claim);
        }
    }
    claims.sort_by_key(|c| (c.priority_block(), c.registered_block));
    Ok(ModelVerdict { chain_id, registry, version_hash, asked_publisher: publisher, claims })
}

/// `publisher`'s claim of `version_hash` from the registry's state, or `None` if it has made none.
async fn read_claim(
    provider: &DynProvider,
    registry: Address,
    publisher: Address,
    version_hash: B256,
) -> Result<Option<Registration>> {
    let contract = IProvenanceRegistry::new(registry, provider);
    let call_error = |e: alloy::contract::Error| call_error("reading the registry", e);
    let version = contract.getModelVersion(publisher, version_hash).call().await.map_err(call_error)?;
    if version.registeredAt == 0 {
        return Ok(None);
    }
    let record = contract.getPublisher(publisher).call().await.map_err(call_error)?;
    let compromised = contract.isSignedByCompromisedKey(publisher, version_hash).call().await.map_err(call_error)?;
    Ok(Some(Registration {
        publisher,
        publisher_name: record.name,
        attestor: version.attestor,
        model_id: version.modelId,
        model_name: model_name(provider, registry, publisher, version_hash, version.modelId, version.registeredBlock)
            .await?,
        parent: version.parent,
        metadata_uri: version.metadataURI,
        registered_at: version.registeredAt,
        registered_block: version.registeredBlock,
        committed_at: version.committedAt,
        committed_block: version.committedBlock,
        revoked_at: version.revokedAt,
        signed_by_compromised_key: compromised,
    }))
}

/// The model name `publisher` gave with its claim of `version_hash`, from the `ModelVersionRegistered` log in the
/// claim's registration block; `None` when it published none. A name is believed only if its keccak256 is the
/// `model_id` read from the contract's state, so a lying node's log cannot put another name on the claim.
pub async fn model_name(
    provider: &DynProvider,
    registry: Address,
    publisher: Address,
    version_hash: B256,
    model_id: B256,
    registered_block: u64,
) -> Result<Option<String>> {
    let filter = Filter::new()
        .address(registry)
        .event_signature(IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH)
        .topic1(version_hash)
        .topic3(publisher.into_word());
    let logs = prova_chain::get_logs(provider, &filter, registered_block, registered_block).await?;
    Ok(logs
        .iter()
        .filter_map(prova_chain::decode::<IProvenanceRegistry::ModelVersionRegistered>)
        .map(|e| e.modelName)
        .find(|name| !name.is_empty() && prova_core::bindings::model_id(name) == model_id))
}
