//! ERC-8004 agents: identity, feedback, validations and reputation.

use alloy::primitives::{Address, B256, Bytes, U256};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ChainPointer;
use crate::provenance::ModelVersion;
use prova_reputation::Score;

/// An agent's global name: chain, identity registry and token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentRef {
    /// EIP-155 chain id.
    #[schema(example = 31337)]
    pub chain_id: u64,
    /// The identity registry (ERC-721) holding the agent.
    #[schema(value_type = crate::schema::Address)]
    pub identity_registry: Address,
    /// The token id, as a decimal string (uint256).
    #[serde(with = "decimal")]
    #[schema(value_type = String, pattern = "^[0-9]+$", example = "1")]
    pub agent_id: U256,
}

/// An agent's identity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Agent {
    /// Chain, identity registry and agent id.
    #[serde(flatten)]
    pub agent: AgentRef,
    /// The current agent URI (registration file).
    pub agent_uri: String,
    /// The current owner of the identity NFT (zero once burned).
    #[schema(value_type = crate::schema::Address)]
    pub owner: Address,
    /// The current agent wallet, or null.
    #[schema(value_type = Option<crate::schema::Address>)]
    pub wallet: Option<Address>,
    /// The model version the agent declares it runs, or null.
    pub model: Option<ModelBinding>,
    /// The agent's other on-chain metadata: the latest `MetadataSet` of each key, by key (byte order), at most
    /// [`MAX_METADATA_ENTRIES`]. The reserved keys `agentWallet` and `prova.modelVersion` are left out: `wallet`
    /// and `model` give them.
    pub metadata: Vec<MetadataEntry>,
    /// Whether the agent has more keys than `metadata` lists.
    pub metadata_truncated: bool,
    /// The reputation registry the feedback counts come from, or null when none is indexed for this registry.
    #[schema(value_type = Option<crate::schema::Address>)]
    pub reputation_registry: Option<Address>,
    /// Feedback counts in that registry.
    pub feedback: FeedbackCounts,
    /// Validation counts, over every validation registry linked to the identity registry.
    pub validations: ValidationCounts,
    /// Where the `Registered` event is.
    pub registered: ChainPointer,
    /// Where the current URI, owner and wallet were set.
    pub sources: Sources,
}

/// The most metadata entries `GET /v1/agents/{chain_id}/{agent_id}` lists.
pub const MAX_METADATA_ENTRIES: usize = 100;

/// One key of an agent's generic metadata, as its latest `MetadataSet(agentId, key, value)` left it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetadataEntry {
    /// The key.
    pub key: String,
    /// The value's bytes, as 0x hex (`0x` when empty).
    #[schema(value_type = String, pattern = "^0x([0-9a-f]{2})*$", example = "0x68747470733a2f2f")]
    pub value: Bytes,
    /// The value as text when it is valid UTF-8, else null.
    pub value_utf8: Option<String>,
    /// Where the `MetadataSet` event is.
    pub chain: ChainPointer,
}

impl MetadataEntry {
    /// The entry of `key` holding `value`, set by the event at `chain`.
    pub fn new(key: String, value: Vec<u8>, chain: ChainPointer) -> Self {
        let value_utf8 = String::from_utf8(value.clone()).ok();
        Self { key, value: Bytes::from(value), value_utf8, chain }
    }
}

/// The events the current identity fields come from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Sources {
    /// The `URIUpdated` event (or `Registered`) that set the current URI.
    pub agent_uri: ChainPointer,
    /// The `Transfer` event (or `Registered`) that made the current owner.
    pub owner: ChainPointer,
    /// The event that decided the current wallet: the latest `MetadataSet("agentWallet")`, or a later transfer that
    /// cleared it; null when no wallet was ever set.
    pub wallet: Option<ChainPointer>,
}

/// An agent's binding to a model version: **the agent owner's claim** (set by its owner or an operator with
/// `setMetadata("prova.modelVersion", versionHash)`) that the agent runs that version. No publisher endorses it:
/// the claims below say who published the weights, not that they run this agent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelBinding {
    /// The bound version hash.
    #[schema(value_type = crate::schema::Hash)]
    pub version_hash: B256,
    /// Of the version's claims (not of the binding): `registered` (some publisher's claim stands), `revoked` (every
    /// claim revoked by its publisher), `signed_by_compromised_key` (no claim stands and some was signed by a key
    /// flagged compromised at the time) or `not_registered` (no claim in the canonical provenance registry of this
    /// chain).
    pub status: ModelStatus,
    /// Always `agent_owner`: who makes the binding's claim.
    pub claimed_by: String,
    /// Every publisher's claim of the version, as `GET /v1/model-versions/{versionHash}` lists them.
    pub claims: Vec<ModelVersion>,
    /// Where the `MetadataSet("prova.modelVersion")` event is.
    pub chain: ChainPointer,
}

