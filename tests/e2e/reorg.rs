//! Reorgs on a real anvil: a model version indexed on a branch that anvil then drops (snapshot and revert) is
//! removed, the replacement branch is indexed, and the database equals a fresh read of the chain.

use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_e2e::Stack;
use prova_indexer::{Indexer, IndexerConfig};
use serde_json::Value;

fn request(version_hash: B256) -> PublishRequest {
    PublishRequest { commit: false, ..PublishRequest::new(version_hash, "acme/llm") }
}

async fn versions(stack: &Stack) -> anyhow::Result<Vec<B256>> {
    let rows: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT version_hash FROM model_version_registered ORDER BY block_number")
            .fetch_all(&stack.pool)
            .await?;
    Ok(rows.iter().map(|h| B256::from_slice(h)).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_branch_is_undone_and_the_new_one_indexed() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let attestor = stack.anvil_key(2);
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let config = IndexerConfig { start_block: stack.deploy_block, ..IndexerConfig::new(stack.registry) };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    indexer.sync_to_head().await?;

    // Branch A: v1, then two more blocks, indexed.
    let snapshot: Value = stack.admin.raw_request("evm_snapshot".into(), ()).await?;
    let v1 = B256::repeat_byte(0xA1);
    publish_model_version(&stack.admin, stack.registry, &attestor, &request(v1)).await?;
    for _ in 0..2 {
        let _: Value = stack.admin.raw_request("evm_mine".into(), ()).await?;
    }
    let on_a = indexer.sync_to_head().await?;
    assert_eq!(on_a.reorged, 0);
    assert_eq!(versions(&stack).await?, [v1]);

    // Branch B replaces A from the snapshot on: v2 instead of v1, and a longer chain.
    let reverted: bool = stack.admin.raw_request("evm_revert".into(), [snapshot]).await?;
    assert!(reverted);
    // Empty blocks first: the provider's receipt watcher only looks at block numbers above those it has seen.
    for _ in 0..4 {
        let _: Value = stack.admin.raw_request("evm_mine".into(), ()).await?;
    }
    let v2 = B256::repeat_byte(0xB2);
    // A fresh provider: the old one remembers account nonces from the dropped branch.
    let sender = prova_chain::connect_with_signer(&stack.rpc_url, stack.admin_key.clone())?;
    publish_model_version(&sender, stack.registry, &attestor, &request(v2)).await?;
    let on_b = indexer.sync_to_head().await?;
    assert!(on_b.reorged >= 1, "the reorg is detected: {on_b:?}");
    assert_eq!(versions(&stack).await?, [v2], "v1 is undone, v2 indexed");

    // The database equals a fresh read of the chain: same number of registry events.
    let logs = stack.admin.get_logs(&Filter::new().address(stack.registry).from_block(0)).await?;
    let mut rows = 0i64;
    for table in prova_indexer::events::all_tables() {
        rows += sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}")).fetch_one(&stack.pool).await?;
    }
    assert_eq!(rows, logs.len() as i64);
    let hashes: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT block_number, block_hash FROM model_version_registered").fetch_all(&stack.pool).await?;
    let block = stack.admin.get_block_by_number((hashes[0].0 as u64).into()).await?.unwrap();
    assert_eq!(B256::from_slice(&hashes[0].1), block.header.hash, "rows carry canonical block hashes");
    Ok(())
}
