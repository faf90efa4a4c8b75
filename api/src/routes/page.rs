//! Cursor pagination shared by every list route: `?limit=` (1 to a documented maximum) and `?cursor=` (the
//! `next_cursor` of the previous page), answered as `{ "items": [...], "next_cursor": string | null }`.
//!
//! A cursor is the opaque hex encoding of the last item's sort key; it is only meaningful to the route that gave it.

use prova_db::DbAddress;
use std::collections::HashMap;

use alloy::primitives::{Address, B256};
use serde::Deserialize;
use sqlx::{FromRow, PgPool};
use utoipa::IntoParams;

use crate::ApiConfig;
use crate::error::{ApiError, Result};
use crate::extract::{optional_address, parse_address};
use crate::views::{ChainPointer, hash};
pub use prova_views::Page;

/// Items per page unless `?limit=` says otherwise (every list route but the output lookup).
pub const DEFAULT_LIMIT: u32 = 50;
/// Most items per page (every list route but the output lookup).
pub const MAX_LIMIT: u32 = 200;

/// Checks `?limit=`: 1 to `max`, `default` when absent.
pub fn limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", format!("limit must be 1 to {max}, got {limit}")));
    }
    Ok(limit)
}

/// Checks `?limit=` against [`DEFAULT_LIMIT`] and [`MAX_LIMIT`].
pub fn page_limit(value: Option<u32>) -> Result<u32> {
    limit(value, DEFAULT_LIMIT, MAX_LIMIT)
}

/// Cuts `rows`, fetched with `limit + 1`, to `limit`; true if there was one more (so a next page).
pub fn trim<T>(rows: &mut Vec<T>, limit: u32) -> bool {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    more
}

/// `?cursor=` as given; absent or empty means the first page.
pub fn cursor(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|text| !text.is_empty())
}

/// Encodes a page position as an opaque string.
pub fn encode_cursor(bytes: &[u8]) -> String {
    alloy::hex::encode(bytes)
}

/// Decodes [`encode_cursor`]'s string of exactly `len` bytes; a 400 `invalid_cursor` otherwise.
pub fn decode_cursor(text: &str, len: usize) -> Result<Vec<u8>> {
    alloy::hex::decode(text).ok().filter(|bytes| bytes.len() == len).ok_or_else(invalid_cursor)
}

/// The 400 for a cursor this route did not give.
pub fn invalid_cursor() -> ApiError {
    ApiError::bad_request("invalid_cursor", "cursor is not a next_cursor of this route")
}

/// A position of signed 64-bit fields (e.g. `(block_number, log_index)`) as a cursor.
pub fn position_cursor(fields: &[i64]) -> String {
    encode_cursor(&fields.iter().flat_map(|f| f.to_be_bytes()).collect::<Vec<u8>>())
}

/// Decodes a [`position_cursor`] of `N` fields.
pub fn decode_position<const N: usize>(text: &str) -> Result<[i64; N]> {
    let bytes = decode_cursor(text, 8 * N)?;
    Ok(std::array::from_fn(|i| i64::from_be_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))))
}

/// `?limit=` and `?cursor=` of a list route with the default page sizes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The checked page size, and the position (of `N` fields) after which the page starts.
    pub fn check<const N: usize>(&self) -> Result<(u32, Option<[i64; N]>)> {
        Ok((page_limit(self.limit)?, cursor(&self.cursor).map(decode_position::<N>).transpose()?))
    }
}

/// A query number as BIGINT (saturating).
pub fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Query of the lists of chain facts (`GET /v1/model-versions`, `GET /v1/output-batches`), which are ordered by
/// `(chain_id, block_number, log_index)`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChainListQuery {
    /// Only this chain.
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(example = 31337, maximum = 9223372036854775807_i64)]
    pub chain_id: Option<u64>,
    /// Only this ProvenanceRegistry contract. Without it, a chain with a configured canonical registry answers
    /// only that registry's facts, and any other chain every indexed registry's.
    /// Empty is the same as absent.
    #[param(pattern = "^(0x[0-9a-fA-F]{40})?$", example = "0x5FbDB2315678afecb367f032d93F642f64180aa3")]
    pub registry: Option<String>,
    /// Only this publisher's (an address, checksummed or not).
    #[param(pattern = "^0x[0-9a-fA-F]{40}$", example = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")]
    pub publisher: Option<String>,
    /// Only facts with at least this many confirmations (the block holding them counts as one).
    #[serde(default, deserialize_with = "crate::extract::at_most_i64")]
    #[param(maximum = 9223372036854775807_i64)]
    pub min_confirmations: Option<u64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A checked [`ChainListQuery`].
