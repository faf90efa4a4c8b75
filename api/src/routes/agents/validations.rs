//! `GET /v1/agents/{chain_id}/{agent_id}/validations`: an agent's validation requests, in every validation registry
//! linked to its identity registry, in log order, each with its latest response.
//!
//! A request hash is global in ERC-8004, so anyone can register a copied hash for their own agent. A response is
//! listed only under the request of the agent its event names, and it carries that `agent_id`: a validator's answer
//! is shown next to the agent it was given for, never credited to another.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_db::{DbAddress, DbHash};
use serde::Deserialize;
use sqlx::FromRow;
use utoipa::IntoParams;

use super::{AgentPath, big, confirmed, find_agent, linked_registries, optional_address};
use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::page::{self, decode_position, page_limit, position_cursor, trim};
use crate::views::{PointerRow, hash};
pub use prova_views::{ValidationItem, ValidationPage, ValidationResponse};

/// Query of the validations route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ValidationQuery {
    /// Items per page, 1 to [`crate::routes::page::MAX_LIMIT`] (default [`crate::routes::page::DEFAULT_LIMIT`]).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The identity registry (default: the earliest-indexed one on the chain that has the agent).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x0165878A594ca255338adfa4d48449f69242Eb8F")]
    pub registry: Option<String>,
    /// Only facts with at least this many confirmations (requests and responses alike).
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
}

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    pointer: PointerRow,
    validator: DbAddress,
    request_uri: String,
    request_hash: DbHash,
    r_agent_id: Option<String>,
    r_block_number: Option<i64>,
    r_block_hash: Option<DbHash>,
    r_block_time: Option<DateTime<Utc>>,
    r_tx_hash: Option<DbHash>,
    r_log_index: Option<i64>,
    r_response: Option<i64>,
    r_response_uri: Option<String>,
    r_response_hash: Option<Vec<u8>>,
    r_tag: Option<String>,
}

impl Row {
    fn view(self) -> Result<ValidationItem> {
        let response = match (
            self.r_agent_id,
            self.r_block_number,
            self.r_block_hash,
            self.r_block_time,
            self.r_tx_hash,
            self.r_log_index,
            self.r_response,
            self.r_response_uri,
            self.r_response_hash,
            self.r_tag,
        ) {
            (
                Some(agent_id),
                Some(block_number),
                Some(block_hash),
                Some(block_time),
                Some(tx_hash),
                Some(log_index),
                Some(response),
                Some(response_uri),
                Some(response_hash),
                Some(tag),
            ) => {
                let pointer = PointerRow {
                    chain_id: self.pointer.chain_id,
                    contract: self.pointer.contract,
                    block_number,
                    block_hash,
                    block_time,
                    tx_hash,
                    log_index,
                    head_block: self.pointer.head_block,
                    finalized_block: self.pointer.finalized_block,
                };
                Some(ValidationResponse {
                    agent_id: super::parse_agent_id(&agent_id)
                        .map_err(|_| ApiError::Internal(format!("stored agent id {agent_id:?} is not a uint256")))?,
                    response: u8::try_from(response).unwrap_or(u8::MAX),
                    response_uri,
                    response_hash: hash(&response_hash)?,
                    tag,
                    responded_at: block_time,
                    chain: pointer.view()?,
                })
            }
            _ => None,
        };
        Ok(ValidationItem {
            validator: self.validator.0,
            request_uri: self.request_uri,
            request_hash: self.request_hash.0,
            requested_at: self.pointer.block_time,
            response,
            chain: self.pointer.view()?,
        })
    }
}

/// An agent's validation requests in its linked validation registries, in log order, with their responses.
#[utoipa::path(
    get,
    path = "/v1/agents/{chain_id}/{agent_id}/validations",
    tag = "agents",
    params(AgentPath, ValidationQuery),
    responses((status = 200, description = "One page of validation requests.", body = ValidationPage), BadRequest, NotFound),
)]
pub(crate) async fn list_validations(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<AgentPath>,
    ApiQuery(query): ApiQuery<ValidationQuery>,
) -> Result<Json<ValidationPage>> {
    let (chain_id, agent_id) = path.parse()?;
    let registry = optional_address("registry", query.registry.as_deref())?;
    let limit = page_limit(query.limit)?;
    let after = page::cursor(&query.cursor).map(decode_position::<2>).transpose()?;
    let pool = &state.pool;

    let agent = find_agent(pool, chain_id, agent_id, registry, query.min_confirmations).await?.agent;
    let validation = linked_registries(pool, chain_id, agent.identity_registry).await?.validation;
    let sql = format!(
        "SELECT q.chain_id, q.contract, q.block_number, q.block_hash, q.block_time, q.tx_hash, q.log_index,
                c.head_block, c.finalized_block, q.validator, q.request_uri, q.request_hash,
                r.agent_id::TEXT AS r_agent_id, r.block_number AS r_block_number, r.block_hash AS r_block_hash, r.block_time AS r_block_time,
                r.tx_hash AS r_tx_hash, r.log_index AS r_log_index, r.response AS r_response,
                r.response_uri AS r_response_uri, r.response_hash AS r_response_hash, r.tag AS r_tag
         FROM validation_requested q
         LEFT JOIN indexer_cursors c ON c.chain_id = q.chain_id AND c.contract = q.contract
         LEFT JOIN LATERAL (
             SELECT x.* FROM validation_responded x
             WHERE x.chain_id = q.chain_id AND x.contract = q.contract AND x.request_hash = q.request_hash
               AND x.agent_id = q.agent_id AND {x_ok}
             ORDER BY x.block_number DESC, x.log_index DESC LIMIT 1
         ) r ON TRUE
         WHERE q.chain_id = $1 AND q.contract = ANY($2) AND q.agent_id = $3::NUMERIC AND {q_ok}
           AND ($5::BIGINT IS NULL OR (q.block_number, q.log_index) > ($5, $6))
         ORDER BY q.block_number, q.log_index
         LIMIT $7",
        x_ok = confirmed("x", 4),
        q_ok = confirmed("q", 4),
    );
    let mut rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(big(chain_id))
        .bind(validation.iter().map(|a| a.to_vec()).collect::<Vec<_>>())
        .bind(agent_id.to_string())
        .bind(query.min_confirmations.map(big))
        .bind(after.map(|[block, _]| block))
        .bind(after.map_or(0, |[_, log]| log))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    let more = trim(&mut rows, limit);
    let next_cursor =
        if more { rows.last().map(|r| position_cursor(&[r.pointer.block_number, r.pointer.log_index])) } else { None };
    let items = rows.into_iter().map(Row::view).collect::<Result<Vec<_>>>()?;
    Ok(Json(ValidationPage { agent, validation_registries: validation, items, next_cursor }))
}
