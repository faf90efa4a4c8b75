//! `GET /v1/agents/{chain_id}/{agent_id}/reputation` (one agent's score) and `GET /v1/agents` (every agent, by
//! registration or as a reputation leaderboard).
//!
//! Scores are `prova_reputation`'s, computed over every `NewFeedback` of the reputation registry (with its
//! revocation and receipt flags, its block time, the rated agent's owner now and its owner when the feedback was
//! given), as `docs/reputation.md` describes; the `score` object is `prova_reputation::Score` serialized as it is. The query names the
//! algorithm, the filter and the parameters with the names of `docs/reputation.md`; `seeds` defaults to the
//! server's `--trust-seeds`. The feedback set and the scores are cached (see [`super::cache`]); an answer always
//! reflects every event indexed when the request arrived, and says up to which block (`as_of_block`).

use prova_db::DbAddress;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;

use alloy::primitives::{Address, B256, U256};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use prova_core::bindings::MODEL_VERSION_KEY;
use prova_reputation::{Algorithm, Filter, Params};
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;

use super::cache::SetKey;
use super::{AgentPath, AgentRef, big, find_agent, linked_registries, optional_address};
use crate::AppState;
use crate::error::{ApiError, Result};
use crate::extract::{ApiPath, ApiQuery, parse_address};
use crate::routes::docs::{BadRequest, NotFound};
use crate::routes::page::{
    self, decode_cursor, decode_position, encode_cursor, invalid_cursor, page_limit, position_cursor, trim,
};
use crate::views::{ChainPointer, PointerRow, address};
pub use prova_views::{AgentItem, AgentsPage, Reputation};

/// The scoring part of a query. Every field is text and parsed here, so that the messages name the parameter.
///
/// Numeric parameters are quantized before use, so values that differ by nothing meaningful share one cached
/// computation (the answer's `params` show the values used; see `docs/api-limits.md`): `prior_mean`,
/// `prior_weight` and `alpha` to 4 significant digits, `tolerance` down to a power of ten, `half_life_secs` to 4
/// significant digits, `now` down to a multiple of a thousandth of the half-life. `max_iterations` is used as
/// given, within the work limit.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScoreQuery {
    /// `mean` (default), `bayesian`, `decay` or `trust`, any case.
    #[param(
        example = "bayesian",
        pattern = "^([mM][eE][aA][nN]|[bB][aA][yY][eE][sS][iI][aA][nN]|[dD][eE][cC][aA][yY]|[tT][rR][uU][sS][tT])?$"
    )]
    pub algorithm: Option<String>,
    /// Only feedback whose `tag1` is exactly this (empty: no filter).
    pub tag1: Option<String>,
    /// Only feedback whose `tag2` is exactly this (empty: no filter).
    pub tag2: Option<String>,
    /// Only these reviewers, comma-separated addresses (`mean` walks them in order, repeats included); at least one.
    #[param(pattern = "^[ \\t\\r\\n,]*0x[0-9a-fA-F]{40}([ \\t\\r\\n,]+0x[0-9a-fA-F]{40})*[ \\t\\r\\n,]*$")]
    pub clients: Option<String>,
    /// `true` keeps only feedback with an interaction receipt.
    #[param(value_type = Option<bool>)]
    pub verified_only: Option<String>,
    /// `trust`: the seed addresses, comma-separated (default, or empty: the server's).
    #[param(pattern = "^[ \\t\\r\\n,]*(0x[0-9a-fA-F]{40}([ \\t\\r\\n,]+0x[0-9a-fA-F]{40})*[ \\t\\r\\n,]*)?$")]
    pub seeds: Option<String>,
    /// `bayesian`: prior mean, from 0 to 100 (the range every score is on); rounded to 4 significant digits.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 100)]
    pub prior_mean: Option<String>,
    /// `bayesian`: prior weight; rounded to 4 significant digits.
    #[param(value_type = Option<f64>, minimum = 0)]
    pub prior_weight: Option<String>,
    /// `decay`: half-life in seconds; rounded to 4 significant digits.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 9223372036854775807_i64)]
    pub half_life_secs: Option<String>,
    /// `decay`: reference time, unix seconds (default: the newest feedback's block time); rounded down to a multiple
    /// of a thousandth of the half-life (at least 1 s), which moves no weight by more than 0.07%.
    #[param(value_type = Option<u64>, minimum = 0)]
    pub now: Option<String>,
    /// `trust`: restart probability; rounded to 4 significant digits.
    #[param(value_type = Option<f64>, minimum = 0, maximum = 1)]
    pub alpha: Option<String>,
    /// `trust`: convergence threshold; rounded down to a power of ten (0 stays 0: run every iteration).
    #[param(value_type = Option<f64>, minimum = 0)]
    pub tolerance: Option<String>,
    /// `trust`: iteration cap, at most 10000, and at most what the server's work limit allows over the registry's
    /// trust graph: `max_iterations × (edges + nodes)` (a 400 `work_limit` says how many iterations fit).
    #[param(value_type = Option<u64>, maximum = 10000)]
    pub max_iterations: Option<String>,
    /// The identity registry (default: see the module documentation of `routes::agents`). Empty is the same as
    /// absent.
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x0165878A594ca255338adfa4d48449f69242Eb8F")]
    pub registry: Option<String>,
    /// The reputation registry (default: the linked one with the lowest address).
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")]
    pub reputation_registry: Option<String>,
    /// Not supported above 1: scores read every indexed event (each has at least one confirmation). Larger values
    /// are rejected with a 400 rather than ignored.
    #[param(value_type = Option<u64>, maximum = 1)]
    pub min_confirmations: Option<String>,
}

