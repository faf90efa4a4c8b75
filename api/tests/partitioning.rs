//! Leaf uploads and output lookups across the monthly partitions of `output_leaves` and `output_trees` (migration
//! 0011, `docs/partitioning.md`): across two months, after a month is detached (archived) and attached back, and
//! with no partition for the upload's month (the DEFAULT partition takes the rows).

use alloy::primitives::{Address, B256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use prova_api::routes::output_batches::{UPLOAD_SIGNATURE_HEADER, upload_signing_hash};
use prova_api::{AppState, app};
use prova_core::merkle::{MerkleTree, verify_proof};
use prova_core::outputs::OutputLeaf;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::types::chrono::NaiveDate;
use tower::ServiceExt;

const CHAIN: i64 = 31337;
const REGISTRY: [u8; 20] = [0xAA; 20];
const PUBLISHER: [u8; 20] = [0xBB; 20];
/// A fixed test key, the attestor of every batch here.
const ATTESTOR_KEY: &str = "59c6995e998f97a5a0044966f0945389dc9c86dae88c7a8412f4603b6b78690d";
/// The response of leaf 0 of every batch, so that one lookup finds a leaf in each.
const SHARED: &str = "the same answer";

fn attestor() -> PrivateKeySigner {
    ATTESTOR_KEY.parse().unwrap()
}

fn version() -> B256 {
    B256::repeat_byte(1)
}

/// The response of leaf `i` (after leaf 0) of batch `tag`.
fn answer(tag: &str, i: usize) -> String {
    format!("answer {i} of batch {tag}")
}

/// `n` leaves of batch `tag`: leaf 0 answers [`SHARED`], leaf `i` [`answer`]`(tag, i)`.
fn batch(tag: &str, n: usize) -> (Vec<OutputLeaf>, B256) {
    let leaves: Vec<OutputLeaf> = (0..n)
        .map(|i| {
            let response = if i == 0 { SHARED.to_owned() } else { answer(tag, i) };
            OutputLeaf::new(
                version(),
                format!("question {i}").as_bytes(),
                response.as_bytes(),
                1_700_000_000 + i as u64,
            )
        })
        .collect();
    let root = MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).unwrap().root();
    (leaves, root)
}

/// Seeds the `OutputsAttested` event anchoring `root` (`n` leaves) at `block`, and the registry's cursor.
async fn anchor(pool: &PgPool, root: B256, n: usize, block: i64) {
    sqlx::query(
        "INSERT INTO outputs_attested (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
           root, version_hash, publisher, attestor, leaf_count, window_start, window_end, batch_uri)
         VALUES ($1, $2, 2, $3, $4, $5, to_timestamp(1700000000 + $4 * 12), $2, $6, $7, $8, $9,
           1700000000, 1700000000 + $9, 'https://lab.example/batches/1.json')",
    )
    .bind(CHAIN)
    .bind(root.to_vec())
    .bind(REGISTRY.to_vec())
    .bind(block)
    .bind(vec![block as u8; 32])
    .bind(version().to_vec())
    .bind(PUBLISHER.to_vec())
    .bind(attestor().address().to_vec())
    .bind(n as i64)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block) VALUES ($1, $2, $3 + 1, $3)
         ON CONFLICT (chain_id, contract) DO UPDATE
           SET next_block = GREATEST(indexer_cursors.next_block, EXCLUDED.next_block),
               head_block = GREATEST(indexer_cursors.head_block, EXCLUDED.head_block)",
    )
    .bind(CHAIN)
    .bind(REGISTRY.to_vec())
    .bind(block)
    .execute(pool)
    .await
    .unwrap();
}

