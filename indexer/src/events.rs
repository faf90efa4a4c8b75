//! Decoding logs into table rows: one table per event, the same seven leading columns on every table.
//!
//! A contract is indexed as one [`ContractKind`]; each kind knows its events and the tables they go to, so the
//! writer and the reorg code stay generic.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::Log;
use alloy::sol_types::SolEventInterface;
use prova_core::bindings::IIdentityRegistry::IIdentityRegistryEvents as Identity;
use prova_core::bindings::IProvenanceRegistry::IProvenanceRegistryEvents as Registry;
use prova_core::bindings::IReputationRegistry::IReputationRegistryEvents as Reputation;
use prova_core::bindings::IValidationRegistry::IValidationRegistryEvents as Validation;
use serde::{Deserialize, Serialize};

/// What kind of contract an indexed address holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractKind {
    /// prova's ProvenanceRegistry.
    Provenance,
    /// An ERC-8004 identity registry (ERC-721 agents, URIs, metadata, wallets).
    Identity,
    /// An ERC-8004 reputation registry (feedback, revocations, responses; prova's verified-feedback extension).
    Reputation,
    /// An ERC-8004 validation registry.
    Validation,
}

impl ContractKind {
    /// Every kind.
    pub const ALL: &[ContractKind] =
        &[ContractKind::Provenance, ContractKind::Identity, ContractKind::Reputation, ContractKind::Validation];

    /// The tables this kind writes.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            ContractKind::Provenance => PROVENANCE_TABLES,
            ContractKind::Identity => {
                &["agent_registered", "agent_metadata_set", "agent_uri_updated", "agent_transferred"]
            }
            ContractKind::Reputation => {
                &["feedback_given", "feedback_revoked", "feedback_response", "feedback_verified"]
            }
            ContractKind::Validation => &["validation_requested", "validation_responded"],
        }
    }

    /// Decodes one log into its row, or `None` for a log this kind does not store (ERC-721 approvals) or know.
    pub fn decode(self, log: &Log) -> Option<Row> {
        match self {
            ContractKind::Provenance => Registry::decode_log(log).ok().map(|decoded| provenance_row(decoded.data)),
            ContractKind::Identity => Identity::decode_log(log).ok().and_then(|decoded| identity_row(decoded.data)),
            ContractKind::Reputation => Reputation::decode_log(log).ok().map(|decoded| reputation_row(decoded.data)),
            ContractKind::Validation => Validation::decode_log(log).ok().map(|decoded| validation_row(decoded.data)),
        }
    }

    /// The kind's name in configuration and the API.
    pub fn name(self) -> &'static str {
        match self {
            ContractKind::Provenance => "provenance",
            ContractKind::Identity => "identity",
            ContractKind::Reputation => "reputation",
            ContractKind::Validation => "validation",
        }
    }
}

impl fmt::Display for ContractKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ContractKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|kind| kind.to_string() == s).ok_or_else(|| {
            format!("unknown contract kind {s:?} (expected provenance, identity, reputation or validation)")
        })
    }
}

/// Every table written by any kind, for undoing a reorg or purging a contract.
pub fn all_tables() -> impl Iterator<Item = &'static str> {
    ContractKind::ALL.iter().flat_map(|kind| kind.tables().iter().copied())
}

/// One column value of an event row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// BYTEA: hashes and addresses as raw bytes.
    Bytes(Vec<u8>),
    /// TEXT (NUL replaced by U+FFFD, which Postgres TEXT cannot hold).
    Text(String),
    /// BIGINT.
    Int(i64),
    /// NUMERIC, as its decimal string (values beyond BIGINT, such as int128 feedback).
    Numeric(String),
    /// BOOLEAN.
    Bool(bool),
}

impl Value {
    /// A TEXT value, with NUL replaced.
    pub fn text(value: &str) -> Self {
        Value::Text(value.replace('\0', "\u{FFFD}"))
    }

    /// A BIGINT from an unsigned chain quantity; values beyond i64 cannot occur on real chains and saturate.
    pub fn int(value: u64) -> Self {
        Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    /// A BYTEA value.
    pub fn bytes(value: impl AsRef<[u8]>) -> Self {
        Value::Bytes(value.as_ref().to_vec())
    }

    /// A NUMERIC value.
    pub fn numeric(value: impl ToString) -> Self {
        Value::Numeric(value.to_string())
    }
}

/// The event-specific part of a row: its table, and its columns after the common ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The table.
    pub table: &'static str,
    /// Column names, in the order of `values`.
    pub columns: &'static [&'static str],
    /// Column values.
    pub values: Vec<Value>,
}