#[derive(Debug)]
pub struct ChainList {
    /// Items per page.
    pub limit: u32,
    /// The `(chain_id, block_number, log_index)` after which the page starts.
    pub after: Option<[i64; 3]>,
    /// Only this publisher's facts.
    pub publisher: Option<Address>,
    /// The chain, registry and confirmation filters.
    pub scope: Scope,
}

impl ChainListQuery {
    /// The checked page size, the position after which the page starts, the publisher, and the scope of the chain
    /// and registry filters under `config`'s canonical registries.
    pub fn check(&self, config: &ApiConfig) -> Result<ChainList> {
        let limit = page_limit(self.limit)?;
        let after = cursor(&self.cursor).map(decode_position::<3>).transpose()?;
        let publisher = self.publisher.as_deref().map(|p| parse_address("publisher", p)).transpose()?;
        let registry = optional_address("registry", self.registry.as_deref())?;
        let scope = Scope::new(config, self.chain_id, registry, self.min_confirmations);
        Ok(ChainList { limit, after, publisher, scope })
    }
}

/// A listed chain fact: its key (version hash, batch root) and where its event is.
#[derive(Debug, FromRow)]
pub struct Listed {
    /// The version hash or batch root.
    pub key: Vec<u8>,
    /// Chain id.
    pub chain_id: i64,
    /// Contract.
    pub contract: DbAddress,
    /// Block number.
    pub block_number: i64,
    /// Log index.
    pub log_index: i64,
}

impl Listed {
    /// The cursor of a page ending with this fact.
    pub fn cursor(&self) -> String {
        position_cursor(&[self.chain_id, self.block_number, self.log_index])
    }

    /// `(chain_id, contract, key)`.
    pub fn registry_key(&self) -> Result<(u64, Address, B256)> {
        Ok((self.chain_id as u64, self.contract.0, hash(&self.key)?))
    }

    /// The keys of `rows` grouped by registry, each group with the [`Scope`] of exactly that registry.
    pub fn by_registry(rows: &[Self], min_confirmations: Option<u64>) -> Result<Vec<(Scope, Vec<B256>)>> {
        let mut groups: Vec<(Scope, Vec<B256>)> = Vec::new();
        for row in rows {
            let (chain_id, contract, key) = row.registry_key()?;
            let at = groups
                .iter()
                .position(|(scope, _)| scope.chain_id == Some(chain_id as i64) && scope.contract == Some(contract));
            match at {
                Some(i) => groups[i].1.push(key),
                None => groups.push((
                    Scope {
                        chain_id: Some(chain_id as i64),
                        contract: Some(contract),
                        min_confirmations: min_confirmations.map(big),
                        canonical: Vec::new(),
                    },
                    vec![key],
                )),
            }
        }
        Ok(groups)
    }
}

/// One page of a registry event list (`GET /v1/model-versions`, `GET /v1/output-batches`): the events of `table`,
/// keyed by `key_column` (a hash), in `(chain_id, block_number, log_index)` order within `query`'s filters (and
/// `config`'s canonical registries), each rendered by `load` within exactly its own chain and registry, as the
/// single-item route renders it. `load` may answer more items than asked for (e.g. every claim of a version hash);
/// each event is matched to its item by its pointer.
pub async fn list_events<T, Load, Fut>(
    pool: &PgPool,
    config: &ApiConfig,
    query: &ChainListQuery,
    table: &str,
    key_column: &str,
    load: Load,
) -> Result<Page<T>>
where
    T: HasPointer,
    Load: Fn(Vec<B256>, Scope) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let ChainList { limit, after, publisher, scope } = query.check(config)?;
    let sql = format!(
        "SELECT e.{key_column} AS key, e.chain_id, e.contract, e.block_number, e.log_index
         FROM {table} e
         LEFT JOIN indexer_cursors c ON c.chain_id = e.chain_id AND c.contract = e.contract
         WHERE ($1::BIGINT IS NULL OR e.chain_id = $1) AND ($2::BYTEA IS NULL OR e.publisher = $2)
           AND ($3::BIGINT IS NULL OR COALESCE(c.head_block, e.block_number) - e.block_number + 1 >= $3)
           AND ($4::BIGINT IS NULL OR (e.chain_id, e.block_number, e.log_index) > ($4, $5, $6))
           AND {registry}
         ORDER BY e.chain_id, e.block_number, e.log_index
         LIMIT $7",
        registry = registry_condition("e", 8, 9, 10),
    );
    let mut rows: Vec<Listed> = sqlx::query_as(&sql)
        .bind(scope.chain_id)
        .bind(publisher.map(|p| p.to_vec()))
        .bind(scope.min_confirmations)
        .bind(after.map(|[chain, _, _]| chain))
        .bind(after.map_or(0, |[_, block, _]| block))
        .bind(after.map_or(0, |[_, _, log]| log))
        .bind(i64::from(limit) + 1)
        .bind(scope.contract_bytes())
        .bind(scope.canonical_chains())
        .bind(scope.canonical_contracts())
        .fetch_all(pool)
        .await?;
    let more = trim(&mut rows, limit);
    let next_cursor = if more { rows.last().map(Listed::cursor) } else { None };
    let mut found = HashMap::new();
    for (scope, keys) in Listed::by_registry(&rows, query.min_confirmations)? {
        for item in load(keys, scope).await? {
            let p = item.pointer();
            found.insert((p.chain_id as i64, p.block_number as i64, p.log_index as i64), item);
        }
    }
    let items = rows.iter().filter_map(|row| found.remove(&(row.chain_id, row.block_number, row.log_index))).collect();
    Ok(Page { items, next_cursor })
}