impl ScoreQuery {
    /// The first parameter given that only a score reads (all but `registry`), if any.
    pub fn scoring_parameter(&self) -> Option<&'static str> {
        [
            ("algorithm", &self.algorithm),
            ("tag1", &self.tag1),
            ("tag2", &self.tag2),
            ("clients", &self.clients),
            ("verified_only", &self.verified_only),
            ("seeds", &self.seeds),
            ("prior_mean", &self.prior_mean),
            ("prior_weight", &self.prior_weight),
            ("half_life_secs", &self.half_life_secs),
            ("now", &self.now),
            ("alpha", &self.alpha),
            ("tolerance", &self.tolerance),
            ("max_iterations", &self.max_iterations),
            ("reputation_registry", &self.reputation_registry),
            ("min_confirmations", &self.min_confirmations),
        ]
        .into_iter()
        .find_map(|(name, value)| value.is_some().then_some(name))
    }
}

/// What a [`ScoreQuery`] asks for, checked.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The filter.
    pub filter: Filter,
    /// The parameters, defaults filled in and validated for `algorithm`.
    pub params: Params,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn number<T: FromStr>(name: &str, text: Option<&str>, what: &str) -> Result<Option<T>> {
    // An empty value is not a number: refused, not taken for the default.
    match text {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("{name} must be {what}, got {:?}", t.chars().take(80).collect::<String>()))),
    }
}

fn addresses(name: &str, text: Option<&str>) -> Result<Option<Vec<Address>>> {
    let Some(text) = text else { return Ok(None) };
    // Separated by commas, spaces, tabs or line breaks, as the document's pattern says.
    let list: Vec<Address> = text
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|a| !a.is_empty())
        .map(|a| parse_address(name, a))
        .collect::<Result<_>>()?;
    Ok((!list.is_empty()).then_some(list))
}