/// Sends a request to the app; returns the status and the JSON answer.
async fn send(pool: &PgPool, request: axum::http::request::Builder, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app(AppState::new(pool.clone())).oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// PUTs the leaves of `root`, signed by the attestor key.
async fn upload(pool: &PgPool, root: B256, leaves: &[OutputLeaf]) -> StatusCode {
    let digest = upload_signing_hash(CHAIN as u64, Address::from(REGISTRY), root);
    let signature = format!("0x{}", alloy::hex::encode(attestor().sign_hash_sync(&digest).unwrap().as_bytes()));
    let request = Request::builder()
        .method("PUT")
        .uri(format!("/v1/output-batches/{root}/leaves"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(UPLOAD_SIGNATURE_HEADER, signature);
    let (status, answer) = send(pool, request, serde_json::to_vec(&json!({ "leaves": leaves })).unwrap()).await;
    assert!(status.is_success(), "{status}: {answer}");
    status
}

/// `GET uri`, which must answer 200.
async fn get(pool: &PgPool, uri: &str) -> Value {
    let (status, answer) = send(pool, Request::builder().uri(uri), Vec::new()).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {answer}");
    answer
}

/// The `(root, leaf index)` of every attested output whose response is `response`, each proof checked against its
/// root; pages of `limit`.
async fn lookup(pool: &PgPool, response: &str, limit: u32) -> Vec<(B256, u64)> {
    let mut found = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(pool, &format!("/v1/outputs/{}?limit={limit}{cursor}", keccak256(response))).await;
        for item in page["items"].as_array().unwrap() {
            let leaf: OutputLeaf = serde_json::from_value(item["leaf"].clone()).unwrap();
            let root: B256 = serde_json::from_value(item["root"].clone()).unwrap();
            let proof: Vec<B256> = serde_json::from_value(item["proof"].clone()).unwrap();
            assert!(verify_proof(root, leaf.hash(), &proof), "{item}");
            assert_eq!(item["valid"], true, "{item}");
            found.push((root, item["leaf_index"].as_u64().unwrap()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return found,
        }
    }
}

/// The first day of this month (UTC, by the database's clock) and of the one before.
async fn this_and_last_month(pool: &PgPool) -> (NaiveDate, NaiveDate) {
    sqlx::query_as(
        "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::DATE,
                (date_trunc('month', now() AT TIME ZONE 'UTC') - INTERVAL '1 month')::DATE",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The partitions holding `root`'s leaves and tree.
async fn partitions_of(pool: &PgPool, root: B256) -> (Vec<String>, Vec<String>) {
    let of = |table: &str| format!("SELECT DISTINCT tableoid::REGCLASS::TEXT FROM {table} WHERE root = $1 ORDER BY 1");
    let leaves = sqlx::query_scalar(&of("output_leaves")).bind(root.to_vec()).fetch_all(pool).await.unwrap();
    let trees = sqlx::query_scalar(&of("output_trees")).bind(root.to_vec()).fetch_all(pool).await.unwrap();
    (leaves, trees)
}

/// Names `output_leaves_YYYY_MM` and `output_trees_YYYY_MM` of `month`.
fn month_tables(month: NaiveDate) -> (Vec<String>, Vec<String>) {
    let suffix = month.format("%Y_%m");
    (vec![format!("output_leaves_{suffix}")], vec![format!("output_trees_{suffix}")])
}

/// Moves batch `root` to the month before its upload's, as if it had been uploaded a month earlier: its upload
/// record, leaves and tree (Postgres moves updated rows between partitions).
async fn backdate(pool: &PgPool, root: B256) {
    for table in ["leaf_uploads", "output_leaves", "output_trees"] {
        sqlx::query(&format!("UPDATE {table} SET uploaded_at = uploaded_at - INTERVAL '1 month' WHERE root = $1"))
            .bind(root.to_vec())
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Uploads and lookups across two months' partitions; then last month is detached as `docs/partitioning.md`
/// says (archived): this month's outputs are answered as before, last month's are not found (an empty page, not an
/// error), its batch reports its leaves as not uploaded, and a repeated upload of it is answered as already stored
/// (its upload record stays). Attached back, last month's outputs are found again.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn lookups_span_months_and_skip_a_detached_one(pool: PgPool) {
    let (this_month, last_month) = this_and_last_month(&pool).await;
    let (old_leaves, old) = batch("old", 3);
    let (new_leaves, new) = batch("new", 4);
    anchor(&pool, old, 3, 10).await;
    anchor(&pool, new, 4, 11).await;
    assert_eq!(upload(&pool, old, &old_leaves).await, StatusCode::CREATED);
    prova_db::create_output_partitions(&pool, last_month).await.unwrap();
    backdate(&pool, old).await;
    assert_eq!(upload(&pool, new, &new_leaves).await, StatusCode::CREATED);
    assert_eq!(partitions_of(&pool, old).await, month_tables(last_month));
    assert_eq!(partitions_of(&pool, new).await, month_tables(this_month));

    // One response in both months: one page or pages of one, in (root, leaf index) order.
    let mut both = vec![(old, 0), (new, 0)];
    both.sort();
    assert_eq!(lookup(&pool, SHARED, 20).await, both);
    assert_eq!(lookup(&pool, SHARED, 1).await, both);
    assert_eq!(lookup(&pool, &answer("old", 2), 20).await, vec![(old, 2)]);
    assert_eq!(lookup(&pool, &answer("new", 3), 20).await, vec![(new, 3)]);
    assert_eq!(get(&pool, &format!("/v1/output-batches/{old}")).await["leaves_uploaded"], true);
    let page = get(&pool, &format!("/v1/outputs/{}", keccak256(answer("old", 2)))).await;
    let receipt = json!({ "receipt": page["items"][0]["receipt"] });

    // Archive last month: both tables' partitions detached in one transaction.
    let suffix = last_month.format("%Y_%m");
    let mut tx = pool.begin().await.unwrap();
    for statement in [
        "SET LOCAL lock_timeout = '2s'".to_owned(),
        format!("ALTER TABLE output_leaves DETACH PARTITION output_leaves_{suffix}"),
        format!("ALTER TABLE output_trees DETACH PARTITION output_trees_{suffix}"),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();

    assert_eq!(lookup(&pool, SHARED, 20).await, vec![(new, 0)]);
    assert_eq!(lookup(&pool, SHARED, 1).await, vec![(new, 0)]);
    assert_eq!(lookup(&pool, &answer("old", 2), 20).await, vec![]);
    assert_eq!(lookup(&pool, &answer("new", 3), 20).await, vec![(new, 3)]);
    assert_eq!(get(&pool, &format!("/v1/output-batches/{old}")).await["leaves_uploaded"], false);
    assert_eq!(get(&pool, &format!("/v1/output-batches/{new}")).await["leaves_uploaded"], true);
    assert_eq!(upload(&pool, old, &old_leaves).await, StatusCode::OK, "the upload record of the batch stays");
    // A receipt of the archived month still verifies: it needs the chain data, not the stored leaf.
    let request =
        Request::builder().method("POST").uri("/v1/outputs/verify").header(header::CONTENT_TYPE, "application/json");
    let (status, verdict) = send(&pool, request, serde_json::to_vec(&receipt).unwrap()).await;
    assert_eq!((status, &verdict["valid"]), (StatusCode::OK, &json!(true)), "{verdict}");
    let archived: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM output_leaves_{suffix}")).fetch_one(&pool).await.unwrap();
    assert_eq!(archived, 3, "the detached table keeps the month's leaves, ready to dump");

    // Restored: attached back, last month is answered again.
    for table in ["output_leaves", "output_trees"] {
        sqlx::query(&format!(
            "ALTER TABLE {table} ATTACH PARTITION {table}_{suffix} FOR VALUES FROM ('{last_month} 00:00+00') TO \
             ('{this_month} 00:00+00')"
        ))
        .execute(&pool)
        .await
        .unwrap();
    }
    assert_eq!(lookup(&pool, SHARED, 20).await, both);
    assert_eq!(lookup(&pool, &answer("old", 2), 20).await, vec![(old, 2)]);
}

/// With no partition for the upload's month, the upload still succeeds (its rows go to the DEFAULT partitions) and
/// is found; creating the month's partitions then moves the rows there, and they are still found.
#[sqlx::test(migrator = "prova_db::REGISTRY_MIGRATOR")]
async fn an_upload_without_its_month_s_partition_goes_to_default(pool: PgPool) {
    let (this_month, _) = this_and_last_month(&pool).await;
    let (leaves, root) = batch("early", 5);
    anchor(&pool, root, 5, 10).await;
    let suffix = this_month.format("%Y_%m");
    for table in ["output_leaves", "output_trees"] {
        sqlx::query(&format!("DROP TABLE {table}_{suffix}")).execute(&pool).await.unwrap();
    }

    assert_eq!(upload(&pool, root, &leaves).await, StatusCode::CREATED);
    let defaults = (vec!["output_leaves_default".to_owned()], vec!["output_trees_default".to_owned()]);
    assert_eq!(partitions_of(&pool, root).await, defaults);
    assert_eq!(lookup(&pool, &answer("early", 4), 20).await, vec![(root, 4)]);

    let created = prova_db::ensure_output_partitions(&pool, prova_db::OUTPUT_PARTITION_MONTHS_AHEAD).await.unwrap();
    assert_eq!(created, vec![format!("output_leaves_{suffix}"), format!("output_trees_{suffix}")]);
    assert_eq!(partitions_of(&pool, root).await, month_tables(this_month));
    assert_eq!(lookup(&pool, &answer("early", 4), 20).await, vec![(root, 4)]);
    assert_eq!(lookup(&pool, SHARED, 20).await, vec![(root, 0)]);
}
