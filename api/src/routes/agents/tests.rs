//! Database tests of the agent routes: events are seeded directly, as the indexer would write them.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256, keccak256};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use prova_reputation::{self, Algorithm, Feedback, Filter, Params, Score};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::testing::{ATTESTOR, CHAIN, PUBLISHER, REGISTRY, h, register, revoke};
use crate::{AppState, app};

const IDENTITY: Address = Address::repeat_byte(0x1d);
const REPUTATION: Address = Address::repeat_byte(0x2e);
const VALIDATION: Address = Address::repeat_byte(0x3f);
/// Where the cursors of the ERC-8004 registries stand unless a test moves them.
const NEXT_BLOCK: i64 = 100;

fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// Owners, clients and seeds of the hand-made set.
const O0: Address = Address::repeat_byte(0x01);
const O1: Address = Address::repeat_byte(0x02);
const O2: Address = Address::repeat_byte(0x03);
const C1: Address = Address::repeat_byte(0xc1);
const C2: Address = Address::repeat_byte(0xc2);
const C3: Address = Address::repeat_byte(0xc3);
const C4: Address = Address::repeat_byte(0xc4);

/// Calls the app of `state` (so its cache lives across calls).
async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let request = Request::builder().method("GET").uri(uri).body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).expect("every answer is JSON"))
}

/// Calls a fresh app (empty cache).
async fn fresh(pool: &PgPool, uri: &str) -> (StatusCode, Value) {
    get(&AppState::new(pool.clone()), uri).await
}

enum V {
    Bytes(Vec<u8>),
    Text(String),
    Int(i64),
    Numeric(String),
}

/// Inserts one event row of `contract` on `chain` at `(block, log)`; block time is `1700000000 + 12 * block`.
async fn event(pool: &PgPool, chain: i64, table: &str, contract: Address, block: i64, log: i64, cols: Vec<(&str, V)>) {
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let params: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| match c.1 {
            V::Numeric(_) => format!("${}::NUMERIC", i + 7),
            _ => format!("${}", i + 7),
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time, {})
         VALUES ($1, $2, $3, $4, $5, $6, to_timestamp(1700000000 + $5 * 12), {})",
        names.join(", "),
        params.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(chain)
        .bind(keccak256(format!("{table} {block} {log}")).to_vec())
        .bind(log)
        .bind(contract.to_vec())
        .bind(block)
        .bind(block_hash(block, 0).to_vec());
    for (_, value) in cols {
        query = match value {
            V::Bytes(b) => query.bind(b),
            V::Text(t) | V::Numeric(t) => query.bind(t),
            V::Int(i) => query.bind(i),
        };
    }
    query.execute(pool).await.unwrap();
}

fn block_hash(block: i64, fork: u8) -> B256 {
    let mut bytes = [0xbbu8; 32];
    bytes[0] = fork;
    bytes[24..].copy_from_slice(&block.to_be_bytes());
    B256::from(bytes)
}

fn time(block: i64) -> i64 {
    1_700_000_000 + 12 * block
}

/// Cursors (with their kinds) and links of the identity, reputation and validation registries on `chain`.
async fn setup_chain(pool: &PgPool, chain: i64, identity: Address, reputation: Address, validation: Address) {
    for (contract, kind) in [(identity, "identity"), (reputation, "reputation"), (validation, "validation")] {
        sqlx::query(
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block, kind) VALUES ($1, $2, $3, $3 - 1, $4)
             ON CONFLICT (chain_id, contract) DO NOTHING",
        )
        .bind(chain)
        .bind(contract.to_vec())
        .bind(NEXT_BLOCK)
        .bind(kind)
        .execute(pool)
        .await
        .unwrap();
    }
    for linked in [reputation, validation] {
        sqlx::query("INSERT INTO erc8004_links (chain_id, contract, identity_registry) VALUES ($1, $2, $3)")
            .bind(chain)
            .bind(linked.to_vec())
            .bind(identity.to_vec())
            .execute(pool)
            .await
            .unwrap();
    }
}

async fn setup(pool: &PgPool) {
    setup_chain(pool, CHAIN, IDENTITY, REPUTATION, VALIDATION).await;
}

/// Moves a cursor to `next_block`, as a committed range (or a rewind) does.
async fn move_cursor(pool: &PgPool, contract: Address, next_block: i64) {
    sqlx::query(
        "UPDATE indexer_cursors SET next_block = $2, head_block = GREATEST(head_block, $2 - 1), updated_at = clock_timestamp()
         WHERE chain_id = $3 AND contract = $1",
    )
    .bind(contract.to_vec())
    .bind(next_block)
    .bind(CHAIN)
    .execute(pool)
    .await
    .unwrap();
}

/// Registers agent `id` in `identity` (mint `Transfer` at `log`, `Registered` at `log + 1`).
async fn register_agent_in(pool: &PgPool, identity: Address, id: u64, owner: Address, block: i64, log: i64) {
    transfer_in(pool, identity, id, Address::ZERO, owner, block, log).await;
    event(
        pool,
        CHAIN,
        "agent_registered",
        identity,
        block,
        log + 1,
        vec![
            ("agent_id", V::Numeric(id.to_string())),
            ("agent_uri", V::Text(format!("ipfs://agent-{id}"))),
            ("owner", V::Bytes(owner.to_vec())),
        ],
    )
    .await;
}

async fn register_agent(pool: &PgPool, id: u64, owner: Address, block: i64) {
    register_agent_in(pool, IDENTITY, id, owner, block, 0).await;
}

async fn transfer_in(pool: &PgPool, identity: Address, id: u64, from: Address, to: Address, block: i64, log: i64) {
    event(
        pool,
        CHAIN,
        "agent_transferred",
        identity,
        block,
        log,
        vec![
            ("from_address", V::Bytes(from.to_vec())),
            ("to_address", V::Bytes(to.to_vec())),
            ("agent_id", V::Numeric(id.to_string())),
        ],
    )
    .await;
}

async fn metadata(pool: &PgPool, id: u64, key: &str, value: &[u8], block: i64) {
    event(
        pool,
        CHAIN,
        "agent_metadata_set",
        IDENTITY,
        block,
        5,
        vec![
            ("agent_id", V::Numeric(id.to_string())),
            ("metadata_key", V::Text(key.into())),
            ("metadata_value", V::Bytes(value.to_vec())),
        ],
    )
    .await;
}

/// One feedback entry of the tests.
#[derive(Debug, Clone)]
struct Fb {
    agent: u64,
    client: Address,
    index: u64,
    value: i128,
    decimals: u8,
    tag1: &'static str,
    tag2: &'static str,
    block: i64,
}

fn fb(agent: u64, client: Address, index: u64, value: i128, decimals: u8, tag1: &'static str, block: i64) -> Fb {
    Fb { agent, client, index, value, decimals, tag1, tag2: "", block }
}

async fn give(pool: &PgPool, f: &Fb) {
    give_at(pool, f, 1).await;
}

/// [`give`] at log index `log` of its block.
async fn give_at(pool: &PgPool, f: &Fb, log: i64) {
    event(
        pool,
        CHAIN,
        "feedback_given",
        REPUTATION,
        f.block,
        log,
        vec![
            ("agent_id", V::Numeric(f.agent.to_string())),
            ("client", V::Bytes(f.client.to_vec())),
            ("feedback_index", V::Int(f.index as i64)),
            ("value", V::Numeric(f.value.to_string())),
            ("value_decimals", V::Int(f.decimals.into())),
            ("tag1", V::Text(f.tag1.into())),
            ("tag2", V::Text(f.tag2.into())),
            ("endpoint", V::Text("https://agent.example/api".into())),
            ("feedback_uri", V::Text(format!("ipfs://feedback-{}-{}", f.agent, f.index))),
            ("feedback_hash", V::Bytes(keccak256(format!("{f:?}")).to_vec())),
        ],
    )
    .await;
}

/// `feedback_revoked`, `feedback_verified` or `feedback_response` for one entry.
async fn mark(pool: &PgPool, table: &str, f: &Fb, block: i64, log: i64) {
    let mut cols = vec![
        ("agent_id", V::Numeric(f.agent.to_string())),
        ("client", V::Bytes(f.client.to_vec())),
        ("feedback_index", V::Int(f.index as i64)),
    ];
    match table {
        "feedback_verified" => {
            cols.push(("interaction_hash", V::Bytes(keccak256(format!("job {f:?}")).to_vec())));
            cols.push(("signer", V::Bytes(addr(0x5e).to_vec())));
        }
        "feedback_response" => {
            cols.push(("responder", V::Bytes(addr(0x77).to_vec())));
            cols.push(("response_uri", V::Text("ipfs://reply".into())));
            cols.push(("response_hash", V::Bytes(vec![0; 32])));
        }
        _ => {}
    }
    event(pool, CHAIN, table, REPUTATION, block, log, cols).await;
}

/// The hand-made set: agents 0, 1 and 2 (owned by O0, O1, O2; agent 2 has no feedback).
struct HandSet {
    given: Vec<Fb>,
    revoked: Vec<usize>,
    verified: Vec<usize>,
}

async fn seed_hand_set(pool: &PgPool) -> HandSet {
    setup(pool).await;
    register_agent(pool, 0, O0, 2).await;
    register_agent(pool, 1, O1, 3).await;
    register_agent(pool, 2, O2, 4).await;
    let given = vec![
        fb(0, C1, 1, 80, 0, "quality", 10),
        fb(0, C1, 2, 905, 1, "speed", 11),
        fb(0, C2, 1, 70, 0, "quality", 12),
        fb(0, C3, 1, 10, 0, "quality", 13),
        fb(0, C4, 1, 100, 0, "quality", 15),
        fb(1, C1, 1, 50, 0, "quality", 16),
        fb(1, C2, 1, 95, 0, "speed", 17),
        // The owner of agent 0 rates agent 1: trust flows from O0 to O1.
        fb(1, O0, 1, 100, 0, "quality", 18),
    ];
    for f in &given {
        give(pool, f).await;
    }
    let (revoked, verified) = (vec![3], vec![2, 4, 6]);
    mark(pool, "feedback_revoked", &given[3], 14, 0).await;
    for &i in &verified {
        mark(pool, "feedback_verified", &given[i], given[i].block, 2).await;
    }
    HandSet { given, revoked, verified }
}

impl HandSet {
    /// The same feedback as core input, with the owners now (the owners when it was given: the same, for feedback
    /// given before any transfer).
    fn core_input(&self, owners: &HashMap<u64, Address>) -> Vec<Feedback> {
        self.core_input_then(owners, owners)
    }