impl ScoreQuery {
    /// Checks the query; `default_seeds` are used for `trust` when it names none. Invalid parameters are a 400
    /// with core's message.
    pub fn request(&self, default_seeds: &[Address]) -> Result<ScoreRequest> {
        // Every indexed event has at least one confirmation, so 0 and 1 ask for nothing a score does not do.
        if self.min_confirmations.as_deref().is_some_and(|n| !matches!(n, "0" | "1")) {
            return Err(invalid(
                "min_confirmations is not supported by reputation scores, which read every indexed event; \
                 the answer's as_of_block says up to which block",
            ));
        }
        let algorithm = match self.algorithm.as_deref().filter(|a| !a.is_empty()) {
            None => Algorithm::Mean,
            Some(name) => name.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_algorithm",
                    format!(
                        "unknown algorithm {:?}; expected one of {}",
                        name.chars().take(40).collect::<String>(),
                        Algorithm::ALL.map(prova_reputation::Algorithm::as_str).join(", ")
                    ),
                )
            })?,
        };
        let verified_only = match self.verified_only.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(format!("verified_only must be true or false, got {other:?}")));
            }
        };
        let clients = addresses("clients", self.clients.as_deref())?;
        if self.clients.is_some() && clients.is_none() {
            return Err(invalid("clients must list at least one address"));
        }
        let filter = Filter { tag1: self.tag1.clone(), tag2: self.tag2.clone(), clients, verified_only };

        let defaults = Params::default();
        let params = Params {
            prior_mean: number("prior_mean", self.prior_mean.as_deref(), "a number")?.unwrap_or(defaults.prior_mean),
            prior_weight: number("prior_weight", self.prior_weight.as_deref(), "a number")?
                .unwrap_or(defaults.prior_weight),
            half_life_secs: number("half_life_secs", self.half_life_secs.as_deref(), "a whole number of seconds")?
                .unwrap_or(defaults.half_life_secs),
            now: number("now", self.now.as_deref(), "unix seconds (an integer)")?,
            seeds: addresses("seeds", self.seeds.as_deref())?.unwrap_or_else(|| default_seeds.to_vec()),
            alpha: number("alpha", self.alpha.as_deref(), "a number")?.unwrap_or(defaults.alpha),
            tolerance: number("tolerance", self.tolerance.as_deref(), "a number")?.unwrap_or(defaults.tolerance),
            max_iterations: number("max_iterations", self.max_iterations.as_deref(), "a whole number")?
                .unwrap_or(defaults.max_iterations),
        };
        if params.half_life_secs > i64::MAX as u64 {
            return Err(invalid(format!("half_life_secs must be at most {}, got {}", i64::MAX, params.half_life_secs)));
        }
        if let Some(now) = params.now.filter(|now| *now < 0) {
            return Err(invalid(format!("now must be unix seconds from 0, got {now}")));
        }
        let params = quantize(params);
        // Every parameter given is checked against its documented range, also one the algorithm does not read: an
        // out-of-range value is a 400, never ignored (the defaults are in range for every algorithm).
        for checked in [algorithm, Algorithm::Bayesian, Algorithm::Decay, Algorithm::Trust] {
            params.validate(checked).map_err(|e| ApiError::bad_request("invalid_param", e.to_string()))?;
        }
        Ok(ScoreRequest { algorithm, filter, params })
    }
}

/// `params` with every number rounded as [`ScoreQuery`] documents; the defaults are left as they are.
pub fn quantize(params: Params) -> Params {
    let half_life_secs = significant_u64(params.half_life_secs);
    let grain = i64::try_from(half_life_secs / 1000).unwrap_or(i64::MAX).max(1);
    Params {
        prior_mean: significant(params.prior_mean),
        prior_weight: significant(params.prior_weight),
        half_life_secs,
        now: params.now.map(|now| now.div_euclid(grain) * grain),
        alpha: significant(params.alpha),
        tolerance: power_of_ten_below(params.tolerance),
        ..params
    }
}

/// `x` rounded to 4 significant digits (0, infinities and NaN as they are).
fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.3e}").parse().unwrap_or(x)
}

/// `n` rounded to 4 significant digits.
fn significant_u64(n: u64) -> u64 {
    let digits = n.checked_ilog10().unwrap_or(0);
    if digits < 4 {
        return n;
    }
    let unit = 10u128.pow(digits - 3);
    let rounded = (u128::from(n) + unit / 2) / unit * unit;
    u64::try_from(rounded).unwrap_or(u64::MAX / unit as u64 * unit as u64)
}

/// The largest power of ten at most `x` (0, negatives, infinities and NaN as they are).
fn power_of_ten_below(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let power = |e: i32| format!("1e{e}").parse::<f64>().unwrap_or(0.0);
    let mut e = x.log10().floor() as i32;
    if power(e) > x {
        e -= 1;
    } else if power(e + 1) <= x {
        e += 1;
    }
    power(e)
}