/// A listed fact, with the chain pointer of its event.
pub trait HasPointer {
    /// Where the fact's event is.
    fn pointer(&self) -> &ChainPointer;
}

/// Which facts count: the chain, registry and confirmation filters of a request, and the canonical registries of
/// the configuration.
///
/// With a registry named (`contract`), only that registry's facts count. Without one, a chain with a canonical
/// registry counts only that registry's facts, and any other chain every indexed registry's; the routes answer each
/// fact with its own chain pointer and never merge or shadow facts across chains or registries.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only this chain.
    pub chain_id: Option<i64>,
    /// Only this registry contract.
    pub contract: Option<Address>,
    /// Only facts with at least this many confirmations.
    pub min_confirmations: Option<i64>,
    /// When `contract` is `None`: the canonical registry of each chain that has one (other registries of those
    /// chains are left out).
    pub canonical: Vec<(i64, Address)>,
}

impl Scope {
    /// The scope of a request's filters under `config`. A chain filter on a chain with a canonical registry (and no
    /// registry named) is narrowed to that registry.
    pub fn new(
        config: &ApiConfig,
        chain_id: Option<u64>,
        registry: Option<Address>,
        min_confirmations: Option<u64>,
    ) -> Self {
        let contract = registry.or_else(|| chain_id.and_then(|c| config.canonical_registries.get(&c).copied()));
        let canonical = match contract {
            Some(_) => Vec::new(),
            None => config.canonical_registries.iter().map(|(chain, registry)| (big(*chain), *registry)).collect(),
        };
        Self { chain_id: chain_id.map(big), contract, min_confirmations: min_confirmations.map(big), canonical }
    }

    /// Exactly the chain and registry of `pointer`.
    pub fn of(pointer: &ChainPointer) -> Self {
        Self {
            chain_id: Some(pointer.chain_id as i64),
            contract: Some(pointer.contract),
            min_confirmations: None,
            canonical: Vec::new(),
        }
    }

    /// The registry, as bytes to bind.
    pub fn contract_bytes(&self) -> Option<Vec<u8>> {
        self.contract.map(|c| c.to_vec())
    }

    /// The chains of [`Self::canonical`], to bind as `BIGINT[]`.
    pub fn canonical_chains(&self) -> Vec<i64> {
        self.canonical.iter().map(|(chain, _)| *chain).collect()
    }

    /// The registries of [`Self::canonical`], to bind as `BYTEA[]`.
    pub fn canonical_contracts(&self) -> Vec<Vec<u8>> {
        self.canonical.iter().map(|(_, registry)| registry.to_vec()).collect()
    }
}

