//! `GET /v1/agents/{chain_id}/{agent_id}/feedback`: an agent's raw feedback in its reputation registry, in log
//! order `(block_number, log_index)`, with revocations, receipts (prova's verified feedback) and response counts.

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
use crate::views::{PointerRow, address, hash};
pub use prova_views::{FeedbackItem, FeedbackPage, FeedbackRevocation, Verification};

/// Query of the feedback route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// Only feedback from this client (an address; empty: no filter).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$")]
    pub client: Option<String>,
    /// Only feedback whose `tag1` is exactly this (empty: no filter, as in the contract).
    pub tag1: Option<String>,
    /// Only feedback whose `tag2` is exactly this (empty: no filter).
    pub tag2: Option<String>,
    /// Only revoked (`true`) or only standing (`false`) feedback.
    pub revoked: Option<bool>,
    /// Only feedback with (`true`) or without (`false`) an interaction receipt.
    pub verified: Option<bool>,
    /// Items per page, 1 to [`crate::routes::page::MAX_LIMIT`] (default [`crate::routes::page::DEFAULT_LIMIT`]).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The identity registry (default: the earliest-indexed one on the chain that has the agent).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x0165878A594ca255338adfa4d48449f69242Eb8F")]
    pub registry: Option<String>,
    /// The reputation registry (default: the linked one with the lowest address).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")]
    pub reputation_registry: Option<String>,
    /// Only facts with at least this many confirmations (feedback, revocations and receipts alike).
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
}

#[derive(FromRow)]
struct Row {
    #[sqlx(flatten)]
    pointer: PointerRow,
    client: DbAddress,
    feedback_index: i64,
    value: String,
    value_decimals: i64,
    tag1: String,
    tag2: String,
    endpoint: String,
    feedback_uri: String,
    feedback_hash: DbHash,
    rv_block_number: Option<i64>,
    rv_block_hash: Option<DbHash>,
    rv_block_time: Option<DateTime<Utc>>,
    rv_tx_hash: Option<DbHash>,
    rv_log_index: Option<i64>,
    vf_block_number: Option<i64>,
    vf_block_hash: Option<DbHash>,
    vf_block_time: Option<DateTime<Utc>>,
    vf_tx_hash: Option<DbHash>,
    vf_log_index: Option<i64>,
    vf_interaction_hash: Option<Vec<u8>>,
    vf_signer: Option<Vec<u8>>,
    responses: i64,
}

/// The pointer of another event of the same contract as `base`.
fn sibling(
    base: &PointerRow,
    block_number: Option<i64>,
    block_hash: Option<DbHash>,
    block_time: Option<DateTime<Utc>>,
    tx_hash: Option<DbHash>,
    log_index: Option<i64>,
) -> Option<PointerRow> {
    Some(PointerRow {
        chain_id: base.chain_id,
        contract: base.contract,
        block_number: block_number?,
        block_hash: block_hash?,
        block_time: block_time?,
        tx_hash: tx_hash?,
        log_index: log_index?,
        head_block: base.head_block,
        finalized_block: base.finalized_block,
    })
}

impl Row {
    fn view(self) -> Result<FeedbackItem> {
        let value: i128 = self
            .value
            .parse()
            .map_err(|_| ApiError::Internal(format!("stored feedback value {} is not an int128", self.value)))?;
        let revocation = sibling(
            &self.pointer,
            self.rv_block_number,
            self.rv_block_hash,
            self.rv_block_time,
            self.rv_tx_hash,
            self.rv_log_index,
        )
        .map(|p| Ok::<_, ApiError>(FeedbackRevocation { chain: p.view()? }))
        .transpose()?;
        let verification = match (
            sibling(
                &self.pointer,
                self.vf_block_number,
                self.vf_block_hash,
                self.vf_block_time,
                self.vf_tx_hash,
                self.vf_log_index,
            ),
            self.vf_interaction_hash,
            self.vf_signer,
        ) {
            (Some(p), Some(interaction), Some(signer)) => Some(Verification {
                interaction_hash: hash(&interaction)?,
                signer: address(&signer)?,
                chain: p.view()?,
            }),
            _ => None,
        };
        Ok(FeedbackItem {
            client: self.client.0,
            feedback_index: self.feedback_index as u64,
            value: value.to_string(),
            value_decimals: u8::try_from(self.value_decimals).unwrap_or(u8::MAX),
            tag1: self.tag1,
            tag2: self.tag2,
            endpoint: self.endpoint,
            feedback_uri: self.feedback_uri,
            feedback_hash: self.feedback_hash.0,
            given_at: self.pointer.block_time,
            revoked: revocation.is_some(),
            revocation,
            verified: verification.is_some(),
            verification,
            responses: self.responses as u64,
            chain: self.pointer.view()?,
        })
    }
}

