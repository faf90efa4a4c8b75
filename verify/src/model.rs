//! Checking a model version against the chain alone: no database, no API.

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
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
    /// The registration, if there is one.
    pub registration: Option<Registration>,
}

/// A registration as read from the contract.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    /// The publisher id.
    pub publisher: Address,
    /// The publisher's registered name.
    pub publisher_name: String,
    /// The attestor key that signed.
    pub attestor: Address,
    /// keccak256 of the model name.
    pub model_id: B256,
    /// Parent version, or zero.
    pub parent: B256,
    /// Metadata URI.
    pub metadata_uri: String,
    /// Block timestamp of the registration.
    pub registered_at: u64,
    /// Block number of the registration.
    pub registered_block: u64,
    /// When it was revoked, or zero.
    pub revoked_at: u64,
    /// True if the attestor key was flagged compromised at or before the registration.
    pub signed_by_compromised_key: bool,
}

impl ModelVerdict {
    /// Why the version is not verified, or `None` if it is registered, not revoked and signed by a sound key.
    pub fn failure(&self) -> Option<String> {
        let Some(reg) = &self.registration else {
            return Some(format!(
                "version {} is not registered in registry {} on chain {}",
                self.version_hash, self.registry, self.chain_id
            ));
        };
        if reg.revoked_at != 0 {
            return Some(format!(
                "version {} was revoked by its publisher at unix time {}",
                self.version_hash, reg.revoked_at
            ));
        }
        if reg.signed_by_compromised_key {
            return Some(format!(
                "version {} was signed by attestor key {} after it was compromised",
                self.version_hash, reg.attestor
            ));
        }
        None
    }
}

/// Reads what the registry at `registry` says about `version_hash`, checking the chain id first when given.
pub async fn verify_model_version(
    provider: &DynProvider,
    registry: Address,
    version_hash: B256,
    expected_chain: Option<u64>,
) -> Result<ModelVerdict> {
    let chain_id = check_registry(provider, registry, expected_chain).await?;
    let contract = IProvenanceRegistry::new(registry, provider);
    let call_error = |e: alloy::contract::Error| call_error("reading the registry", e);
    let version = contract.getModelVersion(version_hash).call().await.map_err(call_error)?;
    let registration = if version.registeredAt == 0 {
        None
    } else {
        let publisher = contract.getPublisher(version.publisher).call().await.map_err(call_error)?;
        let compromised = contract.isSignedByCompromisedKey(version_hash).call().await.map_err(call_error)?;
        Some(Registration {
            publisher: version.publisher,
            publisher_name: publisher.name,
            attestor: version.attestor,
            model_id: version.modelId,
            parent: version.parent,
            metadata_uri: version.metadataURI,
            registered_at: version.registeredAt,
            registered_block: version.registeredBlock,
            revoked_at: version.revokedAt,
            signed_by_compromised_key: compromised,
        })
    };
    Ok(ModelVerdict { chain_id, registry, version_hash, registration })
}
