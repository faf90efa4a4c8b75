//! `GET /v1/agents/{chain_id}/{agent_id}`: an agent's current identity (URI, owner, wallet), its model binding
//! resolved against the provenance registry on the same chain, its other metadata, and its feedback and validation
//! counts.
//!
//! The model binding is the agent owner's claim that the agent runs a version (`claimed_by: "agent_owner"`); the
//! version's claims beside it say who published the weights, never that a publisher vouches for the agent.
//!
//! Current state is derived from the events: the owner is the recipient of the latest ERC-721 `Transfer`; the URI
//! is the latest of `Registered.agentURI` and `URIUpdated.newURI`; the wallet is the latest
//! `MetadataSet(agentId, "agentWallet", abi.encodePacked(address))` (empty bytes clear it), and ERC-8004 clears it
//! on every transfer, so a wallet set before the latest transfer is no longer current. The model binding is the
//! latest `MetadataSet(agentId, "prova.modelVersion", versionHash)`. Every other key's value is its latest
//! `MetadataSet`, listed by key up to [`MAX_METADATA_ENTRIES`].

use alloy::primitives::{Address, B256};
use axum::Json;
use axum::extract::State;
use prova_core::bindings::{AGENT_WALLET_KEY, MODEL_VERSION_KEY};
use prova_db::DbAddress;
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;

use super::{AgentPath, Registration, big, confirmed, find_agent, linked_registries, optional_address};
use crate::error::Result;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::model_versions::load_claims;
use crate::routes::page::Scope;
use crate::views::PointerRow;
use crate::{ApiConfig, AppState};
pub use prova_views::{
    Agent, FeedbackCounts, MAX_METADATA_ENTRIES, MetadataEntry, ModelBinding, ModelStatus, Sources, ValidationCounts,
};

/// Who makes an agent's model binding: always its owner (or an operator it approved), never the model's publisher.
pub const AGENT_OWNER: &str = "agent_owner";

/// Query of the identity route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentQuery {
    /// The identity registry (default: the earliest-indexed one on the chain that has the agent).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x0165878A594ca255338adfa4d48449f69242Eb8F")]
    pub registry: Option<String>,
    /// The reputation registry the feedback counts come from (default: the linked one with the lowest address).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")]
    pub reputation_registry: Option<String>,
    /// Only facts with at least this many confirmations (the block holding them counts as one); a fact with fewer
    /// is treated as not there yet.
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
}

#[derive(FromRow)]
struct TransferRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    from_address: Vec<u8>,
    to_address: DbAddress,
}

#[derive(FromRow)]
struct UriRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    new_uri: String,
}

#[derive(FromRow)]
struct MetadataRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    metadata_key: String,
    metadata_value: Vec<u8>,
}

const POINTER: &str = "x.chain_id, x.contract, x.block_number, x.block_hash, x.block_time, x.tx_hash, x.log_index, \
                       c.head_block, c.finalized_block";

/// Where an event sits in its contract's log order.
fn position(pointer: &PointerRow) -> (i64, i64) {
    (pointer.block_number, pointer.log_index)
}

/// An agent's current identity: URI, owner, wallet, model binding (with the version's status), linked reputation
/// registry, feedback and validation counts, and the events behind each.
#[utoipa::path(
    get,
    path = "/v1/agents/{chain_id}/{agent_id}",
    tag = "agents",
    params(AgentPath, AgentQuery),
    responses((status = 200, description = "The agent.", body = Agent), BadRequest, NotFound),
)]
pub(crate) async fn get_agent(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<AgentPath>,
    ApiQuery(query): ApiQuery<AgentQuery>,
) -> Result<Json<Agent>> {
    let (chain_id, agent_id) = path.parse()?;
    let registry = optional_address("registry", query.registry.as_deref())?;
    let wanted_reputation = optional_address("reputation_registry", query.reputation_registry.as_deref())?;
    let registration = find_agent(&state.pool, chain_id, agent_id, registry, query.min_confirmations).await?;
    Ok(Json(load_agent(&state.pool, &state.config, registration, wanted_reputation, query.min_confirmations).await?))
}