/// An agent's raw feedback in its reputation registry, in log order, with revocations, receipts (prova's
/// verified feedback) and response counts.
#[utoipa::path(
    get,
    path = "/v1/agents/{chain_id}/{agent_id}/feedback",
    tag = "agents",
    params(AgentPath, FeedbackQuery),
    responses((status = 200, description = "One page of feedback.", body = FeedbackPage), BadRequest, NotFound),
)]
pub(crate) async fn list_feedback(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<AgentPath>,
    ApiQuery(query): ApiQuery<FeedbackQuery>,
) -> Result<Json<FeedbackPage>> {
    let (chain_id, agent_id) = path.parse()?;
    let registry = optional_address("registry", query.registry.as_deref())?;
    let wanted_reputation = optional_address("reputation_registry", query.reputation_registry.as_deref())?;
    let client = optional_address("client", query.client.as_deref())?;
    let limit = page_limit(query.limit)?;
    let after = page::cursor(&query.cursor).map(decode_position::<2>).transpose()?;
    let pool = &state.pool;

    let registration = find_agent(pool, chain_id, agent_id, registry, query.min_confirmations).await?;
    let agent = registration.agent;
    let reputation = linked_registries(pool, chain_id, agent.identity_registry)
        .await?
        .reputation_registry(&agent, wanted_reputation)?;

    let same = "x.chain_id = g.chain_id AND x.contract = g.contract AND x.agent_id = g.agent_id \
                AND x.client = g.client AND x.feedback_index = g.feedback_index";
    let x_ok = confirmed("x", 4);
    let sql = format!(
        "SELECT g.chain_id, g.contract, g.block_number, g.block_hash, g.block_time, g.tx_hash, g.log_index,
                c.head_block, c.finalized_block, g.client, g.feedback_index, g.value::TEXT AS value, g.value_decimals,
                g.tag1, g.tag2, g.endpoint, g.feedback_uri, g.feedback_hash,
                rv.block_number AS rv_block_number, rv.block_hash AS rv_block_hash, rv.block_time AS rv_block_time,
                rv.tx_hash AS rv_tx_hash, rv.log_index AS rv_log_index,
                vf.block_number AS vf_block_number, vf.block_hash AS vf_block_hash, vf.block_time AS vf_block_time,
                vf.tx_hash AS vf_tx_hash, vf.log_index AS vf_log_index, vf.interaction_hash AS vf_interaction_hash,
                vf.signer AS vf_signer,
                (SELECT count(*) FROM feedback_response x WHERE {same} AND {x_ok}) AS responses
         FROM feedback_given g
         LEFT JOIN indexer_cursors c ON c.chain_id = g.chain_id AND c.contract = g.contract
         LEFT JOIN LATERAL (
             SELECT x.* FROM feedback_revoked x WHERE {same} AND {x_ok}
             ORDER BY x.block_number, x.log_index LIMIT 1
         ) rv ON TRUE
         LEFT JOIN LATERAL (
             SELECT x.* FROM feedback_verified x WHERE {same} AND {x_ok}
             ORDER BY x.block_number, x.log_index LIMIT 1
         ) vf ON TRUE
         WHERE g.chain_id = $1 AND g.contract = $2 AND g.agent_id = $3::NUMERIC AND {g_ok}
           AND ($5::BYTEA IS NULL OR g.client = $5)
           AND ($6::TEXT IS NULL OR $6 = '' OR g.tag1 = $6)
           AND ($7::TEXT IS NULL OR $7 = '' OR g.tag2 = $7)
           AND ($8::BOOLEAN IS NULL OR (rv.block_number IS NOT NULL) = $8)
           AND ($9::BOOLEAN IS NULL OR (vf.block_number IS NOT NULL) = $9)
           AND ($10::BIGINT IS NULL OR (g.block_number, g.log_index) > ($10, $11))
         ORDER BY g.block_number, g.log_index
         LIMIT $12",
        g_ok = confirmed("g", 4),
    );
    let mut rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(big(chain_id))
        .bind(reputation.to_vec())
        .bind(agent_id.to_string())
        .bind(query.min_confirmations.map(big))
        .bind(client.map(|c| c.to_vec()))
        .bind(query.tag1.as_deref())
        .bind(query.tag2.as_deref())
        .bind(query.revoked)
        .bind(query.verified)
        .bind(after.map(|[block, _]| block))
        .bind(after.map_or(0, |[_, log]| log))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    let more = trim(&mut rows, limit);
    let next_cursor =
        if more { rows.last().map(|r| position_cursor(&[r.pointer.block_number, r.pointer.log_index])) } else { None };
    let items = rows.into_iter().map(Row::view).collect::<Result<Vec<_>>>()?;
    Ok(Json(FeedbackPage { agent, reputation_registry: reputation, items, next_cursor }))
}