/// The SQL condition "the registry of `alias`'s event is in scope", given the scope's contract as `$contract` and
/// its canonical registries as `$chains` (`BIGINT[]`) and `$contracts` (`BYTEA[]`).
pub fn registry_condition(alias: &str, contract: usize, chains: usize, contracts: usize) -> String {
    format!(
        "(CASE WHEN ${contract}::BYTEA IS NULL THEN NOT EXISTS (
            SELECT 1 FROM unnest(${chains}::BIGINT[], ${contracts}::BYTEA[]) AS canonical(chain_id, contract)
            WHERE canonical.chain_id = {alias}.chain_id AND canonical.contract <> {alias}.contract)
          ELSE {alias}.contract = ${contract} END)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CHAIN, PUBLISHER, anchor, call, h, register, revoke, revoke_batch};
    use axum::http::StatusCode;
    use serde_json::Value;
    use sqlx::PgPool;

    /// Every item of a list, walked `limit` at a time; checks each page's shape on the way.
    async fn walk(pool: &PgPool, uri: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if uri.contains('?') { '&' } else { '?' };
            let page_uri = match &cursor {
                Some(c) => format!("{uri}{sep}limit={limit}&cursor={c}"),
                None => format!("{uri}{sep}limit={limit}"),
            };
            let (status, page) = call(pool.clone(), "GET", &page_uri).await;
            assert_eq!(status, StatusCode::OK, "{page_uri}: {page}");
            let got = page["items"].as_array().unwrap();
            assert!(got.len() <= limit as usize);
            items.extend(got.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn version_list_items_are_the_single_version_answers(pool: PgPool) {
        for (chain, n, block) in [(CHAIN, 1, 10), (1, 2, 3), (CHAIN, 3, 12), (CHAIN, 4, 11), (1, 5, 9)] {
            register(&pool, chain, h(n), None, block).await;
        }
        revoke(&pool, CHAIN, h(3), 13).await;
        let items = walk(&pool, "/v1/model-versions", 2).await;
        let order: Vec<String> = items.iter().map(|i| i["version_hash"].as_str().unwrap().to_owned()).collect();
        let expected: Vec<String> = [2, 5, 1, 4, 3].iter().map(|n| h(*n).to_string()).collect();
        assert_eq!(order, expected);
        for item in &items {
            let uri = format!(
                "/v1/model-versions/{}?chain_id={}",
                item["version_hash"].as_str().unwrap(),
                item["chain"]["chain_id"]
            );
            let (_, single) = call(pool.clone(), "GET", &uri).await;
            assert_eq!(item, &single["claims"][0]);
        }
        assert_eq!(items[4]["revocation"]["reason"], "leaked");

        assert_eq!(walk(&pool, &format!("/v1/model-versions?chain_id={CHAIN}"), 50).await.len(), 3);
        let checksummed = alloy::primitives::Address::from(PUBLISHER).to_checksum(None);
        assert_eq!(walk(&pool, &format!("/v1/model-versions?publisher={checksummed}"), 1).await.len(), 5);
        assert!(walk(&pool, &format!("/v1/model-versions?publisher=0x{}", "01".repeat(20)), 7).await.is_empty());
        // Block 10 of chain 31337 (head 12) has three confirmations.
        assert_eq!(walk(&pool, &format!("/v1/model-versions?chain_id={CHAIN}&min_confirmations=3"), 5).await.len(), 1);

        // An empty cursor is the first page.
        assert_eq!(walk(&pool, "/v1/model-versions?cursor=", 50).await.len(), 5);
        for (query, code) in [
            ("limit=0", "invalid_query"),
            ("limit=201", "invalid_query"),
            ("cursor=zz", "invalid_cursor"),
            ("cursor=00", "invalid_cursor"),
            ("publisher=0x12", "invalid_address"),
            ("chain_id=-1", "invalid_query"),
        ] {
            let (status, body) = call(pool.clone(), "GET", &format!("/v1/model-versions?{query}")).await;
            assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{query}");
        }
    }

    #[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
    async fn batch_list_items_are_the_single_batch_answers(pool: PgPool) {
        for (chain, n, block) in [(CHAIN, 1, 10), (1, 2, 3), (CHAIN, 3, 12)] {
            anchor(&pool, chain, h(n), h(9), 4, block).await;
        }
        revoke_batch(&pool, CHAIN, h(1), 14).await;
        let items = walk(&pool, "/v1/output-batches", 1).await;
        let order: Vec<&str> = items.iter().map(|i| i["root"].as_str().unwrap()).collect();
        assert_eq!(order, [h(2), h(1), h(3)].map(|r| r.to_string()));
        for item in &items {
            let uri =
                format!("/v1/output-batches/{}?chain_id={}", item["root"].as_str().unwrap(), item["chain"]["chain_id"]);
            let (_, single) = call(pool.clone(), "GET", &uri).await;
            assert_eq!(item, &single);
        }
        assert_eq!(items[1]["revocation"]["reason"], "sampled from a test key");
        assert_eq!(walk(&pool, "/v1/output-batches?chain_id=1", 2).await.len(), 1);
        let (status, body) = call(pool, "GET", "/v1/output-batches?cursor=abc").await;
        assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")));
    }

    #[test]
    fn positions_round_trip_and_reject_others() {
        let cursor = position_cursor(&[31337, -1, i64::MAX]);
        assert_eq!(decode_position::<3>(&cursor).unwrap(), [31337, -1, i64::MAX]);
        assert!(decode_position::<2>(&cursor).is_err());
        assert!(decode_position::<1>("zz").is_err());
        assert!(limit(Some(0), 5, 10).is_err());
        assert!(limit(Some(11), 5, 10).is_err());
        assert_eq!(limit(None, 5, 10).unwrap(), 5);
    }
}
