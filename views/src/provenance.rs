//! Model versions, their revocations, output batches, publishers and attestor keys.

use alloy::primitives::{Address, B256};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ChainPointer;

/// A model version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelVersion {
    /// The Merkle root of the version's manifest.
    #[schema(value_type = crate::schema::Hash)]
    pub version_hash: B256,
    /// keccak256 of the model name.
    #[schema(value_type = crate::schema::Hash)]
    pub model_id: B256,
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
    /// The version's publisher.
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
    /// Where the attestor says the leaves can be fetched.
    pub batch_uri: String,
    /// True once the leaves have been uploaded (and verified) here.
    pub leaves_uploaded: bool,
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
