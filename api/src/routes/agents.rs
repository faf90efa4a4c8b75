//! `/v1/agents`: ERC-8004 agents, their feedback, validations and reputation scores, from the indexed identity,
//! reputation and validation registries.
//!
//! An agent is `(chain_id, identity registry, agent_id)`. Every route takes `?registry=0x...` to name the identity
//! registry; without it, the earliest-indexed identity registry on the chain that has the agent (by the block and
//! log index of its `Registered` event) is used. The reputation and validation registries of an agent are those
//! the indexer linked to its identity registry (`erc8004_links`, from their `getIdentityRegistry()`); when several
//! reputation registries rate one identity registry, the one with the lowest address is used unless
//! `?reputation_registry=0x...` names another.
//!
//! - [`identity`]: `GET /v1/agents/{chain_id}/{agent_id}`, current identity, model binding and counts.
//! - [`feedback`]: `GET /v1/agents/{chain_id}/{agent_id}/feedback`, raw feedback, paginated.
//! - [`validations`]: `GET /v1/agents/{chain_id}/{agent_id}/validations`, validation requests, paginated.
//! - [`reputation`]: `GET /v1/agents/{chain_id}/{agent_id}/reputation` and the leaderboard `GET /v1/agents`.
//! - [`cache`]: the feedback set and score cache behind the reputation routes.

use alloy::primitives::{Address, U256};
use prova_db::DbAddress;
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Result};
use crate::views::{PointerRow, address};
pub use prova_views::AgentRef;

pub mod cache;
pub mod feedback;
pub mod identity;
pub mod reputation;
#[cfg(test)]
mod tests;
pub mod validations;

/// The agent routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reputation::leaderboard))
        .routes(routes!(identity::get_agent))
        .routes(routes!(feedback::list_feedback))
        .routes(routes!(reputation::get_reputation))
        .routes(routes!(validations::list_validations))
}

/// The path of every per-agent route: `/v1/agents/{chain_id}/{agent_id}...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AgentPath {
    /// EIP-155 chain id.
    #[param(example = 31337)]
    chain_id: u64,
    /// The agent id (ERC-721 token id), a decimal uint256.
    #[param(pattern = "^[0-9]{1,78}$", example = "1")]
    agent_id: String,
}

impl AgentPath {
    /// The chain id and the parsed agent id.
    pub(crate) fn parse(&self) -> Result<(u64, U256)> {
        Ok((self.chain_id, parse_agent_id(&self.agent_id)?))
    }
}

/// Parses an agent id: a decimal uint256 (digits only).
pub fn parse_agent_id(text: &str) -> Result<U256> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_agent_id",
            format!("agent_id must be a decimal uint256, got {:?}", text.chars().take(80).collect::<String>()),
        )
    };
    if text.is_empty() || text.len() > 100 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    U256::from_str_radix(text, 10).map_err(|_| invalid())
}

pub use crate::extract::optional_address;

pub use crate::routes::page::big;

/// An agent's `Registered` event, found by [`find_agent`].
#[derive(Debug, Clone)]
pub struct Registration {
    /// The agent.
    pub agent: AgentRef,
    /// The URI it registered with.
    pub agent_uri: String,
    /// Its owner at registration.
    pub owner: Address,
    /// Where the event is.
    pub pointer: PointerRow,
}

#[derive(FromRow)]
struct RegistrationRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    agent_uri: String,
    owner: DbAddress,
}

/// The SQL condition "`alias`'s event has at least `$n` confirmations" given `c`, the contract's cursor joined in.
pub fn confirmed(alias: &str, param: usize) -> String {
    format!(
        "(${param}::BIGINT IS NULL OR COALESCE(c.head_block, {alias}.block_number) - {alias}.block_number + 1 >= ${param})"
    )
}

/// Finds `agent_id` on `chain_id` in `registry`, or by default in the identity registry whose `Registered` event of
/// that id was indexed first; only events with at least `min_confirmations` count. A 404 if none.
pub async fn find_agent(
    pool: &PgPool,
    chain_id: u64,
    agent_id: U256,
    registry: Option<Address>,
    min_confirmations: Option<u64>,
) -> Result<Registration> {
    let row: Option<RegistrationRow> = sqlx::query_as(&format!(
        "SELECT r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
                c.head_block, c.finalized_block, r.agent_uri, r.owner
         FROM agent_registered r
         LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract
         WHERE r.chain_id = $1 AND r.agent_id = $2::NUMERIC AND ($3::BYTEA IS NULL OR r.contract = $3) AND {}
         ORDER BY r.block_number, r.log_index, r.contract
         LIMIT 1",
        confirmed("r", 4)
    ))
    .bind(big(chain_id))
    .bind(agent_id.to_string())
    .bind(registry.map(|r| r.to_vec()))
    .bind(min_confirmations.map(big))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Err(ApiError::NotFound(match registry {
            Some(registry) => {
                format!("agent {agent_id} is not registered in identity registry {registry} on chain {chain_id}")
            }
            None => format!("agent {agent_id} is not registered in any indexed identity registry on chain {chain_id}"),
        }));
    };
    Ok(Registration {
        agent: AgentRef { chain_id, identity_registry: row.pointer.contract.0, agent_id },
        agent_uri: row.agent_uri,
        owner: row.owner.0,
        pointer: row.pointer,
    })
}

/// The registries the indexer linked to one identity registry, by kind, each sorted by address.
#[derive(Debug, Clone, Default)]
pub struct Linked {
    /// Reputation registries.
    pub reputation: Vec<Address>,
    /// Validation registries.
    pub validation: Vec<Address>,
}

impl Linked {
    /// The reputation registry to use: `wanted` if it is linked, else the one with the lowest address. A 404 if
    /// there is none (or `wanted` is not linked).
    pub fn reputation_registry(&self, agent: &AgentRef, wanted: Option<Address>) -> Result<Address> {
        match wanted {
            Some(wanted) if self.reputation.contains(&wanted) => Ok(wanted),
            Some(wanted) => Err(ApiError::NotFound(format!(
                "reputation registry {wanted} is not indexed as rating identity registry {} on chain {}",
                agent.identity_registry, agent.chain_id
            ))),
            None => self.reputation.first().copied().ok_or_else(|| {
                ApiError::NotFound(format!(
                    "no indexed reputation registry rates identity registry {} on chain {}",
                    agent.identity_registry, agent.chain_id
                ))
            }),
        }
    }
}

/// The reputation and validation registries linked to `identity` on `chain_id` (their indexer cursors say which is
/// which).
pub async fn linked_registries(pool: &PgPool, chain_id: u64, identity: Address) -> Result<Linked> {
    let rows: Vec<(Vec<u8>, String)> = sqlx::query_as(
        "SELECT l.contract, c.kind FROM erc8004_links l
         JOIN indexer_cursors c ON c.chain_id = l.chain_id AND c.contract = l.contract
         WHERE l.chain_id = $1 AND l.identity_registry = $2
         ORDER BY l.contract",
    )
    .bind(big(chain_id))
    .bind(identity.to_vec())
    .fetch_all(pool)
    .await?;
    let mut linked = Linked::default();
    for (contract, kind) in rows {
        match kind.as_str() {
            "reputation" => linked.reputation.push(address(&contract)?),
            "validation" => linked.validation.push(address(&contract)?),
            _ => {}
        }
    }
    Ok(linked)
}