/// Everything the identity route answers, for a found agent. The model binding's claims come from the canonical
/// provenance registry of the agent's chain in `config` (every indexed registry of that chain when none is set).
pub async fn load_agent(
    pool: &PgPool,
    config: &ApiConfig,
    registration: Registration,
    wanted_reputation: Option<Address>,
    min_confirmations: Option<u64>,
) -> Result<Agent> {
    let agent = registration.agent;
    let (chain, contract, id) = (big(agent.chain_id), agent.identity_registry.to_vec(), agent.agent_id.to_string());
    let min = min_confirmations.map(big);

    let transfers: Vec<TransferRow> = sqlx::query_as(&format!(
        "SELECT {POINTER}, x.from_address, x.to_address FROM agent_transferred x
         LEFT JOIN indexer_cursors c ON c.chain_id = x.chain_id AND c.contract = x.contract
         WHERE x.chain_id = $1 AND x.contract = $2 AND x.agent_id = $3::NUMERIC AND {}
         ORDER BY x.block_number DESC, x.log_index DESC",
        confirmed("x", 4)
    ))
    .bind(chain)
    .bind(&contract)
    .bind(&id)
    .bind(min)
    .fetch_all(pool)
    .await?;
    let uri: Option<UriRow> = sqlx::query_as(&format!(
        "SELECT {POINTER}, x.new_uri FROM agent_uri_updated x
         LEFT JOIN indexer_cursors c ON c.chain_id = x.chain_id AND c.contract = x.contract
         WHERE x.chain_id = $1 AND x.contract = $2 AND x.agent_id = $3::NUMERIC AND {}
         ORDER BY x.block_number DESC, x.log_index DESC LIMIT 1",
        confirmed("x", 4)
    ))
    .bind(chain)
    .bind(&contract)
    .bind(&id)
    .bind(min)
    .fetch_optional(pool)
    .await?;
    let metadata: Vec<MetadataRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (x.metadata_key) {POINTER}, x.metadata_key, x.metadata_value FROM agent_metadata_set x
         LEFT JOIN indexer_cursors c ON c.chain_id = x.chain_id AND c.contract = x.contract
         WHERE x.chain_id = $1 AND x.contract = $2 AND x.agent_id = $3::NUMERIC AND x.metadata_key = ANY($5) AND {}
         ORDER BY x.metadata_key, x.block_number DESC, x.log_index DESC",
        confirmed("x", 4)
    ))
    .bind(chain)
    .bind(&contract)
    .bind(&id)
    .bind(min)
    .bind(vec![AGENT_WALLET_KEY.to_owned(), MODEL_VERSION_KEY.to_owned()])
    .fetch_all(pool)
    .await?;
    // Every other key: its latest entry, by key, one more than listed to tell whether there are more.
    let mut generic: Vec<MetadataRow> = sqlx::query_as(&format!(
        "SELECT DISTINCT ON (x.metadata_key COLLATE \"C\") {POINTER}, x.metadata_key, x.metadata_value
         FROM agent_metadata_set x
         LEFT JOIN indexer_cursors c ON c.chain_id = x.chain_id AND c.contract = x.contract
         WHERE x.chain_id = $1 AND x.contract = $2 AND x.agent_id = $3::NUMERIC AND x.metadata_key <> ALL($5) AND {}
         ORDER BY x.metadata_key COLLATE \"C\", x.block_number DESC, x.log_index DESC
         LIMIT $6",
        confirmed("x", 4)
    ))
    .bind(chain)
    .bind(&contract)
    .bind(&id)
    .bind(min)
    .bind(vec![AGENT_WALLET_KEY.to_owned(), MODEL_VERSION_KEY.to_owned()])
    .bind(MAX_METADATA_ENTRIES as i64 + 1)
    .fetch_all(pool)
    .await?;
    let metadata_truncated = generic.len() > MAX_METADATA_ENTRIES;
    generic.truncate(MAX_METADATA_ENTRIES);
    let generic = generic
        .into_iter()
        .map(|m| Ok(MetadataEntry::new(m.metadata_key, m.metadata_value, m.pointer.view()?)))
        .collect::<Result<Vec<_>>>()?;

    // Owner: the latest transfer (the mint included), else the registration.
    let (owner, owner_source) = match transfers.first() {
        Some(t) => (t.to_address.0, t.pointer.view()?),
        None => (registration.owner, registration.pointer.view()?),
    };
    let (agent_uri, uri_source) = match uri {
        Some(u) if position(&u.pointer) > position(&registration.pointer) => (u.new_uri, u.pointer.view()?),
        _ => (registration.agent_uri, registration.pointer.view()?),
    };

    // Wallet: the latest agentWallet entry, unless a transfer (not the mint) came after it.
    let wallet_entry = metadata.iter().find(|m| m.metadata_key == AGENT_WALLET_KEY);
    let last_transfer = transfers.iter().find(|t| t.from_address.iter().any(|&b| b != 0));
    let (wallet, wallet_source) = match (wallet_entry, last_transfer) {
        (None, _) => (None, None),
        (Some(w), Some(t)) if position(&t.pointer) > position(&w.pointer) => (None, Some(t.pointer.view()?)),
        (Some(w), _) => {
            let wallet = Address::try_from(w.metadata_value.as_slice()).ok().filter(|a| !a.is_zero());
            (wallet, Some(w.pointer.view()?))
        }
    };

    // Model: the latest prova.modelVersion entry, if it holds a non-zero 32-byte hash.
    let model = match metadata.iter().find(|m| m.metadata_key == MODEL_VERSION_KEY) {
        Some(m) => match B256::try_from(m.metadata_value.as_slice()).ok().filter(|h| !h.is_zero()) {
            Some(version_hash) => {
                let scope = Scope::new(config, Some(agent.chain_id), None, min_confirmations);
                let claims = load_claims(pool, &[version_hash], &scope).await?;
                Some(ModelBinding {
                    version_hash,
                    status: ModelStatus::of_claims(&claims),
                    claimed_by: AGENT_OWNER.to_owned(),
                    claims,
                    chain: m.pointer.view()?,
                })
            }
            None => None,
        },
        None => None,
    };

    let linked = linked_registries(pool, agent.chain_id, agent.identity_registry).await?;
    let reputation_registry = match wanted_reputation {
        Some(_) => Some(linked.reputation_registry(&agent, wanted_reputation)?),
        None => linked.reputation.first().copied(),
    };
    let feedback = match reputation_registry {
        Some(reputation) => feedback_counts(pool, chain, reputation, &id, min).await?,
        None => FeedbackCounts::default(),
    };
    let validations = validation_counts(pool, chain, &linked.validation, &id, min).await?;

    Ok(Agent {
        agent,
        agent_uri,
        owner,
        wallet,
        model,
        metadata: generic,
        metadata_truncated,
        reputation_registry,
        feedback,
        validations,
        registered: registration.pointer.view()?,
        sources: Sources { agent_uri: uri_source, owner: owner_source, wallet: wallet_source },
    })
}