    /// The same feedback as core input, with the owners now and the owners when it was given.
    fn core_input_then(&self, owners: &HashMap<u64, Address>, then: &HashMap<u64, Address>) -> Vec<Feedback> {
        self.given
            .iter()
            .enumerate()
            .map(|(i, f)| Feedback {
                agent_id: U256::from(f.agent),
                agent_owner: owners[&f.agent],
                owner_at_feedback: then[&f.agent],
                client: f.client,
                feedback_index: f.index,
                value: f.value,
                decimals: f.decimals,
                tag1: f.tag1.into(),
                tag2: f.tag2.into(),
                revoked: self.revoked.contains(&i),
                verified: self.verified.contains(&i),
                timestamp: time(f.block),
            })
            .collect()
    }
}

fn hand_owners() -> HashMap<u64, Address> {
    HashMap::from([(0, O0), (1, O1), (2, O2)])
}

fn reputation_uri(agent: u64, query: &str) -> String {
    format!("/v1/agents/{CHAIN}/{agent}/reputation{query}")
}

/// `value` as a client reads it: written as JSON text and parsed back (serde_json's parser, without its
/// `float_roundtrip` feature, can be one ulp off; the API's text is exact, so both sides go through it).
fn as_read(value: impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap()
}

/// Core's score of `agent` over the whole input, as a client reads it.
fn core_score(input: &[Feedback], agent: u64, algorithm: Algorithm, filter: &Filter, params: &Params) -> Value {
    as_read(prova_reputation::score_agent(input, U256::from(agent), filter, algorithm, params).unwrap())
}