/// One agent's reputation score under one algorithm, over every indexed feedback of its reputation registry
/// (see `docs/reputation.md` for the algorithms and their parameters).
#[utoipa::path(
    get,
    path = "/v1/agents/{chain_id}/{agent_id}/reputation",
    tag = "agents",
    params(AgentPath, ScoreQuery),
    responses((status = 200, description = "The score, with the blocks it reflects.", body = Reputation), BadRequest, NotFound),
)]
pub(crate) async fn get_reputation(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<AgentPath>,
    ApiQuery(query): ApiQuery<ScoreQuery>,
) -> Result<Json<Reputation>> {
    let (chain_id, agent_id) = path.parse()?;
    let request = query.request(&state.trust_seeds)?;
    let registry = optional_address("registry", query.registry.as_deref())?;
    let wanted_reputation = optional_address("reputation_registry", query.reputation_registry.as_deref())?;
    let pool = &state.pool;

    let agent = find_agent(pool, chain_id, agent_id, registry, None).await?.agent;
    let reputation = linked_registries(pool, chain_id, agent.identity_registry)
        .await?
        .reputation_registry(&agent, wanted_reputation)?;
    let key = SetKey { chain_id: big(chain_id), reputation, identity: agent.identity_registry };
    let set = state.reputation.feedback_set(pool, key).await?;
    let data = set.data();
    let params = data.resolve(&request.params);
    let score = data.score_agent(agent_id, request.algorithm, &request.filter, &params).await?;
    Ok(Json(Reputation {
        agent,
        reputation_registry: reputation,
        as_of_block: set.reputation_block(),
        identity_as_of_block: set.identity_block(),
        score,
    }))
}

/// Query of `GET /v1/agents`. Every field is text, parsed here.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentsQuery {
    /// `registered` (default: registration order, no scores) or `reputation` (a leaderboard).
    #[param(example = "reputation", pattern = "^(registered|reputation)$")]
    pub sort: Option<String>,
    /// Only this chain. `sort=reputation` ranks one identity registry: with agents rated on several chains, name
    /// the chain.
    #[param(value_type = Option<u64>, example = 31337, maximum = 9223372036854775807_i64)]
    pub chain_id: Option<String>,
    /// Items per page, 1 to [`crate::routes::page::MAX_LIMIT`] (default [`crate::routes::page::DEFAULT_LIMIT`]).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The scoring parameters (`sort=reputation`), and `registry` / `reputation_registry`.
    #[serde(flatten)]
    #[param(ignore)]
    pub score: ScoreQuery,
}