/// Feedback counts of an agent.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct FeedbackCounts {
    /// Feedback entries (`NewFeedback`).
    pub total: u64,
    /// Of which revoked by their client.
    pub revoked: u64,
    /// Of which backed by an interaction receipt (prova extension).
    pub verified: u64,
    /// Distinct clients among all entries.
    pub distinct_clients: u64,
}

/// Validation counts of an agent.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ValidationCounts {
    /// Validation requests.
    pub requests: u64,
    /// Requests with at least one response.
    pub responded: u64,
    /// Mean of the latest response (0..100) of each responded request, or null when none responded. Unlike the
    /// contract's `getSummary`, not truncated to an integer.
    pub average_response: Option<f64>,
}

/// One page of an agent's feedback.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackPage {
    /// The agent.
    pub agent: AgentRef,
    /// The reputation registry the feedback is from.
    #[schema(value_type = crate::schema::Address)]
    pub reputation_registry: Address,
    /// The feedback, in log order.
    pub items: Vec<FeedbackItem>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One `NewFeedback` entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackItem {
    /// The reviewer.
    #[schema(value_type = crate::schema::Address)]
    pub client: Address,
    /// Index per (agent, client), counting from 1.
    pub feedback_index: u64,
    /// The int128 value, as an exact decimal string.
    #[schema(pattern = "^-?[0-9]+$", example = "95")]
    pub value: String,
    /// `valueDecimals` (0..18).
    pub value_decimals: u8,
    /// First tag.
    pub tag1: String,
    /// Second tag.
    pub tag2: String,
    /// The endpoint the feedback is about.
    pub endpoint: String,
    /// Off-chain feedback file.
    pub feedback_uri: String,
    /// Its keccak256 as given by the client (zero when none).
    #[schema(value_type = crate::schema::Hash)]
    pub feedback_hash: B256,
    /// Block time.
    pub given_at: DateTime<Utc>,
    /// Whether the client revoked it.
    pub revoked: bool,
    /// The revocation, or null.
    pub revocation: Option<FeedbackRevocation>,
    /// Whether it came with a valid interaction receipt (prova extension).
    pub verified: bool,
    /// The receipt, or null.
    pub verification: Option<Verification>,
    /// Number of `ResponseAppended` events on it.
    pub responses: u64,
    /// Where the `NewFeedback` event is.
    pub chain: ChainPointer,
}

/// A feedback revocation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FeedbackRevocation {
    /// Where the `FeedbackRevoked` event is.
    pub chain: ChainPointer,
}

/// The interaction receipt of a verified feedback.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    /// The hash of the interaction the receipt covers.
    #[schema(value_type = crate::schema::Hash)]
    pub interaction_hash: B256,
    /// Who signed the receipt (the agent's wallet, or its owner).
    #[schema(value_type = crate::schema::Address)]
    pub signer: Address,
    /// Where the `VerifiedFeedback` event is.
    pub chain: ChainPointer,
}

/// One page of an agent's validation requests.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationPage {
    /// The agent.
    pub agent: AgentRef,
    /// The validation registries searched (every one linked to the identity registry).
    #[schema(value_type = Vec<crate::schema::Address>)]
    pub validation_registries: Vec<Address>,
    /// The requests, in log order.
    pub items: Vec<ValidationItem>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A `ValidationRequest`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationItem {
    /// The validator asked.
    #[schema(value_type = crate::schema::Address)]
    pub validator: Address,
    /// Off-chain request file.
    pub request_uri: String,
    /// The request's hash (its id in the registry).
    #[schema(value_type = crate::schema::Hash)]
    pub request_hash: B256,
    /// Block time of the request.
    pub requested_at: DateTime<Utc>,
    /// The latest `ValidationResponse` to it, or null.
    pub response: Option<ValidationResponse>,
    /// Where the `ValidationRequest` event is.
    pub chain: ChainPointer,
}

