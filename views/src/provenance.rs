//! Model versions, their revocations, output batches, publishers and attestor keys.

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ChainPointer;

/// Every publisher's claim of one version hash. Claims never block one another; within a registry they are ordered
/// by priority (see [`ModelVersion::priority_block`]). Priority says who committed to the hash first, not who
/// made the weights.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionClaims {
    /// The version hash asked about.
    #[schema(value_type = crate::schema::Hash)]
    pub version_hash: B256,
    /// The publisher asked about (`?publisher=`), or null when the question was about every claim.
    #[schema(value_type = Option<crate::schema::Address>)]
    pub publisher: Option<Address>,
    /// That publisher's claim, or null (when no publisher was asked about, or it has not claimed the hash).
    pub claim: Option<ModelVersion>,
    /// Every claim within the filters, per chain and registry (never merged across them), in priority order.
    pub claims: Vec<ModelVersion>,
}

/// One publisher's claim of a model version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelVersion {
    /// The Merkle root of the version's manifest.
    #[schema(value_type = crate::schema::Hash)]
    pub version_hash: B256,
    /// keccak256 of the model name.
    #[schema(value_type = crate::schema::Hash)]
    pub model_id: B256,
    /// The model name the publisher gave with the claim (its keccak256 is `model_id`, checked on-chain), or null if
    /// the publisher kept it private.
    pub model_name: Option<String>,
    /// Parent version, or null.
    #[schema(value_type = Option<crate::schema::Hash>)]
    pub parent: Option<B256>,
    /// The publisher's id.
    #[schema(value_type = crate::schema::Address)]
    pub publisher: Address,
    /// The publisher's name, as registered.
    pub publisher_name: Option<String>,
    /// The attestor key that signed the registration.
    #[schema(value_type = crate::schema::Address)]
    pub attestor: Address,
    /// Metadata URI.
    pub metadata_uri: String,
    /// keccak256 of the metadata, or null.
    #[schema(value_type = Option<crate::schema::Hash>)]
    pub metadata_hash: Option<B256>,
    /// Block time of the registration.
    pub registered_at: DateTime<Utc>,
    /// Block time of the commitment the claim revealed, or null if it revealed none.
    pub committed_at: Option<DateTime<Utc>>,
    /// Block number of that commitment, or null.
    pub committed_block: Option<u64>,
    /// The block that orders this claim among the claims of the same hash in the same registry: its commitment's
    /// block, or its registration's when it revealed no commitment (ties: registration block, then log index).
    pub priority_block: u64,
    /// True if the attestor key was flagged compromised at or before the registration time.
    pub signed_by_compromised_key: bool,
    /// The revocation, or null.
    pub revocation: Option<Revocation>,
    /// Where the registration event is.
    pub chain: ChainPointer,
}

/// A version's revocation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Revocation {
    /// The publisher's reason.
    pub reason: String,
    /// Where the revocation event is.
    pub chain: ChainPointer,
}

/// An anchored output batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutputBatch {
    /// The StandardMerkleTree root over the batch's leaves.
    #[schema(value_type = crate::schema::Hash)]
    pub root: B256,
    /// The model version that produced the outputs.
    #[schema(value_type = crate::schema::Hash)]
    pub version_hash: B256,
    /// The publisher of the attestor key that anchored the batch.
    #[schema(value_type = crate::schema::Address)]
    pub publisher: Address,
    /// The attestor key that signed the anchoring.
    #[schema(value_type = crate::schema::Address)]
    pub attestor: Address,
    /// Number of leaves, as anchored.
    pub leaf_count: u64,
    /// Earliest leaf timestamp (unix seconds), as anchored.
    pub window_start: u64,
    /// Latest leaf timestamp (unix seconds), as anchored.
    pub window_end: u64,
    /// `window_start` as a date (null past the year 9999).
    pub window_start_at: Option<DateTime<Utc>>,
    /// `window_end` as a date (null past the year 9999).
    pub window_end_at: Option<DateTime<Utc>>,
    /// Where the attestor says the leaves can be fetched.
    pub batch_uri: String,
    /// True once the leaves have been uploaded (and verified) here.
    pub leaves_uploaded: bool,
    /// True if the anchoring key was flagged compromised at or before the anchoring time: no leaf of the batch
    /// verifies (the contract's `verifyOutput` agrees).
    pub signed_by_compromised_key: bool,
    /// The publisher's revocation of the batch, or null.
    pub revocation: Option<Revocation>,
    /// Where the `OutputsAttested` event is.
    pub chain: ChainPointer,
}

/// A publisher.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Publisher {
    /// The publisher id (the address that registered it).
    #[schema(value_type = crate::schema::Address)]
    pub publisher: Address,
    /// Name, as registered.
    pub name: String,
    /// Metadata URI, as registered.
    pub metadata_uri: String,
    /// Current admin, after any completed two-step transfer.
    #[schema(value_type = crate::schema::Address)]
    pub admin: Address,
    /// Registration time.
    pub registered_at: DateTime<Utc>,
    /// Number of model versions it registered.
    pub model_versions: u64,
    /// Its attestor keys, oldest first.
    pub attestor_keys: Vec<AttestorKey>,
    /// Where the registration event is.
    pub chain: ChainPointer,
}

/// An attestor key and its lifecycle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttestorKey {
    /// The key's address.
    #[schema(value_type = crate::schema::Address)]
    pub key: Address,
    /// `active`, `revoked` or `compromised`.
    pub status: KeyStatus,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Unix time from which it is flagged compromised, if it is.
    pub compromised_since: Option<i64>,
    /// Where the `AttestorAdded` event is.
    pub chain: ChainPointer,
}

/// An attestor key's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// It can sign.
    Active,
    /// Revoked by its publisher: it can sign nothing new.
    Revoked,
    /// Flagged compromised (and revoked): what it signed from `compromised_since` on is flagged.
    Compromised,
}