const PROVENANCE_TABLES: &[&str] = &[
    "publisher_registered",
    "publisher_admin_transfer_started",
    "publisher_admin_transferred",
    "attestor_added",
    "attestor_revoked",
    "attestor_compromised",
    "model_version_committed",
    "model_version_registered",
    "model_version_revoked",
    "nonce_invalidated",
    "outputs_attested",
    "output_batch_revoked",
];

fn row(table: &'static str, columns: &'static [&'static str], values: Vec<Value>) -> Row {
    debug_assert_eq!(columns.len(), values.len());
    Row { table, columns, values }
}

pub(crate) fn provenance_row(event: Registry) -> Row {
    use Value as V;
    match event {
        Registry::PublisherRegistered(e) => row(
            "publisher_registered",
            &["publisher", "admin", "name", "metadata_uri"],
            vec![V::bytes(e.publisher), V::bytes(e.admin), V::text(&e.name), V::text(&e.metadataURI)],
        ),
        Registry::PublisherAdminTransferStarted(e) => row(
            "publisher_admin_transfer_started",
            &["publisher", "admin", "pending_admin"],
            vec![V::bytes(e.publisher), V::bytes(e.admin), V::bytes(e.pendingAdmin)],
        ),
        Registry::PublisherAdminTransferred(e) => row(
            "publisher_admin_transferred",
            &["publisher", "previous_admin", "new_admin"],
            vec![V::bytes(e.publisher), V::bytes(e.previousAdmin), V::bytes(e.newAdmin)],
        ),
        Registry::AttestorAdded(e) => {
            row("attestor_added", &["publisher", "key"], vec![V::bytes(e.publisher), V::bytes(e.key)])
        }
        Registry::AttestorRevoked(e) => {
            row("attestor_revoked", &["publisher", "key"], vec![V::bytes(e.publisher), V::bytes(e.key)])
        }
        Registry::AttestorCompromised(e) => row(
            "attestor_compromised",
            &["publisher", "key", "since"],
            vec![V::bytes(e.publisher), V::bytes(e.key), V::int(e.since)],
        ),
        Registry::ModelVersionCommitted(e) => {
            row("model_version_committed", &["commitment"], vec![V::bytes(e.commitment)])
        }
        Registry::ModelVersionRegistered(e) => row(
            "model_version_registered",
            &[
                "version_hash",
                "model_id",
                "publisher",
                "parent",
                "attestor",
                "metadata_uri",
                "metadata_hash",
                "committed_block",
                "committed_at",
                "model_name",
            ],
            vec![
                V::bytes(e.versionHash),
                V::bytes(e.modelId),
                V::bytes(e.publisher),
                V::bytes(e.parent),
                V::bytes(e.attestor),
                V::text(&e.metadataURI),
                V::bytes(e.metadataHash),
                V::int(e.committedBlock),
                V::int(e.committedAt),
                V::text(&e.modelName),
            ],
        ),
        Registry::ModelVersionRevoked(e) => row(
            "model_version_revoked",
            &["version_hash", "publisher", "reason"],
            vec![V::bytes(e.versionHash), V::bytes(e.publisher), V::text(&e.reason)],
        ),
        Registry::OutputsAttested(e) => row(
            "outputs_attested",
            &["root", "version_hash", "publisher", "attestor", "leaf_count", "window_start", "window_end", "batch_uri"],
            vec![
                V::bytes(e.root),
                V::bytes(e.versionHash),
                V::bytes(e.publisher),
                V::bytes(e.attestor),
                V::int(e.leafCount),
                V::int(e.windowStart),
                V::int(e.windowEnd),
                V::text(&e.batchURI),
            ],
        ),
        Registry::OutputBatchRevoked(e) => row(
            "output_batch_revoked",
            &["root", "publisher", "reason"],
            vec![V::bytes(e.root), V::bytes(e.publisher), V::text(&e.reason)],
        ),
        Registry::NonceInvalidated(e) => row(
            "nonce_invalidated",
            &["signer", "nonce"],
            vec![V::bytes(e.signer), V::bytes(e.nonce.to_be_bytes::<32>())],
        ),
    }
}

fn identity_row(event: Identity) -> Option<Row> {
    use Value as V;
    Some(match event {
        Identity::Registered(e) => row(
            "agent_registered",
            &["agent_id", "agent_uri", "owner"],
            vec![V::numeric(e.agentId), V::text(&e.agentURI), V::bytes(e.owner)],
        ),
        Identity::MetadataSet(e) => row(
            "agent_metadata_set",
            &["agent_id", "metadata_key", "metadata_value"],
            vec![V::numeric(e.agentId), V::text(&e.metadataKey), V::bytes(&e.metadataValue)],
        ),
        Identity::URIUpdated(e) => row(
            "agent_uri_updated",
            &["agent_id", "new_uri", "updated_by"],
            vec![V::numeric(e.agentId), V::text(&e.newURI), V::bytes(e.updatedBy)],
        ),
        Identity::Transfer(e) => row(
            "agent_transferred",
            &["from_address", "to_address", "agent_id"],
            vec![V::bytes(e.from), V::bytes(e.to), V::numeric(e.tokenId)],
        ),
        Identity::Approval(_) | Identity::ApprovalForAll(_) => return None,
    })
}

/// The columns of a `feedback_given` row, in the order [`reputation_row`] gives its values.
pub(crate) const FEEDBACK_GIVEN_COLUMNS: [&str; 10] = [
    "agent_id",
    "client",
    "feedback_index",
    "value",
    "value_decimals",
    "tag1",
    "tag2",
    "endpoint",
    "feedback_uri",
    "feedback_hash",
];

fn reputation_row(event: Reputation) -> Row {
    use Value as V;
    match event {
        Reputation::NewFeedback(e) => row(
            "feedback_given",
            &FEEDBACK_GIVEN_COLUMNS,
            vec![
                V::numeric(e.agentId),
                V::bytes(e.clientAddress),
                V::int(e.feedbackIndex),
                V::numeric(e.value),
                V::int(e.valueDecimals.into()),
                V::text(&e.tag1),
                V::text(&e.tag2),
                V::text(&e.endpoint),
                V::text(&e.feedbackURI),
                V::bytes(e.feedbackHash),
            ],
        ),
        Reputation::FeedbackRevoked(e) => row(
            "feedback_revoked",
            &["agent_id", "client", "feedback_index"],
            vec![V::numeric(e.agentId), V::bytes(e.clientAddress), V::int(e.feedbackIndex)],
        ),
        Reputation::ResponseAppended(e) => row(
            "feedback_response",
            &["agent_id", "client", "feedback_index", "responder", "response_uri", "response_hash"],
            vec![
                V::numeric(e.agentId),
                V::bytes(e.clientAddress),
                V::int(e.feedbackIndex),
                V::bytes(e.responder),
                V::text(&e.responseURI),
                V::bytes(e.responseHash),
            ],
        ),
        Reputation::VerifiedFeedback(e) => row(
            "feedback_verified",
            &["agent_id", "client", "feedback_index", "interaction_hash", "signer"],
            vec![
                V::numeric(e.agentId),
                V::bytes(e.clientAddress),
                V::int(e.feedbackIndex),
                V::bytes(e.interactionHash),
                V::bytes(e.signer),
            ],
        ),
    }
}

fn validation_row(event: Validation) -> Row {
    use Value as V;
    match event {
        Validation::ValidationRequest(e) => row(
            "validation_requested",
            &["validator", "agent_id", "request_uri", "request_hash"],
            vec![V::bytes(e.validatorAddress), V::numeric(e.agentId), V::text(&e.requestURI), V::bytes(e.requestHash)],
        ),
        Validation::ValidationResponse(e) => row(
            "validation_responded",
            &["validator", "agent_id", "request_hash", "response", "response_uri", "response_hash", "tag"],
            vec![
                V::bytes(e.validatorAddress),
                V::numeric(e.agentId),
                V::bytes(e.requestHash),
                V::int(e.response.into()),
                V::text(&e.responseURI),
                V::bytes(e.responseHash),
                V::text(&e.tag),
            ],
        ),
    }
}