/// A `ValidationResponse`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidationResponse {
    /// The agent the response names (its `ValidationResponse` event's `agentId`, a decimal string): always the agent
    /// of the request it answers. A request hash is global, so a response is listed only under the agent it names;
    /// a validator's answer is never credited to another agent that registered the same request hash.
    #[serde(with = "decimal")]
    #[schema(value_type = String, pattern = "^[0-9]+$", example = "1")]
    pub agent_id: U256,
    /// The validator's answer, 0..100.
    pub response: u8,
    /// Off-chain response file.
    pub response_uri: String,
    /// Its hash as given (zero when none).
    #[schema(value_type = crate::schema::Hash)]
    pub response_hash: B256,
    /// The validator's tag.
    pub tag: String,
    /// Block time of the response.
    pub responded_at: DateTime<Utc>,
    /// Where the event is.
    pub chain: ChainPointer,
}

/// One agent's reputation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Reputation {
    /// The agent.
    pub agent: AgentRef,
    /// The reputation registry the feedback is from.
    #[schema(value_type = crate::schema::Address)]
    pub reputation_registry: Address,
    /// The highest block of the reputation registry included (its indexer cursor minus one).
    pub as_of_block: Option<u64>,
    /// The highest block of the identity registry included (owners and registered agents).
    pub identity_as_of_block: Option<u64>,
    /// The score, as `prova_reputation::Score` serializes it.
    #[schema(value_type = crate::schema::ScoreSchema)]
    pub score: Score,
}

/// One page of agents.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentsPage {
    /// `registered` or `reputation`.
    #[schema(value_type = String, example = "reputation")]
    pub sort: String,
    /// `sort=reputation`: the reputation registry scored; null otherwise.
    #[schema(value_type = Option<crate::schema::Address>)]
    pub reputation_registry: Option<Address>,
    /// `sort=reputation`: the highest block of the reputation registry included; null otherwise.
    pub as_of_block: Option<u64>,
    /// The agents.
    pub items: Vec<AgentItem>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// One agent of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentItem {
    /// `sort=reputation`: 1-based place on the leaderboard; null otherwise.
    pub rank: Option<u64>,
    /// The agent.
    pub agent: AgentRef,
    /// The current owner.
    #[schema(value_type = crate::schema::Address)]
    pub owner: Address,
    /// The current agent URI.
    pub agent_uri: String,
    /// The bound model version (`prova.modelVersion`), or null.
    #[schema(value_type = Option<crate::schema::Hash>)]
    pub model_version: Option<B256>,
    /// `sort=reputation`: the score; null otherwise.
    #[schema(value_type = Option<crate::schema::ScoreSchema>)]
    pub score: Option<Score>,
    /// Where the `Registered` event is.
    pub registered: ChainPointer,
}

/// The state of a bound model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Registered, not revoked, signed by a sound key.
    Registered,
    /// Revoked by its publisher.
    Revoked,
    /// Registered with an attestor key that was flagged compromised at the time.
    SignedByCompromisedKey,
    /// Not registered on this chain.
    NotRegistered,
}

impl ModelStatus {
    /// The status of one claim.
    pub fn of(version: &ModelVersion) -> Self {
        if version.revocation.is_some() {
            Self::Revoked
        } else if version.signed_by_compromised_key {
            Self::SignedByCompromisedKey
        } else {
            Self::Registered
        }
    }

    /// The status of a version from all its claims: `registered` if one stands, else `revoked` if every claim was
    /// revoked, else `signed_by_compromised_key`; `not_registered` without claims.
    pub fn of_claims(claims: &[ModelVersion]) -> Self {
        let statuses: Vec<Self> = claims.iter().map(Self::of).collect();
        if statuses.is_empty() {
            Self::NotRegistered
        } else if statuses.contains(&Self::Registered) {
            Self::Registered
        } else if statuses.iter().all(|s| *s == Self::Revoked) {
            Self::Revoked
        } else {
            Self::SignedByCompromisedKey
        }
    }
}

/// A uint256 as a decimal string.
mod decimal {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<U256, D::Error> {
        let text = String::deserialize(deserializer)?;
        U256::from_str_radix(&text, 10).map_err(serde::de::Error::custom)
    }
}