async fn feedback_counts(
    pool: &PgPool,
    chain: i64,
    reputation: Address,
    agent_id: &str,
    min: Option<i64>,
) -> Result<FeedbackCounts> {
    let same = "x.chain_id = g.chain_id AND x.contract = g.contract AND x.agent_id = g.agent_id \
                AND x.client = g.client AND x.feedback_index = g.feedback_index";
    let (total, revoked, verified, distinct_clients): (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*),
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM feedback_revoked x WHERE {same} AND {x_ok})),
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM feedback_verified x WHERE {same} AND {x_ok})),
                count(DISTINCT g.client)
         FROM feedback_given g
         LEFT JOIN indexer_cursors c ON c.chain_id = g.chain_id AND c.contract = g.contract
         WHERE g.chain_id = $1 AND g.contract = $2 AND g.agent_id = $3::NUMERIC AND {g_ok}",
        x_ok = confirmed("x", 4),
        g_ok = confirmed("g", 4),
    ))
    .bind(chain)
    .bind(reputation.to_vec())
    .bind(agent_id)
    .bind(min)
    .fetch_one(pool)
    .await?;
    Ok(FeedbackCounts {
        total: total as u64,
        revoked: revoked as u64,
        verified: verified as u64,
        distinct_clients: distinct_clients as u64,
    })
}

async fn validation_counts(
    pool: &PgPool,
    chain: i64,
    validation: &[Address],
    agent_id: &str,
    min: Option<i64>,
) -> Result<ValidationCounts> {
    if validation.is_empty() {
        return Ok(ValidationCounts::default());
    }
    let (requests, responded, average): (i64, i64, Option<f64>) = sqlx::query_as(&format!(
        "SELECT count(*), count(r.response), avg(r.response)::FLOAT8
         FROM validation_requested q
         LEFT JOIN indexer_cursors c ON c.chain_id = q.chain_id AND c.contract = q.contract
         LEFT JOIN LATERAL (
             SELECT x.response FROM validation_responded x
             WHERE x.chain_id = q.chain_id AND x.contract = q.contract AND x.request_hash = q.request_hash
               AND x.agent_id = q.agent_id AND {x_ok}
             ORDER BY x.block_number DESC, x.log_index DESC LIMIT 1
         ) r ON TRUE
         WHERE q.chain_id = $1 AND q.contract = ANY($2) AND q.agent_id = $3::NUMERIC AND {q_ok}",
        x_ok = confirmed("x", 4),
        q_ok = confirmed("q", 4),
    ))
    .bind(chain)
    .bind(validation.iter().map(|a| a.to_vec()).collect::<Vec<_>>())
    .bind(agent_id)
    .bind(min)
    .fetch_one(pool)
    .await?;
    Ok(ValidationCounts { requests: requests as u64, responded: responded as u64, average_response: average })
}