// ---------------------------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn identity_follows_transfers_uri_updates_and_the_wallet(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 7, O0, 10).await;
    let uri = format!("/v1/agents/{CHAIN}/7");

    let (status, body) = fresh(&pool, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chain_id"], CHAIN);
    assert_eq!(body["identity_registry"], IDENTITY.to_string().to_lowercase());
    assert_eq!(body["agent_id"], "7");
    assert_eq!(body["agent_uri"], "ipfs://agent-7");
    assert_eq!(body["owner"], O0.to_string().to_lowercase());
    assert_eq!(body["wallet"], Value::Null);
    assert_eq!(body["model"], Value::Null);
    assert_eq!(body["reputation_registry"], REPUTATION.to_string().to_lowercase());
    assert_eq!(body["registered"]["block_number"], 10);
    assert_eq!(body["registered"]["log_index"], 1);
    assert_eq!(body["registered"]["finality"], "confirmed");
    assert_eq!(body["registered"]["block_time"], "2023-11-14T22:15:20Z");
    assert_eq!(body["sources"]["wallet"], Value::Null);

    // A wallet is set, then the URI changes.
    let wallet = addr(0x99);
    metadata(&pool, 7, "agentWallet", wallet.as_slice(), 11).await;
    event(
        &pool,
        CHAIN,
        "agent_uri_updated",
        IDENTITY,
        12,
        0,
        vec![
            ("agent_id", V::Numeric("7".into())),
            ("new_uri", V::Text("https://agent.example/card.json".into())),
            ("updated_by", V::Bytes(O0.to_vec())),
        ],
    )
    .await;
    let (_, body) = fresh(&pool, &uri).await;
    assert_eq!(body["wallet"], wallet.to_string().to_lowercase());
    assert_eq!(body["sources"]["wallet"]["block_number"], 11);
    assert_eq!(body["agent_uri"], "https://agent.example/card.json");
    assert_eq!(body["sources"]["agent_uri"]["block_number"], 12);

    // A transfer: new owner, and the wallet is no longer current (ERC-8004 clears it on transfer).
    transfer_in(&pool, IDENTITY, 7, O0, O1, 13, 0).await;
    let (_, body) = fresh(&pool, &uri).await;
    assert_eq!(body["owner"], O1.to_string().to_lowercase());
    assert_eq!(body["sources"]["owner"]["block_number"], 13);
    assert_eq!(body["wallet"], Value::Null);
    assert_eq!(body["sources"]["wallet"]["block_number"], 13);

    // The new owner sets a wallet, then clears it with empty bytes.
    metadata(&pool, 7, "agentWallet", addr(0x98).as_slice(), 14).await;
    let (_, body) = fresh(&pool, &uri).await;
    assert_eq!(body["wallet"], addr(0x98).to_string().to_lowercase());
    metadata(&pool, 7, "agentWallet", &[], 15).await;
    let (_, body) = fresh(&pool, &uri).await;
    assert_eq!(body["wallet"], Value::Null);
    assert_eq!(body["sources"]["wallet"]["block_number"], 15);
    assert_eq!(body["owner"], O1.to_string().to_lowercase());
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn model_binding_is_resolved_against_the_provenance_registry(pool: PgPool) {
    setup(&pool).await;
    register(&pool, CHAIN, h(1), None, 3).await;
    register(&pool, CHAIN, h(2), None, 4).await;
    revoke(&pool, CHAIN, h(2), 5).await;
    // h(3) is registered only on another chain: not registered on this one.
    register(&pool, 1, h(3), None, 6).await;
    let bindings = [(1u64, Some(h(1))), (2, Some(h(2))), (3, Some(h(3))), (4, None)];
    for (agent, version) in bindings {
        register_agent(&pool, agent, O0, 10 + agent as i64).await;
        if let Some(version) = version {
            metadata(&pool, agent, "prova.modelVersion", version.as_slice(), 20 + agent as i64).await;
        }
    }

    let (_, one) = fresh(&pool, &format!("/v1/agents/{CHAIN}/1")).await;
    assert_eq!(one["model"]["version_hash"], h(1).to_string());
    assert_eq!(one["model"]["status"], "registered");
    assert_eq!(one["model"]["claimed_by"], "agent_owner");
    assert_eq!(one["model"]["claims"].as_array().unwrap().len(), 1);
    assert_eq!(one["model"]["claims"][0]["publisher"], Address::from(PUBLISHER).to_string().to_lowercase());
    assert_eq!(one["model"]["claims"][0]["revocation"], Value::Null);
    assert_eq!(one["model"]["claims"][0]["chain"]["contract"], Address::from(REGISTRY).to_string().to_lowercase());
    assert_eq!(one["model"]["chain"]["block_number"], 21);

    let (_, two) = fresh(&pool, &format!("/v1/agents/{CHAIN}/2")).await;
    assert_eq!(two["model"]["status"], "revoked");
    assert_eq!(two["model"]["claims"][0]["revocation"]["reason"], "leaked");

    let (_, three) = fresh(&pool, &format!("/v1/agents/{CHAIN}/3")).await;
    assert_eq!(three["model"]["status"], "not_registered");
    assert_eq!(three["model"]["claims"], json!([]));
    assert_eq!(three["model"]["claimed_by"], "agent_owner");

    let (_, four) = fresh(&pool, &format!("/v1/agents/{CHAIN}/4")).await;
    assert_eq!(four["model"], Value::Null);

    // The attestor key of h(1) is flagged compromised from before its registration.
    event(
        &pool,
        CHAIN,
        "attestor_compromised",
        Address::from(REGISTRY),
        30,
        0,
        vec![("publisher", V::Bytes(PUBLISHER.to_vec())), ("key", V::Bytes(ATTESTOR.to_vec())), ("since", V::Int(0))],
    )
    .await;
    let (_, one) = fresh(&pool, &format!("/v1/agents/{CHAIN}/1")).await;
    assert_eq!(one["model"]["status"], "signed_by_compromised_key");
    assert_eq!(one["model"]["claims"][0]["signed_by_compromised_key"], true);
}

/// An agent bound to a famous model it does not run: the binding is the agent owner's claim, listed with every
/// publisher's claim of the hash in the chain's canonical registry (a claim in another registry of the chain does
/// not count), and a squatter's claim beside the lab's never makes the lab vouch for the agent.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn model_binding_is_the_owners_claim_beside_every_publishers(pool: PgPool) {
    use crate::testing::{claim, revoke_claim};
    setup(&pool).await;
    let lab = Address::from(PUBLISHER);
    let squatter = addr(0x5a);
    let rogue = addr(0x99);
    claim(&pool, CHAIN, REGISTRY.into(), squatter, h(1), 3, 0).await;
    claim(&pool, CHAIN, REGISTRY.into(), lab, h(1), 4, 0).await;
    claim(&pool, CHAIN, rogue, addr(0x66), h(1), 2, 0).await;
    register_agent(&pool, 1, O0, 10).await;
    metadata(&pool, 1, "prova.modelVersion", h(1).as_slice(), 11).await;
    let uri = format!("/v1/agents/{CHAIN}/1");
    let publishers = |body: &Value| -> Vec<String> {
        body["model"]["claims"].as_array().unwrap().iter().map(|c| c["publisher"].as_str().unwrap().into()).collect()
    };
    let lower = |a: Address| a.to_string().to_lowercase();

    // No canonical registry: every registry of the chain, each claim with its own pointer.
    let (_, body) = fresh(&pool, &uri).await;
    assert_eq!(body["model"]["claimed_by"], "agent_owner");
    assert_eq!(publishers(&body), [lower(addr(0x66)), lower(squatter), lower(lab)], "{body}");

    let config = crate::ApiConfig {
        canonical_registries: std::collections::BTreeMap::from([(CHAIN as u64, Address::from(REGISTRY))]),
        ..Default::default()
    };
    let state = AppState::new(pool.clone()).with_config(config);
    let (_, body) = get(&state, &uri).await;
    assert_eq!(publishers(&body), [lower(squatter), lower(lab)], "{body}");
    assert_eq!(body["model"]["status"], "registered");

    // The status is of the claims: one standing claim keeps it registered; all revoked, revoked.
    revoke_claim(&pool, CHAIN, REGISTRY.into(), squatter, h(1), 12).await;
    let (_, body) = get(&AppState::new(pool.clone()).with_config(state.config.as_ref().clone()), &uri).await;
    assert_eq!(body["model"]["status"], "registered");
    revoke_claim(&pool, CHAIN, REGISTRY.into(), lab, h(1), 13).await;
    let (_, body) = get(&AppState::new(pool.clone()).with_config(state.config.as_ref().clone()), &uri).await;
    assert_eq!(body["model"]["status"], "revoked", "{body}");
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn bad_and_unknown_agents_are_json_errors(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 0, O0, 10).await;
    let too_big = format!("{}0", U256::MAX);
    let cases = [
        (format!("/v1/agents/{CHAIN}/1"), StatusCode::NOT_FOUND, "not_found"),
        ("/v1/agents/1/0".to_owned(), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/abc"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        (format!("/v1/agents/{CHAIN}/-1"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        (format!("/v1/agents/{CHAIN}/1.5"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        (format!("/v1/agents/{CHAIN}/0x1"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        (format!("/v1/agents/{CHAIN}/{too_big}"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        ("/v1/agents/x/0".to_owned(), StatusCode::BAD_REQUEST, "invalid_path"),
        (format!("/v1/agents/{CHAIN}/0?registry=0x12"), StatusCode::BAD_REQUEST, "invalid_address"),
        (format!("/v1/agents/{CHAIN}/0?registry={}", addr(0x44)), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/0?min_confirmations=x"), StatusCode::BAD_REQUEST, "invalid_query"),
        (format!("/v1/agents/{CHAIN}/0?reputation_registry={}", addr(0x45)), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/1/feedback"), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/abc/feedback"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        (format!("/v1/agents/{CHAIN}/1/validations"), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/1/reputation"), StatusCode::NOT_FOUND, "not_found"),
        (format!("/v1/agents/{CHAIN}/{too_big}/reputation"), StatusCode::BAD_REQUEST, "invalid_agent_id"),
        // Text Postgres cannot hold (found by schemathesis: a 500 before).
        (format!("/v1/agents/{CHAIN}/0/feedback?tag1=%00L"), StatusCode::BAD_REQUEST, "invalid_input"),
    ];
    for (uri, expected, code) in cases {
        let (status, body) = fresh(&pool, &uri).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert_eq!(body["error"]["code"], code, "{uri}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // The largest uint256 is a valid id (just not registered).
    let (status, _) = fresh(&pool, &format!("/v1/agents/{CHAIN}/{}", U256::MAX)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn the_default_identity_registry_is_the_earliest_indexed(pool: PgPool) {
    let later = addr(0x1e);
    setup(&pool).await;
    setup_chain(&pool, CHAIN, later, addr(0x2f), addr(0x40)).await;
    // Agent 0 exists in both registries; IDENTITY registered it first.
    register_agent_in(&pool, later, 0, O1, 12, 0).await;
    register_agent_in(&pool, IDENTITY, 0, O0, 11, 0).await;

    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0")).await;
    assert_eq!(body["identity_registry"], IDENTITY.to_string().to_lowercase());
    assert_eq!(body["owner"], O0.to_string().to_lowercase());
    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0?registry={later}")).await;
    assert_eq!(body["identity_registry"], later.to_string().to_lowercase());
    assert_eq!(body["owner"], O1.to_string().to_lowercase());
    assert_eq!(body["reputation_registry"], addr(0x2f).to_string().to_lowercase());
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn identity_counts_feedback_and_validations_with_min_confirmations(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    mark(&pool, "feedback_response", &set.given[0], 20, 0).await;
    validation_request(&pool, 0, 1, 30).await;
    validation_request(&pool, 0, 2, 31).await;
    validation_request(&pool, 0, 3, 32).await;
    validation_response(&pool, 0, 1, 60, 40, 0).await;
    validation_response(&pool, 0, 1, 90, 41, 0).await;
    validation_response(&pool, 0, 2, 70, 42, 0).await;

    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0")).await;
    assert_eq!(body["feedback"], json!({ "total": 5, "revoked": 1, "verified": 2, "distinct_clients": 4 }));
    // Latest responses: 90 and 70.
    assert_eq!(body["validations"], json!({ "requests": 3, "responded": 2, "average_response": 80.0 }));

    // Head is 99: blocks up to 99 - 86 + 1 = 14 have 86 confirmations.
    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0?min_confirmations=86")).await;
    assert_eq!(body["feedback"], json!({ "total": 4, "revoked": 1, "verified": 1, "distinct_clients": 3 }));
    assert_eq!(body["validations"], json!({ "requests": 0, "responded": 0, "average_response": null }));
    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0?min_confirmations=59")).await;
    // Blocks up to 41 count: the second response to request 1 (block 41) does, the one to request 2 does not.
    assert_eq!(body["validations"], json!({ "requests": 3, "responded": 1, "average_response": 90.0 }));
    // The registration itself (block 2) needs 98 confirmations.
    let (status, _) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0?min_confirmations=98")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0?min_confirmations=99")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

// ---------------------------------------------------------------------------------------------------------------
// Feedback
// ---------------------------------------------------------------------------------------------------------------

fn feedback_uri(agent: u64, query: &str) -> String {
    format!("/v1/agents/{CHAIN}/{agent}/feedback{query}")
}

/// Follows `next_cursor` from the first page of `query` (which must leave room for `&cursor=`).
async fn all_pages(pool: &PgPool, first: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages) = (Vec::new(), 0);
    let mut uri = first.to_owned();
    loop {
        let (status, page) = fresh(pool, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {page}");
        pages += 1;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("{first}&cursor={cursor}"),
            None => return (items, pages),
        }
    }
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn feedback_items_carry_flags_pointers_and_exact_values(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    mark(&pool, "feedback_response", &set.given[0], 20, 0).await;
    mark(&pool, "feedback_response", &set.given[0], 21, 0).await;
    let extreme = fb(1, C3, 1, i128::MIN, 18, "edge", 19);
    give(&pool, &extreme).await;

    let (status, page) = fresh(&pool, &feedback_uri(0, "")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["agent"], json!({ "chain_id": CHAIN, "identity_registry": IDENTITY, "agent_id": "0" }));
    assert_eq!(page["reputation_registry"], REPUTATION.to_string().to_lowercase());
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let blocks: Vec<i64> = items.iter().map(|i| i["chain"]["block_number"].as_i64().unwrap()).collect();
    assert_eq!(blocks, [10, 11, 12, 13, 15]);
    let first = &items[0];
    assert_eq!(first["client"], C1.to_string().to_lowercase());
    assert_eq!(first["feedback_index"], 1);
    assert_eq!(first["value"], "80");
    assert_eq!(first["value_decimals"], 0);
    assert_eq!(first["tag1"], "quality");
    assert_eq!(first["tag2"], "");
    assert_eq!(first["endpoint"], "https://agent.example/api");
    assert_eq!(first["responses"], 2);
    assert_eq!(first["revoked"], false);
    assert_eq!(first["revocation"], Value::Null);
    assert_eq!(first["verified"], false);
    assert_eq!(first["chain"]["contract"], REPUTATION.to_string().to_lowercase());
    assert_eq!(items[1]["value"], "905");
    assert_eq!(items[1]["value_decimals"], 1);
    assert_eq!(items[2]["verified"], true);
    assert_eq!(items[2]["verification"]["signer"], addr(0x5e).to_string().to_lowercase());
    assert_eq!(items[2]["verification"]["chain"]["block_number"], 12);
    assert_eq!(items[3]["revoked"], true);
    assert_eq!(items[3]["revocation"]["chain"]["block_number"], 14);
    assert_eq!(items[3]["revocation"]["chain"]["contract"], REPUTATION.to_string().to_lowercase());

    let (_, page) = fresh(&pool, &feedback_uri(1, &format!("?client={C3}"))).await;
    assert_eq!(page["items"][0]["value"], i128::MIN.to_string());
    assert_eq!(page["items"][0]["value_decimals"], 18);
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn feedback_filters(pool: PgPool) {
    seed_hand_set(&pool).await;
    let blocks = |page: &Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|i| i["chain"]["block_number"].as_i64().unwrap()).collect()
    };
    let cases: [(&str, &[i64]); 10] = [
        ("", &[10, 11, 12, 13, 15]),
        ("?tag1=quality", &[10, 12, 13, 15]),
        ("?tag1=speed", &[11]),
        ("?tag1=", &[10, 11, 12, 13, 15]),
        ("?tag2=nothing", &[]),
        ("?revoked=true", &[13]),
        ("?revoked=false", &[10, 11, 12, 15]),
        ("?verified=true", &[12, 15]),
        ("?verified=false&tag1=quality", &[10, 13]),
        ("?min_confirmations=86", &[10, 11, 12, 13]),
    ];
    for (query, expected) in cases {
        let (status, page) = fresh(&pool, &feedback_uri(0, query)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(blocks(&page), expected, "{query}");
    }
    let (_, page) = fresh(&pool, &feedback_uri(0, &format!("?client={C1}"))).await;
    assert_eq!(blocks(&page), [10, 11]);
    // A revocation with too few confirmations does not count yet (87 confirmations: blocks up to 13).
    let (_, page) = fresh(&pool, &feedback_uri(0, "?min_confirmations=87&revoked=true")).await;
    assert_eq!(blocks(&page), [] as [i64; 0]);

    for (query, code) in [
        ("?limit=0", "invalid_query"),
        ("?limit=201", "invalid_query"),
        ("?revoked=maybe", "invalid_query"),
        ("?client=0x12", "invalid_address"),
        ("?cursor=abc", "invalid_cursor"),
        ("?cursor=00", "invalid_cursor"),
    ] {
        let (status, body) = fresh(&pool, &feedback_uri(0, query)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}");
    }
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn feedback_pages_cover_everything_once(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 5, O0, 1).await;
    // 23 entries over blocks with several logs each: (block, log) ordering across pages.
    let mut expected = Vec::new();
    for i in 0..23u64 {
        let client = addr(0xa0 + (i % 4) as u8);
        let f = Fb {
            agent: 5,
            client,
            index: i / 4 + 1,
            value: i as i128,
            decimals: 0,
            tag1: "t",
            tag2: "",
            block: 10 + (i / 3) as i64,
        };
        event(
            &pool,
            CHAIN,
            "feedback_given",
            REPUTATION,
            f.block,
            (i % 3) as i64 * 2,
            vec![
                ("agent_id", V::Numeric("5".into())),
                ("client", V::Bytes(client.to_vec())),
                ("feedback_index", V::Int(f.index as i64)),
                ("value", V::Numeric(i.to_string())),
                ("value_decimals", V::Int(0)),
                ("tag1", V::Text("t".into())),
                ("tag2", V::Text(String::new())),
                ("endpoint", V::Text(String::new())),
                ("feedback_uri", V::Text(String::new())),
                ("feedback_hash", V::Bytes(vec![0; 32])),
            ],
        )
        .await;
        expected.push(i.to_string());
    }
    for limit in [1, 4, 7, 23, 200] {
        let (items, pages) = all_pages(&pool, &feedback_uri(5, &format!("?limit={limit}"))).await;
        let values: Vec<String> = items.iter().map(|i| i["value"].as_str().unwrap().to_owned()).collect();
        assert_eq!(values, expected, "limit {limit}");
        assert_eq!(pages, 23usize.div_ceil(limit), "limit {limit}");
    }
    // The filter applies on every page.
    let (items, _) = all_pages(&pool, &feedback_uri(5, &format!("?limit=2&client={}", addr(0xa1)))).await;
    let values: Vec<&str> = items.iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["1", "5", "9", "13", "17", "21"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Validations
// ---------------------------------------------------------------------------------------------------------------

fn request_hash(agent: u64, n: u8) -> B256 {
    keccak256([agent as u8, n])
}

async fn validation_request(pool: &PgPool, agent: u64, n: u8, block: i64) {
    event(
        pool,
        CHAIN,
        "validation_requested",
        VALIDATION,
        block,
        0,
        vec![
            ("validator", V::Bytes(addr(0x7a).to_vec())),
            ("agent_id", V::Numeric(agent.to_string())),
            ("request_uri", V::Text(format!("ipfs://request-{n}"))),
            ("request_hash", V::Bytes(request_hash(agent, n).to_vec())),
        ],
    )
    .await;
}

async fn validation_response(pool: &PgPool, agent: u64, n: u8, response: i64, block: i64, log: i64) {
    event(
        pool,
        CHAIN,
        "validation_responded",
        VALIDATION,
        block,
        log,
        vec![
            ("validator", V::Bytes(addr(0x7a).to_vec())),
            ("agent_id", V::Numeric(agent.to_string())),
            ("request_hash", V::Bytes(request_hash(agent, n).to_vec())),
            ("response", V::Int(response)),
            ("response_uri", V::Text(format!("ipfs://response-{n}-{response}"))),
            ("response_hash", V::Bytes(keccak256([n]).to_vec())),
            ("tag", V::Text("zk".into())),
        ],
    )
    .await;
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn validations_list_requests_with_their_latest_response(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 0, O0, 1).await;
    register_agent(&pool, 1, O1, 2).await;
    for n in 1..=5 {
        validation_request(&pool, 0, n, 10 + i64::from(n)).await;
    }
    validation_request(&pool, 1, 9, 16).await;
    validation_response(&pool, 0, 2, 40, 20, 0).await;
    validation_response(&pool, 0, 2, 100, 20, 3).await;
    validation_response(&pool, 0, 4, 0, 21, 0).await;

    let (status, page) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0/validations")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["validation_registries"], json!([VALIDATION]));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["validator"], addr(0x7a).to_string().to_lowercase());
    assert_eq!(items[0]["request_uri"], "ipfs://request-1");
    assert_eq!(items[0]["request_hash"], request_hash(0, 1).to_string());
    assert_eq!(items[0]["response"], Value::Null);
    assert_eq!(items[0]["chain"]["contract"], VALIDATION.to_string().to_lowercase());
    assert_eq!(items[1]["response"]["response"], 100);
    assert_eq!(items[1]["response"]["agent_id"], "0");
    assert_eq!(items[1]["response"]["response_uri"], "ipfs://response-2-100");
    assert_eq!(items[1]["response"]["tag"], "zk");
    assert_eq!(items[1]["response"]["chain"]["log_index"], 3);
    assert_eq!(items[3]["response"]["response"], 0);

    let (items, pages) = {
        let first = format!("/v1/agents/{CHAIN}/0/validations?limit=2");
        all_pages(&pool, &first).await
    };
    assert_eq!(pages, 3);
    let uris: Vec<&str> = items.iter().map(|i| i["request_uri"].as_str().unwrap()).collect();
    assert_eq!(
        uris,
        ["ipfs://request-1", "ipfs://request-2", "ipfs://request-3", "ipfs://request-4", "ipfs://request-5"]
    );

    // Responses need the confirmations too: head 99, so 80 confirmations reach block 20 but not 21.
    let (_, page) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0/validations?min_confirmations=80")).await;
    assert_eq!(page["items"][1]["response"]["response"], 100);
    assert_eq!(page["items"][3]["response"], Value::Null);
}

/// Validation request theft: an attacker copies agent 0's request hash for its own agent 1 and gets in first, so the
/// registry credits the validator's response to agent 1. The response is shown with the agent it names, under that
/// agent only; agent 0's request shows no response, so nobody reads the answer as agent 0's.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn a_stolen_request_hash_shows_the_agent_the_response_names(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 0, O0, 1).await;
    register_agent(&pool, 1, O1, 2).await;
    let copied = request_hash(0, 1);
    for (agent, block) in [(1u64, 10), (0, 11)] {
        event(
            &pool,
            CHAIN,
            "validation_requested",
            VALIDATION,
            block,
            0,
            vec![
                ("validator", V::Bytes(addr(0x7a).to_vec())),
                ("agent_id", V::Numeric(agent.to_string())),
                ("request_uri", V::Text("ipfs://request-1".into())),
                ("request_hash", V::Bytes(copied.to_vec())),
            ],
        )
        .await;
    }
    // The registry's stored request is the attacker's: the response event names agent 1.
    validation_response(&pool, 1, 0, 95, 12, 0).await;
    sqlx::query("UPDATE validation_responded SET request_hash = $1")
        .bind(copied.to_vec())
        .execute(&pool)
        .await
        .unwrap();

    let (_, victim) = fresh(&pool, &format!("/v1/agents/{CHAIN}/0/validations")).await;
    assert_eq!(victim["agent"]["agent_id"], "0");
    assert_eq!(victim["items"][0]["request_hash"], copied.to_string());
    assert_eq!(victim["items"][0]["response"], Value::Null, "{victim}");
    let (_, attacker) = fresh(&pool, &format!("/v1/agents/{CHAIN}/1/validations")).await;
    assert_eq!(attacker["items"][0]["response"]["response"], 95, "{attacker}");
    assert_eq!(attacker["items"][0]["response"]["agent_id"], "1");
}

// ---------------------------------------------------------------------------------------------------------------
// Reputation
// ---------------------------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn every_algorithm_matches_core_on_the_same_input(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    let input = set.core_input(&hand_owners());
    let seeds = Params { seeds: vec![C1], ..Params::default() };
    let state = AppState::new(pool.clone());
    for algorithm in Algorithm::ALL {
        for agent in [0u64, 1, 2] {
            let query = format!("?algorithm={algorithm}&seeds={C1}");
            let (status, body) = get(&state, &reputation_uri(agent, &query)).await;
            assert_eq!(status, StatusCode::OK, "{algorithm} {agent}: {body}");
            let expected = core_score(&input, agent, algorithm, &Filter::default(), &seeds);
            assert_eq!(body["score"], expected, "{algorithm} agent {agent}");
            assert_eq!(
                body["agent"],
                json!({ "chain_id": CHAIN, "identity_registry": IDENTITY, "agent_id": agent.to_string() })
            );
            assert_eq!(body["reputation_registry"], REPUTATION.to_string().to_lowercase());
            assert_eq!(body["as_of_block"], NEXT_BLOCK - 1);
        }
    }

    // By hand, for agent 0 (C3's 10 is revoked): 80 + 90.5 + 70 + 100 = 340.5 over 4, in the most common
    // decimals (0), truncated: 85.
    let (_, body) = get(&state, &reputation_uri(0, "")).await;
    assert_eq!(body["score"]["params"]["algorithm"], "mean");
    assert_eq!(body["score"]["summary"], json!({ "count": 4, "summary_value": "85", "summary_decimals": 0 }));
    assert_eq!(body["score"]["score"], 85.0);
    assert_eq!(body["score"]["count"], 4);
    assert_eq!(body["score"]["distinct_clients"], 3);
    assert_eq!(body["score"]["verified_share"], 0.5);
    assert_eq!(body["score"]["agent_id"], "0");
    assert_eq!(body["score"]["status"], "scored");
    assert_eq!((&body["score"]["out_of_range"], &body["score"]["filtered_out"]), (&json!(0), &json!(1)));
    assert_eq!(body["score"]["agent_owner"], O0.to_string().to_lowercase());
    // Bayesian by hand: (10 * 50 + 340.5) / 14.
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=bayesian")).await;
    assert_eq!(body["score"]["score"].as_f64().unwrap(), (10.0 * 50.0 + 340.5) / 14.0);
    // Agent 2 has no feedback: insufficient evidence under every algorithm, the prior of bayesian included.
    let (_, body) = get(&state, &reputation_uri(2, "?algorithm=Bayesian&prior_mean=60&prior_weight=5")).await;
    assert_eq!(body["score"]["score"], Value::Null);
    assert_eq!(body["score"]["status"], "insufficient_evidence");
    assert_eq!(body["score"]["params"]["prior_mean"], 60.0);
    let (_, body) = get(&state, &reputation_uri(2, "")).await;
    assert_eq!(body["score"]["score"], Value::Null);
    assert_eq!(body["score"]["status"], "insufficient_evidence");
    // Decay: `now` defaults to the newest feedback of the whole registry (block 18), not of the agent.
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=decay&half_life_secs=60")).await;
    assert_eq!(body["score"]["params"]["now"], time(18));
    let params = Params { half_life_secs: 60, ..Params::default() };
    assert_eq!(body["score"], core_score(&input, 0, Algorithm::Decay, &Filter::default(), &params));
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=decay&half_life_secs=60&now=1700000500")).await;
    let params = Params { half_life_secs: 60, now: Some(1_700_000_500), ..Params::default() };
    assert_eq!(body["score"], core_score(&input, 0, Algorithm::Decay, &Filter::default(), &params));
    // Trust: the agent's reviewers other than C1 are unreached, so only C1's ratings count: (80 + 90.5) / 2.
    let (_, body) = get(&state, &reputation_uri(0, &format!("?algorithm=trust&seeds={C1}"))).await;
    assert!((body["score"]["score"].as_f64().unwrap() - 85.25).abs() < 1e-9, "{body}");
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn filters_apply_as_in_core(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    let input = set.core_input(&hand_owners());
    let state = AppState::new(pool.clone());
    let filters = [
        ("?tag1=quality".to_owned(), Filter { tag1: Some("quality".into()), ..Filter::default() }),
        ("?verified_only=true".to_owned(), Filter { verified_only: true, ..Filter::default() }),
        (format!("?clients={C2},{C2}"), Filter { clients: Some(vec![C2, C2]), ..Filter::default() }),
        (
            format!("?clients={C4},%20{C1}&tag1=quality"),
            Filter { clients: Some(vec![C4, C1]), tag1: Some("quality".into()), ..Filter::default() },
        ),
        ("?tag2=none".to_owned(), Filter { tag2: Some("none".into()), ..Filter::default() }),
    ];
    for (query, filter) in &filters {
        for algorithm in Algorithm::ALL {
            let uri = reputation_uri(0, &format!("{query}&algorithm={algorithm}&seeds={C1},{C2}"));
            let (status, body) = get(&state, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            let params = Params { seeds: vec![C1, C2], ..Params::default() };
            assert_eq!(body["score"], core_score(&input, 0, algorithm, filter, &params), "{uri}");
        }
    }
    // By hand: tag1=quality keeps 80, 70 and 100 (C3's is revoked): 250 / 3 truncates to 83.
    let (_, body) = get(&state, &reputation_uri(0, "?tag1=quality")).await;
    assert_eq!(body["score"]["summary"]["summary_value"], "83");
    // verified_only keeps C2's 70 and C4's 100.
    let (_, body) = get(&state, &reputation_uri(0, "?verified_only=true")).await;
    assert_eq!(body["score"]["summary"], json!({ "count": 2, "summary_value": "85", "summary_decimals": 0 }));
    assert_eq!(body["score"]["verified_share"], 1.0);
    // A client listed twice counts twice, as in getSummary.
    let (_, body) = get(&state, &reputation_uri(0, &format!("?clients={C2},{C2}"))).await;
    assert_eq!(body["score"]["summary"], json!({ "count": 2, "summary_value": "70", "summary_decimals": 0 }));
    assert_eq!(body["score"]["params"]["filter"]["clients"], json!([C2, C2]));
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn trust_seeds_come_from_the_query_or_the_server(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    let input = set.core_input(&hand_owners());
    let trust = |seeds: Vec<Address>, agent: u64| {
        core_score(&input, agent, Algorithm::Trust, &Filter::default(), &Params { seeds, ..Params::default() })
    };

    // No seeds anywhere: no trust, no score.
    let plain = AppState::new(pool.clone());
    let (_, body) = get(&plain, &reputation_uri(1, "?algorithm=trust")).await;
    assert_eq!(body["score"]["score"], Value::Null);
    assert_eq!(body["score"]["params"]["seeds"], json!([]));
    assert_eq!(body["score"], trust(vec![], 1));

    // The server's seeds apply when the query names none; the query's replace them.
    let seeded = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
    for agent in [0, 1, 2] {
        let (_, body) = get(&seeded, &reputation_uri(agent, "?algorithm=trust")).await;
        assert_eq!(body["score"], trust(vec![C1], agent), "agent {agent}");
        let (_, body) = get(&seeded, &reputation_uri(agent, "?algorithm=trust&seeds=")).await;
        assert_eq!(body["score"], trust(vec![C1], agent), "agent {agent}");
        let (_, body) = get(&seeded, &reputation_uri(agent, &format!("?algorithm=trust&seeds={C2}"))).await;
        assert_eq!(body["score"], trust(vec![C2], agent), "agent {agent}");
    }
    let (_, body) = get(&seeded, &reputation_uri(1, "?algorithm=trust")).await;
    assert_eq!(body["score"]["params"]["seeds"], json!([C1]));
    assert!(body["score"]["trust"]["owner_trust"].as_f64().unwrap() > 0.0, "{body}");
    let (_, body) = get(&seeded, &reputation_uri(0, &format!("?algorithm=trust&seeds={C2}"))).await;
    assert!((body["score"]["score"].as_f64().unwrap() - 70.0).abs() < 1e-9, "{body}");
    // The parameters are echoed and change the answer.
    let (_, body) = get(&seeded, &reputation_uri(1, "?algorithm=trust&alpha=0.5&max_iterations=3&tolerance=0")).await;
    let params = Params { seeds: vec![C1], alpha: 0.5, max_iterations: 3, tolerance: 0.0, ..Params::default() };
    assert_eq!(body["score"], core_score(&input, 1, Algorithm::Trust, &Filter::default(), &params));
    assert_eq!(body["score"]["trust"]["iterations"], 3);
    assert_eq!(body["score"]["trust"]["converged"], false);
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn reputation_errors(pool: PgPool) {
    seed_hand_set(&pool).await;
    // An identity registry no reputation registry rates.
    let lonely = addr(0x50);
    sqlx::query("INSERT INTO indexer_cursors (chain_id, contract, next_block, kind) VALUES ($1, $2, 10, 'identity')")
        .bind(CHAIN)
        .bind(lonely.to_vec())
        .execute(&pool)
        .await
        .unwrap();
    register_agent_in(&pool, lonely, 0, O0, 5, 0).await;

    let cases = [
        ("?algorithm=median", StatusCode::BAD_REQUEST, "invalid_algorithm"),
        ("?algorithm=bayesian&prior_weight=-1", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?algorithm=bayesian&prior_mean=NaN", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?algorithm=decay&half_life_secs=0", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?algorithm=trust&alpha=1.5", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?algorithm=trust&max_iterations=10001", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?algorithm=trust&tolerance=-1", StatusCode::BAD_REQUEST, "invalid_param"),
        ("?prior_mean=high", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?now=yesterday", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?verified_only=yes", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?clients=", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?clients=0x1234", StatusCode::BAD_REQUEST, "invalid_address"),
        ("?algorithm=trust&seeds=0x1234", StatusCode::BAD_REQUEST, "invalid_address"),
        ("?min_confirmations=3", StatusCode::BAD_REQUEST, "invalid_query"),
        ("?registry=0x50", StatusCode::BAD_REQUEST, "invalid_address"),
    ];
    for (query, expected, code) in cases {
        let (status, body) = fresh(&pool, &reputation_uri(0, query)).await;
        assert_eq!(status, expected, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}");
    }
    let (_, body) = fresh(&pool, &reputation_uri(0, "?algorithm=median")).await;
    assert_eq!(body["error"]["message"], "unknown algorithm \"median\"; expected one of mean, bayesian, decay, trust");
    let (_, body) = fresh(&pool, &reputation_uri(0, "?algorithm=decay&half_life_secs=0")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("half_life_secs"), "{body}");

    let (status, body) = fresh(&pool, &reputation_uri(0, &format!("?registry={lonely}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no indexed reputation registry"), "{body}");
    let (status, _) = fresh(&pool, &reputation_uri(9, "")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------------------------
// Leaderboard
// ---------------------------------------------------------------------------------------------------------------

/// The hand-made set plus agents 3..=9, each rated once by C1 with ties on the score.
async fn seed_board(pool: &PgPool) -> (HandSet, HashMap<u64, Address>) {
    let mut set = seed_hand_set(pool).await;
    let mut owners = hand_owners();
    for agent in 3..=9u64 {
        let owner = addr(0x10 + agent as u8);
        register_agent(pool, agent, owner, 5 + agent as i64).await;
        owners.insert(agent, owner);
        let f = fb(agent, C1, 1, (agent % 3) as i128 * 40, 0, "quality", 20 + agent as i64);
        give(pool, &f).await;
        set.given.push(f);
    }
    // Agent 10 is registered and never rated.
    register_agent(pool, 10, addr(0x30), 30).await;
    owners.insert(10, addr(0x30));
    (set, owners)
}

/// Core's leaderboard over the whole input, with every registered agent.
fn core_board(input: &[Feedback], registered: &[u64], algorithm: Algorithm, params: &Params) -> Vec<Value> {
    let scores: Vec<Score> = registered
        .iter()
        .map(|&id| prova_reputation::score_agent(input, U256::from(id), &Filter::default(), algorithm, params).unwrap())
        .collect();
    prova_reputation::leaderboard(scores).iter().map(as_read).collect()
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn leaderboard_is_core_order_across_pages(pool: PgPool) {
    let (set, owners) = seed_board(&pool).await;
    let input = set.core_input(&owners);
    let registered: Vec<u64> = (0..=10).collect();
    for algorithm in Algorithm::ALL {
        let params = Params { seeds: vec![C1], ..Params::default() };
        let expected = core_board(&input, &registered, algorithm, &params);
        for limit in [1, 3, 200] {
            let first = format!("/v1/agents?sort=reputation&algorithm={algorithm}&seeds={C1}&limit={limit}");
            let (items, pages) = all_pages(&pool, &first).await;
            assert_eq!(pages, 11usize.div_ceil(limit), "{algorithm} limit {limit}");
            let scores: Vec<Value> = items.iter().map(|i| i["score"].clone()).collect();
            assert_eq!(scores, expected, "{algorithm} limit {limit}");
            let ranks: Vec<u64> = items.iter().map(|i| i["rank"].as_u64().unwrap()).collect();
            assert_eq!(ranks, (1..=11).collect::<Vec<u64>>());
        }
    }
    // Items carry the agent's card and its registration pointer.
    let (status, page) = fresh(&pool, "/v1/agents?sort=reputation&limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["sort"], "reputation");
    assert_eq!(page["reputation_registry"], REPUTATION.to_string().to_lowercase());
    assert_eq!(page["as_of_block"], NEXT_BLOCK - 1);
    let top = &page["items"][0];
    // Mean: agent 0 has 85, agents 5 and 8 have 80, agent 1 has (50 + 95 + 100) / 3 = 81.
    assert_eq!(top["agent"], json!({ "chain_id": CHAIN, "identity_registry": IDENTITY, "agent_id": "0" }));
    assert_eq!(top["owner"], O0.to_string().to_lowercase());
    assert_eq!(top["agent_uri"], "ipfs://agent-0");
    assert_eq!(top["model_version"], Value::Null);
    assert_eq!(top["registered"]["block_number"], 2);
    assert_eq!(top["score"]["score"], 85.0);
    // Every agent's place agrees with its own reputation route.
    let (_, all) = fresh(&pool, "/v1/agents?sort=reputation&algorithm=bayesian&limit=200").await;
    for item in all["items"].as_array().unwrap() {
        let agent = item["agent"]["agent_id"].as_str().unwrap();
        let (_, one) = fresh(&pool, &format!("/v1/agents/{CHAIN}/{agent}/reputation?algorithm=bayesian")).await;
        assert_eq!(one["score"], item["score"], "agent {agent}");
    }
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn agents_by_registration(pool: PgPool) {
    let (_, _) = seed_board(&pool).await;
    metadata(&pool, 4, "prova.modelVersion", h(4).as_slice(), 40).await;
    let (items, pages) = all_pages(&pool, "/v1/agents?limit=4").await;
    assert_eq!(pages, 3);
    let ids: Vec<&str> = items.iter().map(|i| i["agent"]["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);
    assert!(items.iter().all(|i| i["score"].is_null() && i["rank"].is_null()));
    assert_eq!(items[4]["model_version"], h(4).to_string());
    assert_eq!(items[4]["owner"], addr(0x14).to_string().to_lowercase());
    let (_, page) = fresh(&pool, "/v1/agents").await;
    assert_eq!(page["sort"], "registered");
    assert_eq!(page["reputation_registry"], Value::Null);
    let (_, page) = fresh(&pool, "/v1/agents?chain_id=1").await;
    assert_eq!(page["items"], json!([]));

    for (query, code) in [
        ("?sort=best", "invalid_query"),
        ("?limit=0", "invalid_query"),
        ("?limit=ten", "invalid_query"),
        ("?chain_id=x", "invalid_query"),
        ("?cursor=12", "invalid_cursor"),
        ("?sort=reputation&cursor=12", "invalid_cursor"),
        ("?sort=reputation&algorithm=best", "invalid_algorithm"),
        ("?registry=0x1", "invalid_address"),
    ] {
        let (status, body) = fresh(&pool, &format!("/v1/agents{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}");
    }
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn leaderboard_needs_one_chain(pool: PgPool) {
    seed_hand_set(&pool).await;
    setup_chain(&pool, 1, IDENTITY, REPUTATION, VALIDATION).await;
    let (status, body) = fresh(&pool, "/v1/agents?sort=reputation").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("chain_id"));
    let (status, body) = fresh(&pool, &format!("/v1/agents?sort=reputation&chain_id={CHAIN}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    let (status, body) = fresh(&pool, "/v1/agents?sort=reputation&chain_id=5").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

// ---------------------------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn new_events_are_seen_once_the_cursor_moves(pool: PgPool) {
    let set = seed_hand_set(&pool).await;
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
    let (_, body) = get(&state, &reputation_uri(0, "")).await;
    assert_eq!(body["score"]["summary"]["summary_value"], "85");
    let (_, body) = get(&state, &reputation_uri(0, "")).await;
    assert_eq!(body["score"]["summary"]["summary_value"], "85");
    let stats = state.reputation.stats();
    assert_eq!((stats.full_loads, stats.hits), (1, 1));

    // A new feedback (C4 rates 0) at block 100, committed with the cursor.
    let new = fb(0, C4, 2, 0, 0, "quality", NEXT_BLOCK);
    give(&pool, &new).await;
    move_cursor(&pool, REPUTATION, NEXT_BLOCK + 1).await;
    let (_, body) = get(&state, &reputation_uri(0, "")).await;
    // (340.5 + 0) / 5 = 68.1.
    assert_eq!(body["score"]["summary"], json!({ "count": 5, "summary_value": "68", "summary_decimals": 0 }));
    assert_eq!(body["as_of_block"], NEXT_BLOCK);
    assert_eq!(state.reputation.stats().full_loads, 2);

    // Trust is cached per parameter set; a transfer in the identity registry changes the graph: agent 1 now
    // belongs to C1, whose own rating of it no longer counts.
    let (_, before) = get(&state, &reputation_uri(1, "?algorithm=trust")).await;
    let (_, again) = get(&state, &reputation_uri(1, "?algorithm=trust")).await;
    assert_eq!(before, again);
    let computations = state.reputation.stats().computations;
    transfer_in(&pool, IDENTITY, 1, O1, C1, NEXT_BLOCK, 0).await;
    move_cursor(&pool, IDENTITY, NEXT_BLOCK + 1).await;
    let (_, after) = get(&state, &reputation_uri(1, "?algorithm=trust")).await;
    assert_eq!(after["score"]["agent_owner"], C1.to_string().to_lowercase());
    assert_ne!(after["score"], before["score"]);
    assert_eq!(state.reputation.stats().computations, computations + 1);
    let mut owners = hand_owners();
    owners.insert(1, C1);
    let mut grown = HandSet { given: set.given.clone(), revoked: set.revoked.clone(), verified: set.verified.clone() };
    grown.given.push(new);
    // The feedback of agent 1 was given while O1 owned it: its trust still goes to O1.
    let input = grown.core_input_then(&owners, &hand_owners());
    let params = Params { seeds: vec![C1], ..Params::default() };
    assert_eq!(after["score"], core_score(&input, 1, Algorithm::Trust, &Filter::default(), &params));
}

/// Records the hash the indexer keeps for the block below each cursor.
async fn keep_block(pool: &PgPool, contract: Address, block: i64, fork: u8) {
    sqlx::query(
        "INSERT INTO indexed_blocks (chain_id, contract, block_number, block_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (chain_id, contract, block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash",
    )
    .bind(CHAIN)
    .bind(contract.to_vec())
    .bind(block)
    .bind(block_hash(block, fork).to_vec())
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn forward_moves_are_read_as_deltas_and_reorgs_in_full(pool: PgPool) {
    seed_hand_set(&pool).await;
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, NEXT_BLOCK - 1, 0).await;
    }
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
    let queries = ["", "?algorithm=bayesian", "?algorithm=decay", "?algorithm=trust", "?algorithm=trust&tag1=quality"];
    // Every answer of the cached state equals a fresh state's.
    let agree = |state: AppState, pool: PgPool| async move {
        let fresh_state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
        for agent in [0, 1, 2] {
            for query in queries {
                let (_, cached) = get(&state, &reputation_uri(agent, query)).await;
                let (_, fresh) = get(&fresh_state, &reputation_uri(agent, query)).await;
                assert_eq!(cached, fresh, "agent {agent} {query}");
            }
        }
        let (_, cached) = get(&state, "/v1/agents?sort=reputation&algorithm=trust").await;
        let (_, fresh) = get(&fresh_state, "/v1/agents?sort=reputation&algorithm=trust").await;
        assert_eq!(cached, fresh);
        cached
    };
    agree(state.clone(), pool.clone()).await;
    assert_eq!(state.reputation.stats().full_loads, 1);

    // Blocks 100..=101: a feedback, a revocation and a receipt of older feedback, and a new agent.
    give(&pool, &fb(2, C2, 1, 40, 0, "quality", 100)).await;
    mark(&pool, "feedback_revoked", &fb(0, C1, 1, 80, 0, "quality", 10), 101, 0).await;
    mark(&pool, "feedback_verified", &fb(1, C1, 1, 50, 0, "quality", 16), 101, 1).await;
    register_agent(&pool, 3, O0, 100).await;
    transfer_in(&pool, IDENTITY, 1, O1, O2, 101, 0).await;
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, 101, 0).await;
        move_cursor(&pool, contract, 102).await;
    }
    let board = agree(state.clone(), pool.clone()).await;
    assert_eq!(board["items"].as_array().unwrap().len(), 4);
    let stats = state.reputation.stats();
    assert_eq!((stats.full_loads, stats.delta_loads), (1, 1));

    // Empty blocks: the set and its scores are kept.
    let computations = state.reputation.stats().computations;
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, 102, 0).await;
        move_cursor(&pool, contract, 103).await;
    }
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=trust")).await;
    assert_eq!(body["as_of_block"], 102);
    let stats = state.reputation.stats();
    assert_eq!((stats.full_loads, stats.delta_loads, stats.computations), (1, 2, computations));

    // A reorg replaces block 101 (the indexer rewinds to 101 and re-indexes to the same cursor): the block below the
    // old cursor has another hash, so the set is read again in full.
    for table in ["feedback_given", "feedback_revoked", "feedback_verified"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE block_number >= 101")).execute(&pool).await.unwrap();
    }
    give(&pool, &fb(2, C3, 1, 5, 0, "quality", 101)).await;
    keep_block(&pool, REPUTATION, 101, 1).await;
    keep_block(&pool, REPUTATION, 102, 1).await;
    move_cursor(&pool, REPUTATION, 103).await;
    agree(state.clone(), pool.clone()).await;
    let (_, body) = get(&state, &reputation_uri(2, "")).await;
    assert_eq!(body["score"]["summary"], json!({ "count": 2, "summary_value": "22", "summary_decimals": 0 }));
    assert_eq!(state.reputation.stats().full_loads, 2);

    // A rewind below the old cursor is never read as a delta either.
    sqlx::query("DELETE FROM feedback_given WHERE block_number >= 100").execute(&pool).await.unwrap();
    move_cursor(&pool, REPUTATION, 100).await;
    let (_, body) = get(&state, &reputation_uri(2, "")).await;
    assert_eq!(body["score"]["count"], 0);
    assert_eq!(body["as_of_block"], 99);
    assert_eq!(state.reputation.stats().full_loads, 3);

    // Feedback for an agent the identity index does not know yet is left out until its registration is indexed.
    give(&pool, &fb(4, C1, 1, 60, 0, "quality", 100)).await;
    keep_block(&pool, REPUTATION, 100, 2).await;
    move_cursor(&pool, REPUTATION, 101).await;
    agree(state.clone(), pool.clone()).await;
    let (_, board) = get(&state, "/v1/agents?sort=reputation").await;
    assert_eq!(board["items"].as_array().unwrap().len(), 4);
    register_agent(&pool, 4, O1, 103).await;
    keep_block(&pool, IDENTITY, 103, 0).await;
    move_cursor(&pool, IDENTITY, 104).await;
    agree(state.clone(), pool.clone()).await;
    let fresh_state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
    for query in ["", "?algorithm=trust", "?algorithm=decay"] {
        let (_, cached) = get(&state, &reputation_uri(4, query)).await;
        let (_, fresh) = get(&fresh_state, &reputation_uri(4, query)).await;
        assert_eq!(cached, fresh, "{query}");
        assert_eq!(cached["score"]["count"], 1);
    }
    let stats = state.reputation.stats();
    assert_eq!((stats.full_loads, stats.delta_loads), (3, 4));
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn unrated_agents_get_the_whole_graphs_trust_details(pool: PgPool) {
    let (set, owners) = seed_board(&pool).await;
    let input = set.core_input(&owners);
    let state = AppState::new(pool.clone());
    // Agent 10 has no feedback; its trust details still come from the propagation over the whole graph.
    let params = Params { seeds: vec![C1, C2], ..Params::default() };
    let (_, body) = get(&state, &reputation_uri(10, &format!("?algorithm=trust&seeds={C1},{C2}"))).await;
    assert_eq!(body["score"], core_score(&input, 10, Algorithm::Trust, &Filter::default(), &params));
    assert!(body["score"]["trust"]["iterations"].as_u64().unwrap() > 0);
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn out_of_range_values_are_counted_not_scored(pool: PgPool) {
    let mut set = seed_hand_set(&pool).await;
    // One address rates agent 0 type(int128).max and agent 1 type(int128).min (18 decimals: -1.7e20).
    let attacker = addr(0x66);
    for f in [fb(0, attacker, 1, i128::MAX, 0, "quality", 20), fb(1, attacker, 1, i128::MIN, 18, "quality", 21)] {
        give(&pool, &f).await;
        set.given.push(f);
    }
    let input = set.core_input(&hand_owners());
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1, attacker]);
    let params = Params { seeds: vec![C1, attacker], ..Params::default() };
    for algorithm in Algorithm::ALL {
        for agent in [0, 1] {
            let (_, body) = get(&state, &reputation_uri(agent, &format!("?algorithm={algorithm}"))).await;
            assert_eq!(body["score"], core_score(&input, agent, algorithm, &Filter::default(), &params));
            assert_eq!(body["score"]["out_of_range"], 1, "{algorithm} {agent}");
            let score = body["score"]["score"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&score), "{algorithm} {agent}: {score}");
        }
    }
    // mean: the score is still 85 (340.5 / 4); the summary is the contract's, the extreme value included.
    let (_, body) = get(&state, &reputation_uri(0, "")).await;
    assert_eq!(body["score"]["score"], 85.0);
    assert_eq!(body["score"]["count"], 4);
    assert_eq!(body["score"]["summary"]["count"], 5);
    let (_, board) = get(&state, "/v1/agents?sort=reputation").await;
    let ids: Vec<&str> =
        board["items"].as_array().unwrap().iter().map(|i| i["agent"]["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["0", "1", "2"]);
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn trust_stays_with_the_owner_a_rating_was_given_to(pool: PgPool) {
    // A seed rates agent 0 of the honest H; agent 0 goes to the attacker M, who rates its Sybil Y's agent 1, and Y
    // rates M's agent 2.
    let (seed, h, m, y) = (addr(0x51), addr(0x52), addr(0x53), addr(0x54));
    setup(&pool).await;
    register_agent(&pool, 0, h, 2).await;
    register_agent(&pool, 1, y, 3).await;
    register_agent(&pool, 2, m, 4).await;
    let before_sale = fb(0, seed, 1, 100, 0, "", 10);
    give(&pool, &before_sale).await;
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, NEXT_BLOCK - 1, 0).await;
    }
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![seed]);
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=trust")).await;
    assert!(body["score"]["trust"]["owner_trust"].as_f64().unwrap() > 0.0, "H earned trust: {body}");

    // Block 100: the seed rates agent 0 again (log 1), then agent 0 is transferred to M (log 2), in one block.
    // Blocks 101 and 102: M rates agent 1, Y rates agent 2.
    let same_block = fb(0, seed, 2, 100, 0, "", 100);
    give_at(&pool, &same_block, 1).await;
    transfer_in(&pool, IDENTITY, 0, h, m, 100, 2).await;
    let (m_rates_y, y_rates_m) = (fb(1, m, 1, 100, 0, "", 101), fb(2, y, 1, 100, 0, "", 102));
    give(&pool, &m_rates_y).await;
    give(&pool, &y_rates_m).await;
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, 102, 0).await;
        move_cursor(&pool, contract, 103).await;
    }

    let fresh_state = AppState::new(pool.clone()).with_trust_seeds(vec![seed]);
    for agent in [0, 1, 2] {
        let (_, cached) = get(&state, &reputation_uri(agent, "?algorithm=trust")).await;
        let (_, fresh) = get(&fresh_state, &reputation_uri(agent, "?algorithm=trust")).await;
        assert_eq!(cached, fresh, "agent {agent}");
    }
    assert_eq!(state.reputation.stats().delta_loads, 1);
    // M and Y gained nothing: their agents have no trusted evidence.
    for agent in [1, 2] {
        let (_, body) = get(&state, &reputation_uri(agent, "?algorithm=trust")).await;
        let score = &body["score"];
        assert_eq!(score["status"], "insufficient_evidence", "agent {agent}: {body}");
        assert_eq!(score["score"], Value::Null);
        assert_eq!((&score["count"], &score["trust"]["trusted_records"]), (&json!(1), &json!(0)), "agent {agent}");
    }
    let (_, body) = get(&state, &reputation_uri(0, "?algorithm=trust")).await;
    assert_eq!(body["score"]["agent_owner"], m.to_string().to_lowercase());
    assert_eq!(body["score"]["trust"]["owner_trust"], 0.0);
    assert_eq!(body["score"]["score"], 100.0, "the agent keeps its reviews");

    // Exactly core's answer with both ratings of agent 0 keyed to H, the owner when they were given.
    let record = |f: &Fb, now: Address, then: Address| Feedback {
        agent_id: U256::from(f.agent),
        agent_owner: now,
        owner_at_feedback: then,
        client: f.client,
        feedback_index: f.index,
        value: f.value,
        decimals: f.decimals,
        tag1: f.tag1.into(),
        tag2: f.tag2.into(),
        revoked: false,
        verified: false,
        timestamp: time(f.block),
    };
    let input =
        [record(&before_sale, m, h), record(&same_block, m, h), record(&m_rates_y, y, y), record(&y_rates_m, m, m)];
    let params = Params { seeds: vec![seed], ..Params::default() };
    for agent in [0, 1, 2] {
        let (_, body) = get(&state, &reputation_uri(agent, "?algorithm=trust")).await;
        assert_eq!(body["score"], core_score(&input, agent, Algorithm::Trust, &Filter::default(), &params));
    }
}

#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn identity_lists_generic_metadata_by_key(pool: PgPool) {
    setup(&pool).await;
    register_agent(&pool, 7, O0, 10).await;
    metadata(&pool, 7, "description", b"hello", 11).await;
    metadata(&pool, 7, "description", "h\u{e9}llo v2".as_bytes(), 12).await;
    metadata(&pool, 7, "blob", &[0xff, 0x00, 0x01], 13).await;
    metadata(&pool, 7, "agentWallet", addr(0x99).as_slice(), 14).await;
    metadata(&pool, 7, "prova.modelVersion", h(1).as_slice(), 15).await;
    metadata(&pool, 7, "Zed", b"", 16).await;
    let uri = format!("/v1/agents/{CHAIN}/7");

    let (status, body) = fresh(&pool, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // By key in byte order; the reserved keys are `wallet` and `model`, not listed again.
    let keys: Vec<&str> = body["metadata"].as_array().unwrap().iter().map(|m| m["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["Zed", "blob", "description"]);
    assert_eq!(body["metadata_truncated"], false);
    let entry = |i: usize| body["metadata"][i].clone();
    assert_eq!((entry(0)["value"].clone(), entry(0)["value_utf8"].clone()), (json!("0x"), json!("")));
    assert_eq!((entry(1)["value"].clone(), entry(1)["value_utf8"].clone()), (json!("0xff0001"), Value::Null));
    assert_eq!(entry(2)["value"], format!("0x{}", alloy::hex::encode("h\u{e9}llo v2")));
    assert_eq!(entry(2)["value_utf8"], "h\u{e9}llo v2");
    assert_eq!(entry(2)["chain"]["block_number"], 12);
    assert_eq!(entry(2)["chain"]["contract"], IDENTITY.to_string().to_lowercase());
    assert_eq!(body["wallet"], addr(0x99).to_string().to_lowercase());

    // 86 confirmations reach block 14: Zed is not there yet.
    let (_, body) = fresh(&pool, &format!("{uri}?min_confirmations=86")).await;
    let keys: Vec<&str> = body["metadata"].as_array().unwrap().iter().map(|m| m["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["blob", "description"]);

    // At most 100 keys are listed.
    register_agent(&pool, 8, O0, 17).await;
    for k in 0..=100 {
        metadata(&pool, 8, &format!("k{k:03}"), b"v", 20 + k).await;
    }
    let (_, body) = fresh(&pool, &format!("/v1/agents/{CHAIN}/8")).await;
    let items = body["metadata"].as_array().unwrap();
    assert_eq!((items.len(), &body["metadata_truncated"]), (100, &json!(true)));
    assert_eq!(items[99]["key"], "k099");
}

// ---------------------------------------------------------------------------------------------------------------
// Limits of scoring (docs/api-limits.md)
// ---------------------------------------------------------------------------------------------------------------

/// The attack: every iteration the library allows and no early stop, over the whole registry. Past the work limit it
/// is refused before any computation, on the agent route and the leaderboard alike.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn trust_work_past_the_limit_is_refused(pool: PgPool) {
    use crate::routes::agents::cache::ScoringLimits;
    seed_hand_set(&pool).await;
    let limits = ScoringLimits { max_trust_work: 20_000, max_concurrent: 1 };
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]).with_reputation_limits(limits);
    let attack = "?algorithm=trust&max_iterations=10000&tolerance=0";
    for uri in [reputation_uri(1, attack), format!("/v1/agents?sort=reputation&{}", &attack[1..])] {
        let (status, body) = get(&state, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["code"], "work_limit", "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("ask for at most"), "{body}");
    }
    assert_eq!(state.reputation.stats().computations, 0);
    // The default 100 iterations fit this small registry.
    let (status, body) = get(&state, &reputation_uri(1, "?algorithm=trust&tolerance=0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["score"]["trust"]["iterations"], 100);
    assert_eq!(state.reputation.stats().computations, 1);
}

/// The attack: a new value of a parameter in every request (`alpha=0.15000001`, a prior mean a hair off, `now` a
/// second later) to make each one score every agent again. Values that differ by nothing meaningful are quantized
/// to one, so they share one computation and leave the other cached parameter sets in place.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn parameters_that_change_nothing_share_one_computation(pool: PgPool) {
    seed_hand_set(&pool).await;
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]);
    let computations = || state.reputation.stats().computations;
    let (_, first) = get(&state, &reputation_uri(1, "?algorithm=trust&alpha=0.15")).await;
    assert_eq!(computations(), 1);
    assert_eq!(first["score"]["params"]["alpha"], 0.15);
    for jitter in ["0.15000001", "0.1500004", "0.150000000001", "1.5e-1", "0.14999999"] {
        let (status, body) = get(&state, &reputation_uri(1, &format!("?algorithm=trust&alpha={jitter}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, first, "alpha={jitter}");
    }
    assert_eq!(computations(), 1);
    let (_, body) = get(&state, &reputation_uri(1, "?algorithm=trust&alpha=0.15&tolerance=3.7e-9")).await;
    assert_eq!(body["score"]["params"]["tolerance"], 1e-9);
    assert_eq!(computations(), 2);

    // Leaderboards of the other algorithms score every agent too.
    let board = |query: &str| format!("/v1/agents?sort=reputation&{query}");
    let (_, bayesian) = get(&state, &board("algorithm=bayesian&prior_mean=60&prior_weight=5")).await;
    let (_, again) = get(&state, &board("algorithm=bayesian&prior_mean=60.00001&prior_weight=5.0000001")).await;
    assert_eq!(bayesian, again);
    assert_eq!(computations(), 3);
    let (_, decay) = get(&state, &board("algorithm=decay&now=1700100000")).await;
    for later in [1_700_100_001, 1_700_100_300, 1_700_100_575] {
        let (_, again) = get(&state, &board(&format!("algorithm=decay&now={later}"))).await;
        assert_eq!(again, decay, "now={later}");
    }
    assert_eq!(computations(), 4);
    // A thousandth of the default half-life (30 days) is 2592 s; `now` is rounded down to a multiple of it.
    assert_eq!(decay["items"][0]["score"]["params"]["now"], 1_700_100_000 / 2592 * 2592);
    // The first parameter set was not pushed out by the jitter.
    get(&state, &reputation_uri(0, "?algorithm=trust&alpha=0.15000001")).await;
    assert_eq!(computations(), 4);
}

/// Scoring waits for one of the limited slots, and a request that gives up (here: its timeout) while waiting leaves
/// no computation behind: when the slot frees, nothing runs for it.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn scoring_gives_up_with_its_request(pool: PgPool) {
    use crate::routes::agents::cache::{DEFAULT_MAX_TRUST_WORK, ScoringLimits};
    seed_hand_set(&pool).await;
    let config = crate::ApiConfig { request_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    let limits = ScoringLimits { max_trust_work: DEFAULT_MAX_TRUST_WORK, max_concurrent: 1 };
    let state =
        AppState::new(pool.clone()).with_trust_seeds(vec![C1]).with_config(config).with_reputation_limits(limits);
    // The set is loaded; scoring is all that is left to do.
    let (status, _) = get(&state, &reputation_uri(0, "")).await;
    assert_eq!(status, StatusCode::OK);

    let busy = state.reputation.occupy_every_slot().await;
    for alpha in ["0.41", "0.42", "0.43"] {
        let (status, body) = get(&state, &reputation_uri(1, &format!("?algorithm=trust&alpha={alpha}"))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "timeout");
    }
    drop(busy);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stats = state.reputation.stats();
    assert_eq!((stats.computations, stats.running), (0, 0), "{stats:?}");

    // Asked again with a free slot, it is computed once.
    let (status, _) = get(&state, &reputation_uri(1, "?algorithm=trust&alpha=0.41")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.reputation.stats().computations, 1);
}

/// Many cache misses at once run one at a time under a limit of one.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn concurrent_cache_misses_run_under_the_concurrency_limit(pool: PgPool) {
    use crate::routes::agents::cache::{DEFAULT_MAX_TRUST_WORK, ScoringLimits};
    seed_hand_set(&pool).await;
    let limits = ScoringLimits { max_trust_work: DEFAULT_MAX_TRUST_WORK, max_concurrent: 1 };
    let state = AppState::new(pool.clone()).with_trust_seeds(vec![C1]).with_reputation_limits(limits);
    get(&state, &reputation_uri(0, "")).await;
    let requests: Vec<_> = (0..16)
        .map(|i| {
            let state = state.clone();
            tokio::spawn(async move {
                get(&state, &format!("/v1/agents?sort=reputation&algorithm=trust&alpha=0.{}", 10 + i)).await.0
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    let stats = state.reputation.stats();
    assert_eq!((stats.computations, stats.peak_running, stats.running), (16, 1, 0), "{stats:?}");
}

/// The score objects of `agents` under each query, then each query's leaderboard (agent and score of every item).
async fn score_answers(state: &AppState, agents: u64, queries: &[String]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for query in queries {
        let mut answers = Vec::new();
        for agent in 0..agents {
            let (status, body) = get(state, &reputation_uri(agent, query)).await;
            assert_eq!(status, StatusCode::OK, "{query} {agent}: {body}");
            answers.push(body["score"].clone());
        }
        let (status, board) = get(state, &format!("/v1/agents{}&sort=reputation&limit=200", query)).await;
        assert_eq!(status, StatusCode::OK, "{query}: {board}");
        for item in board["items"].as_array().unwrap() {
            answers.push(json!([item["agent"]["agent_id"], item["score"]]));
        }
        out.push(answers);
    }
    out
}

/// Random deltas through the index (new feedback, revocations, receipts, transfers, new agents, feedback for an agent
/// not registered yet), each read by the cache as a delta that updates the kept scoreboards: after every round, every
/// answer equals a fresh cache's (a full read and a full scoring) and core's `score_agent` over the whole set, and
/// differs from the round before (so a stale answer would be caught). `PROVA_DELTA_SEED` replays another draw.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn random_deltas_through_the_index_match_a_full_recompute(pool: PgPool) {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let seed = std::env::var("PROVA_DELTA_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_0019u64);
    println!("PROVA_DELTA_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    // Reviewers and owners share one pool of addresses, so trust flows over several steps.
    let member = |n: u64| addr(0x40 + n as u8);
    setup(&pool).await;
    let mut owners: HashMap<u64, Address> = HashMap::new();
    for agent in 0..8u64 {
        let owner = member(rng.gen_range(0..6));
        register_agent(&pool, agent, owner, 1 + agent as i64).await;
        owners.insert(agent, owner);
    }
    let mut given: Vec<Fb> = Vec::new();
    let mut indexes: HashMap<(u64, Address), u64> = HashMap::new();
    let mut draw = |rng: &mut StdRng, agent: u64, block: i64| {
        let client = member(rng.gen_range(0..14));
        let index = indexes.entry((agent, client)).or_insert(0);
        *index += 1;
        let (value, decimals) = match rng.gen_range(0..10) {
            0 => (rng.gen_range(-50..=1_050), 1),
            1 => (rng.gen_range(101..300), 0),
            _ => (rng.gen_range(0..=100), 0),
        };
        fb(agent, client, *index, value, decimals, ["quality", "speed"][rng.gen_range(0..2)], block)
    };
    for k in 0..60 {
        let agent = rng.gen_range(0..8);
        let f = draw(&mut rng, agent, 10 + k);
        give(&pool, &f).await;
        given.push(f);
    }
    for contract in [IDENTITY, REPUTATION] {
        keep_block(&pool, contract, NEXT_BLOCK - 1, 0).await;
    }
    let seeds = format!("{},{}", member(0), member(1));
    let queries: Vec<String> = vec![
        "?algorithm=mean".into(),
        "?algorithm=mean&verified_only=true".into(),
        "?algorithm=bayesian&prior_weight=3".into(),
        "?algorithm=decay&half_life_secs=600".into(),
        format!("?algorithm=trust&seeds={seeds}"),
        format!("?algorithm=trust&seeds={seeds}&tag1=quality&alpha=0.1"),
    ];
    let params = |query: &str| match query {
        q if q.contains("bayesian") => {
            (Algorithm::Bayesian, Filter::default(), Params { prior_weight: 3.0, ..Params::default() })
        }
        q if q.contains("decay") => {
            (Algorithm::Decay, Filter::default(), Params { half_life_secs: 600, ..Params::default() })
        }
        q if q.contains("tag1") => (
            Algorithm::Trust,
            Filter { tag1: Some("quality".into()), ..Filter::default() },
            Params { seeds: vec![member(0), member(1)], alpha: 0.1, ..Params::default() },
        ),
        q if q.contains("trust") => {
            (Algorithm::Trust, Filter::default(), Params { seeds: vec![member(0), member(1)], ..Params::default() })
        }
        q if q.contains("verified") => {
            (Algorithm::Mean, Filter { verified_only: true, ..Filter::default() }, Params::default())
        }
        _ => (Algorithm::Mean, Filter::default(), Params::default()),
    };

    let state = AppState::new(pool.clone());
    let mut agents = 8u64;
    let mut before = score_answers(&state, agents, &queries).await;
    let mut moved = vec![false; queries.len()];
    let rounds = 6;
    for round in 0..rounds {
        let block = NEXT_BLOCK + round;
        for k in 0..rng.gen_range(2..8i64) {
            match rng.gen_range(0..10) {
                0..=4 => {
                    // Sometimes for the agent registered next, which the identity index does not know yet.
                    let agent = rng.gen_range(0..=agents);
                    let f = draw(&mut rng, agent, block);
                    give_at(&pool, &f, k).await;
                    given.push(f);
                }
                5 => mark(&pool, "feedback_revoked", &given[rng.gen_range(0..given.len())], block, 100 + k).await,
                6 => mark(&pool, "feedback_verified", &given[rng.gen_range(0..given.len())], block, 200 + k).await,
                7 | 8 => {
                    let agent = rng.gen_range(0..agents);
                    let to = member(rng.gen_range(0..14));
                    transfer_in(&pool, IDENTITY, agent, owners[&agent], to, block, 300 + k).await;
                    owners.insert(agent, to);
                }
                _ => {
                    let owner = member(rng.gen_range(0..6));
                    register_agent_in(&pool, IDENTITY, agents, owner, block, 400 + 2 * k).await;
                    owners.insert(agents, owner);
                    agents += 1;
                }
            }
        }
        for contract in [IDENTITY, REPUTATION] {
            keep_block(&pool, contract, block, 0).await;
            move_cursor(&pool, contract, block + 1).await;
        }
        let cached = score_answers(&state, agents, &queries).await;
        let fresh = score_answers(&AppState::new(pool.clone()), agents, &queries).await;
        for (q, query) in queries.iter().enumerate() {
            assert_eq!(cached[q], fresh[q], "round {round}, {query}: the cache differs from a full recompute");
            moved[q] |= before.get(q).is_some_and(|b| *b != cached[q]);
        }
        assert_ne!(cached, before, "round {round}: the delta changed no answer, so it tested nothing");
        before = cached;

        // Core over the whole set, as the API indexed it.
        let key = crate::routes::agents::cache::SetKey { chain_id: CHAIN, reputation: REPUTATION, identity: IDENTITY };
        let set = state.reputation.feedback_set(&pool, key).await.unwrap();
        let input = set.data().feedback();
        for (q, query) in queries.iter().enumerate() {
            let (algorithm, filter, params) = params(query);
            for agent in 0..agents {
                let expected = core_score(input, agent, algorithm, &filter, &params);
                assert_eq!(before[q][agent as usize], expected, "round {round}, {query}, agent {agent}");
            }
        }
    }
    assert!(moved.iter().all(|m| *m), "some query never changed: {moved:?}");
    let stats = state.reputation.stats();
    assert_eq!((stats.full_loads, stats.delta_loads), (1, rounds as u64), "{stats:?}");
    // Every ranking after a delta updated the previous round's scoreboard, but decay's when new feedback moved its
    // default `now` (a new parameter set).
    assert!(stats.updates >= rounds as u64 * (queries.len() as u64 - 1), "{stats:?}");
}