/// Every agent, in registration order (`sort=registered`) or ranked by reputation score (`sort=reputation`, a
/// leaderboard of one identity registry, with the scoring parameters of the reputation route).
#[utoipa::path(
    get,
    path = "/v1/agents",
    tag = "agents",
    params(AgentsQuery, ScoreQuery),
    responses((status = 200, description = "One page of agents.", body = AgentsPage), BadRequest, NotFound),
)]
pub(crate) async fn leaderboard(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AgentsQuery>,
) -> Result<Json<AgentsPage>> {
    let limit = page_limit(number("limit", query.limit.as_deref(), "a whole number")?)?;
    let chain_id: Option<u64> = number("chain_id", query.chain_id.as_deref(), "a chain id")?;
    if let Some(id) = chain_id.filter(|id| *id > i64::MAX as u64) {
        return Err(invalid(format!("chain_id {id} is out of range (at most {})", i64::MAX)));
    }
    let registry = optional_address("registry", query.score.registry.as_deref())?;
    match query.sort.as_deref().unwrap_or("registered") {
        "registered" => {
            if let Some(name) = query.score.scoring_parameter() {
                return Err(invalid(format!(
                    "{name} applies only with sort=reputation (this list is sorted by registration)"
                )));
            }
            by_registration(&state.pool, chain_id, registry, limit, page::cursor(&query.cursor)).await
        }
        "reputation" => {
            let request = query.score.request(&state.trust_seeds)?;
            let wanted = optional_address("reputation_registry", query.score.reputation_registry.as_deref())?;
            by_reputation(&state, chain_id, registry, wanted, request, limit, page::cursor(&query.cursor)).await
        }
        other => Err(invalid(format!(
            "sort must be registered or reputation, got {:?}",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

#[derive(FromRow)]
struct CardRow {
    #[sqlx(flatten)]
    pointer: PointerRow,
    agent_id: String,
    owner: DbAddress,
    agent_uri: String,
    model: Option<Vec<u8>>,
}

/// An agent's current owner, URI and model, and its registration.
struct Card {
    owner: Address,
    agent_uri: String,
    model_version: Option<B256>,
    registered: ChainPointer,
}

/// The cards of `agents` (chain, identity registry, agent id), keyed likewise; unknown agents are absent.
async fn load_cards(pool: &PgPool, agents: &[(i64, Address, U256)]) -> Result<HashMap<(i64, Address, U256), Card>> {
    if agents.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<CardRow> = sqlx::query_as(
        "SELECT r.chain_id, r.contract, r.block_number, r.block_hash, r.block_time, r.tx_hash, r.log_index,
                c.head_block, c.finalized_block, r.agent_id::TEXT AS agent_id,
                COALESCE((SELECT t.to_address FROM agent_transferred t
                           WHERE t.chain_id = r.chain_id AND t.contract = r.contract AND t.agent_id = r.agent_id
                           ORDER BY t.block_number DESC, t.log_index DESC LIMIT 1), r.owner) AS owner,
                COALESCE((SELECT u.new_uri FROM agent_uri_updated u
                           WHERE u.chain_id = r.chain_id AND u.contract = r.contract AND u.agent_id = r.agent_id
                           ORDER BY u.block_number DESC, u.log_index DESC LIMIT 1), r.agent_uri) AS agent_uri,
                (SELECT m.metadata_value FROM agent_metadata_set m
                  WHERE m.chain_id = r.chain_id AND m.contract = r.contract AND m.agent_id = r.agent_id
                    AND m.metadata_key = $4
                  ORDER BY m.block_number DESC, m.log_index DESC LIMIT 1) AS model
         FROM unnest($1::BIGINT[], $2::BYTEA[], $3::TEXT[]) AS k(chain_id, contract, agent_id)
         JOIN LATERAL (
             SELECT * FROM agent_registered x
             WHERE x.chain_id = k.chain_id AND x.contract = k.contract AND x.agent_id = k.agent_id::NUMERIC
             ORDER BY x.block_number, x.log_index LIMIT 1
         ) r ON TRUE
         LEFT JOIN indexer_cursors c ON c.chain_id = r.chain_id AND c.contract = r.contract",
    )
    .bind(agents.iter().map(|a| a.0).collect::<Vec<_>>())
    .bind(agents.iter().map(|a| a.1.to_vec()).collect::<Vec<_>>())
    .bind(agents.iter().map(|a| a.2.to_string()).collect::<Vec<_>>())
    .bind(MODEL_VERSION_KEY)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let key = (
                row.pointer.chain_id,
                row.pointer.contract.0,
                U256::from_str_radix(&row.agent_id, 10)
                    .map_err(|_| ApiError::Internal(format!("stored agent id {} is not a uint256", row.agent_id)))?,
            );
            let model_version =
                row.model.and_then(|m| B256::try_from(m.as_slice()).ok()).filter(|h: &B256| !h.is_zero());
            let card =
                Card { owner: row.owner.0, agent_uri: row.agent_uri, model_version, registered: row.pointer.view()? };
            Ok((key, card))
        })
        .collect()
}

#[derive(FromRow)]
struct RegisteredRow {
    chain_id: i64,
    contract: DbAddress,
    block_time: DateTime<Utc>,
    block_number: i64,
    log_index: i64,
    agent_id: String,
}

/// Agents in registration order: by block time, then chain, block and log index.
async fn by_registration(
    pool: &PgPool,
    chain_id: Option<u64>,
    registry: Option<Address>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Json<AgentsPage>> {
    let after = cursor
        .map(|c| {
            let [micros, chain, block, log] = decode_position::<4>(c)?;
            let time = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(invalid_cursor)?;
            Ok::<_, ApiError>((time, chain, block, log))
        })
        .transpose()?;
    let mut rows: Vec<RegisteredRow> = sqlx::query_as(
        "SELECT r.chain_id, r.contract, r.block_time, r.block_number, r.log_index, r.agent_id::TEXT AS agent_id
         FROM agent_registered r
         WHERE ($1::BIGINT IS NULL OR r.chain_id = $1) AND ($2::BYTEA IS NULL OR r.contract = $2)
           AND ($3::TIMESTAMPTZ IS NULL OR (r.block_time, r.chain_id, r.block_number, r.log_index) > ($3, $4, $5, $6))
         ORDER BY r.block_time, r.chain_id, r.block_number, r.log_index
         LIMIT $7",
    )
    .bind(chain_id.map(big))
    .bind(registry.map(|r| r.to_vec()))
    .bind(after.map(|a| a.0))
    .bind(after.map_or(0, |a| a.1))
    .bind(after.map_or(0, |a| a.2))
    .bind(after.map_or(0, |a| a.3))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let more = trim(&mut rows, limit);
    let next_cursor = if more {
        rows.last()
            .map(|r| position_cursor(&[r.block_time.timestamp_micros(), r.chain_id, r.block_number, r.log_index]))
    } else {
        None
    };
    let keys = rows
        .iter()
        .map(|r| {
            let id = U256::from_str_radix(&r.agent_id, 10)
                .map_err(|_| ApiError::Internal(format!("stored agent id {} is not a uint256", r.agent_id)))?;
            Ok((r.chain_id, r.contract.0, id))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut cards = load_cards(pool, &keys).await?;
    let items = keys
        .into_iter()
        .filter_map(|key| {
            let card = cards.remove(&key)?;
            Some(AgentItem {
                rank: None,
                agent: AgentRef { chain_id: key.0 as u64, identity_registry: key.1, agent_id: key.2 },
                owner: card.owner,
                agent_uri: card.agent_uri,
                model_version: card.model_version,
                score: None,
                registered: card.registered,
            })
        })
        .collect();
    Ok(Json(AgentsPage { sort: "registered".into(), reputation_registry: None, as_of_block: None, items, next_cursor }))
}

/// The leaderboard order of `prova_reputation::leaderboard`: score descending (`-0.0` as `0.0`), no score
/// last, then agent id ascending.
fn rank_order(a: (Option<f64>, U256), b: (Option<f64>, U256)) -> Ordering {
    let rank = match (a.0, b.0) {
        (Some(x), Some(y)) => (y + 0.0).total_cmp(&(x + 0.0)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    rank.then(a.1.cmp(&b.1))
}

/// A leaderboard position (score and agent id) as a cursor.
fn rank_cursor(score: Option<f64>, agent_id: U256) -> String {
    let mut bytes = vec![u8::from(score.is_some())];
    bytes.extend_from_slice(&score.unwrap_or_default().to_bits().to_be_bytes());
    bytes.extend_from_slice(&agent_id.to_be_bytes::<32>());
    encode_cursor(&bytes)
}

fn decode_rank_cursor(text: &str) -> Result<(Option<f64>, U256)> {
    let bytes = decode_cursor(text, 41)?;
    let score = f64::from_bits(u64::from_be_bytes(bytes[1..9].try_into().expect("8 bytes")));
    let agent_id = U256::from_be_slice(&bytes[9..]);
    Ok(((bytes[0] != 0).then_some(score), agent_id))
}

/// The identity registry a leaderboard ranks: `registry` on `chain_id` if given, else the earliest-indexed one
/// (by its first `Registered` event) that an indexed reputation registry rates.
async fn leaderboard_registry(
    pool: &PgPool,
    chain_id: Option<u64>,
    registry: Option<Address>,
) -> Result<(u64, Address)> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT l.chain_id, l.identity_registry
         FROM erc8004_links l
         JOIN indexer_cursors c ON c.chain_id = l.chain_id AND c.contract = l.contract AND c.kind = 'reputation'
         LEFT JOIN LATERAL (
             SELECT r.block_number, r.log_index FROM agent_registered r
             WHERE r.chain_id = l.chain_id AND r.contract = l.identity_registry
             ORDER BY r.block_number, r.log_index LIMIT 1
         ) first ON TRUE
         WHERE ($1::BIGINT IS NULL OR l.chain_id = $1) AND ($2::BYTEA IS NULL OR l.identity_registry = $2)
         ORDER BY l.chain_id, first.block_number NULLS LAST, first.log_index, l.identity_registry",
    )
    .bind(chain_id.map(big))
    .bind(registry.map(|r| r.to_vec()))
    .fetch_all(pool)
    .await?;
    let Some((chain, identity)) = rows.first() else {
        let scope = match (chain_id, registry) {
            (Some(c), Some(r)) => format!(" for identity registry {r} on chain {c}"),
            (Some(c), None) => format!(" on chain {c}"),
            (None, Some(r)) => format!(" for identity registry {r}"),
            (None, None) => String::new(),
        };
        return Err(ApiError::NotFound(format!("no indexed reputation registry{scope}")));
    };
    if chain_id.is_none() && rows.iter().any(|(c, _)| c != chain) {
        return Err(invalid("agents are rated on several chains; name one with chain_id"));
    }
    Ok((*chain as u64, address(identity)?))
}

/// The reputation leaderboard of one identity registry.
async fn by_reputation(
    state: &AppState,
    chain_id: Option<u64>,
    registry: Option<Address>,
    wanted_reputation: Option<Address>,
    request: ScoreRequest,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Json<AgentsPage>> {
    let after = cursor.map(decode_rank_cursor).transpose()?;
    let pool = &state.pool;
    let (chain_id, identity) = leaderboard_registry(pool, chain_id, registry).await?;
    let scope = AgentRef { chain_id, identity_registry: identity, agent_id: U256::ZERO };
    let reputation =
        linked_registries(pool, chain_id, identity).await?.reputation_registry(&scope, wanted_reputation)?;
    let set = state.reputation.feedback_set(pool, SetKey { chain_id: big(chain_id), reputation, identity }).await?;
    let data = set.data();
    let params = data.resolve(&request.params);
    let ranking = data.ranking(request.algorithm, &request.filter, &params).await?;

    let start = match after {
        Some(after) => {
            ranking.ranked.partition_point(|s| rank_order((s.score, s.agent_id), after) != Ordering::Greater)
        }
        None => 0,
    };
    let end = ranking.ranked.len().min(start + limit as usize);
    let page = &ranking.ranked[start..end];
    let next_cursor =
        (end < ranking.ranked.len()).then(|| page.last().map(|s| rank_cursor(s.score, s.agent_id))).flatten();
    let keys: Vec<(i64, Address, U256)> = page.iter().map(|s| (big(chain_id), identity, s.agent_id)).collect();
    let mut cards = load_cards(pool, &keys).await?;
    let items = page
        .iter()
        .enumerate()
        .filter_map(|(i, score)| {
            // Agents rated but not registered (as far as this index knows) are not in the set; registered agents
            // always have a card.
            let card = cards.remove(&(big(chain_id), identity, score.agent_id))?;
            Some(AgentItem {
                rank: Some((start + i + 1) as u64),
                agent: AgentRef { chain_id, identity_registry: identity, agent_id: score.agent_id },
                owner: card.owner,
                agent_uri: card.agent_uri,
                model_version: card.model_version,
                score: Some(score.clone()),
                registered: card.registered,
            })
        })
        .collect();
    Ok(Json(AgentsPage {
        sort: "reputation".into(),
        reputation_registry: Some(reputation),
        as_of_block: set.reputation_block(),
        items,
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prova_reputation::Score;
    use prova_reputation::{UsedParams, leaderboard};

    #[test]
    fn min_confirmations_up_to_one_is_no_filter() {
        for accepted in ["0", "1"] {
            let query = ScoreQuery { min_confirmations: Some(accepted.into()), ..Default::default() };
            assert!(query.request(&[]).is_ok(), "{accepted:?}");
        }
        // An empty value is not a count, and one past 1 is refused rather than ignored.
        for refused in ["", "2"] {
            let query = ScoreQuery { min_confirmations: Some(refused.into()), ..Default::default() };
            assert!(query.request(&[]).is_err(), "{refused:?}");
        }
        for (empty, name) in [
            (ScoreQuery { verified_only: Some(String::new()), ..Default::default() }, "verified_only"),
            (ScoreQuery { prior_mean: Some(String::new()), ..Default::default() }, "prior_mean"),
        ] {
            assert!(empty.request(&[]).unwrap_err().to_string().contains(name), "{name}");
        }
    }

    fn score(agent: u64, value: Option<f64>) -> Score {
        Score {
            agent_id: U256::from(agent),
            agent_owner: None,
            status: prova_reputation::ScoreStatus::of(value),
            score: value,
            count: 0,
            distinct_clients: 0,
            out_of_range: 0,
            filtered_out: 0,
            verified_share: None,
            summary: None,
            trust: None,
            params: UsedParams::Mean { filter: Filter::default() },
        }
    }

    #[test]
    fn rank_order_is_core_leaderboard_order() {
        let values = [Some(1.5), None, Some(-0.0), Some(0.0), Some(90.0), None, Some(1.5), Some(-3.0), Some(90.0)];
        // Scrambled agent ids, so ties on the score are broken by id.
        let scores: Vec<Score> = values.iter().enumerate().map(|(i, v)| score((i as u64 * 7) % 11, *v)).collect();
        let expected: Vec<(Option<f64>, U256)> =
            leaderboard(scores.clone()).iter().map(|s| (s.score, s.agent_id)).collect();
        let mut ours: Vec<(Option<f64>, U256)> = scores.iter().map(|s| (s.score, s.agent_id)).collect();
        ours.sort_by(|a, b| rank_order(*a, *b));
        assert_eq!(format!("{ours:?}"), format!("{expected:?}"));
    }

    #[test]
    fn rank_cursor_round_trips() {
        for (score, id) in [(Some(-0.0), U256::MAX), (None, U256::ZERO), (Some(42.125), U256::from(7))] {
            let (s, i) = decode_rank_cursor(&rank_cursor(score, id)).unwrap();
            assert_eq!((s.map(f64::to_bits), i), (score.map(f64::to_bits), id));
        }
        assert!(decode_rank_cursor("zz").is_err());
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let query = |f: fn(&mut ScoreQuery)| {
            let mut q = ScoreQuery::default();
            f(&mut q);
            q.request(&[]).unwrap_err().to_string()
        };
        assert!(query(|q| q.algorithm = Some("median".into())).contains("mean, bayesian, decay, trust"));
        assert!(query(|q| q.prior_mean = Some("abc".into())).contains("prior_mean"));
        assert!(
            query(|q| {
                q.algorithm = Some("bayesian".into());
                q.prior_weight = Some("-1".into());
            })
            .contains("prior_weight")
        );
        assert!(
            query(|q| {
                q.algorithm = Some("trust".into());
                q.alpha = Some("2".into());
            })
            .contains("alpha")
        );
        assert!(query(|q| q.clients = Some(",".into())).contains("at least one"));
        assert!(query(|q| q.seeds = Some("0x12".into())).contains("seeds"));
        // A parameter out of its range is refused whatever the algorithm, not ignored because it reads it not.
        assert!(query(|q| q.alpha = Some("2".into())).contains("alpha"));
        assert!(query(|q| q.prior_mean = Some("-1".into())).contains("prior_mean"));
        assert!(query(|q| q.half_life_secs = Some("0".into())).contains("half_life_secs"));
        let q = ScoreQuery { alpha: Some("0.5".into()), prior_mean: Some("10".into()), ..Default::default() };
        assert_eq!(q.request(&[]).unwrap().algorithm, Algorithm::Mean);
    }
}
