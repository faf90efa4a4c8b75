//! Seeding shared by the API benchmarks: a fresh database on the server of `DATABASE_URL`, and indexed rows written
//! straight with SQL (as the indexer would leave them).

#![allow(dead_code)]

use alloy::primitives::Address;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

pub(crate) const CHAIN: i64 = 31337;
pub(crate) const AGENTS: i64 = 1_000;
pub(crate) const CLIENTS: i64 = 20_000;
pub(crate) const IDENTITY: [u8; 20] = [0x1d; 20];
pub(crate) const REPUTATION: [u8; 20] = [0x2e; 20];
/// The cursors of both registries, after seeding.
pub(crate) const NEXT_BLOCK: i64 = 20_000;

pub(crate) fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// SQL for the 20-byte address number `n` with a one-byte `prefix`.
pub(crate) fn sql_address(prefix: u8, n: &str) -> String {
    format!("decode('{prefix:02x}' || lpad(to_hex({n}), 38, '0'), 'hex')")
}

/// The address `sql_address(prefix, n)` gives.
pub(crate) fn address(prefix: u8, n: i64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = prefix;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

pub(crate) async fn seed(pool: &PgPool, feedback: i64) -> anyhow::Result<()> {
    let owner = sql_address(0x0a, "g % 500");
    let client = sql_address(0xc0, "g % 20000");
    let statements = [
        format!(
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block, finalized_block, kind)
             VALUES ({CHAIN}, '\\x{id}', {NEXT_BLOCK}, {NEXT_BLOCK} - 1, {NEXT_BLOCK} - 65, 'identity'),
                    ({CHAIN}, '\\x{rep}', {NEXT_BLOCK}, {NEXT_BLOCK} - 1, {NEXT_BLOCK} - 65, 'reputation')",
            id = alloy::hex::encode(IDENTITY),
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO erc8004_links VALUES ({CHAIN}, '\\x{}', '\\x{}')",
            alloy::hex::encode(REPUTATION),
            alloy::hex::encode(IDENTITY)
        ),
        format!(
            "INSERT INTO indexed_blocks VALUES ({CHAIN}, '\\x{}', {NEXT_BLOCK} - 1, '\\x{}'), ({CHAIN}, '\\x{}', {NEXT_BLOCK} - 1, '\\x{}')",
            alloy::hex::encode(IDENTITY),
            "ab".repeat(32),
            alloy::hex::encode(REPUTATION),
            "ab".repeat(32)
        ),
        // Agent g is minted and registered at block g + 1.
        format!(
            "INSERT INTO agent_transferred (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               from_address, to_address, agent_id)
             SELECT {CHAIN}, sha256(('t' || g)::BYTEA), 0, '\\x{id}', g + 1, sha256(('b' || g)::BYTEA),
                    to_timestamp(1700000000 + (g + 1) * 12), '\\x{zero}', {owner}, g
             FROM generate_series(0, {AGENTS} - 1) AS g",
            id = alloy::hex::encode(IDENTITY),
            zero = "00".repeat(20),
        ),
        format!(
            "INSERT INTO agent_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, agent_uri, owner)
             SELECT {CHAIN}, sha256(('t' || g)::BYTEA), 1, '\\x{id}', g + 1, sha256(('b' || g)::BYTEA),
                    to_timestamp(1700000000 + (g + 1) * 12), g, 'ipfs://agent-' || g, {owner}
             FROM generate_series(0, {AGENTS} - 1) AS g",
            id = alloy::hex::encode(IDENTITY),
        ),
        // Entry g: agent (g * 7919) % 1000, client g % 20000, index g / 20000 + 1; ten per block from block 1001.
        format!(
            "INSERT INTO feedback_given (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index, value, value_decimals, tag1, tag2, endpoint, feedback_uri, feedback_hash)
             SELECT {CHAIN}, sha256(('f' || g)::BYTEA), g % 10, '\\x{rep}', 1001 + g / 10, sha256(('b' || (1001 + g / 10))::BYTEA),
                    to_timestamp(1700000000 + (1001 + g / 10) * 12), (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1,
                    CASE WHEN g % 10 = 0 THEN ((g * 37) % 101) * 10 + 5 ELSE (g * 37) % 101 END,
                    CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END,
                    (ARRAY['quality', 'speed', 'uptime'])[g % 3 + 1], '', 'https://agent.example/api',
                    'ipfs://feedback-' || g, sha256(('h' || g)::BYTEA)
             FROM generate_series(0, {feedback} - 1) AS g",
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO feedback_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index)
             SELECT {CHAIN}, sha256(('r' || g)::BYTEA), 100 + g % 10, '\\x{rep}', 1002 + g / 10,
                    sha256(('b' || (1002 + g / 10))::BYTEA), to_timestamp(1700000000 + (1002 + g / 10) * 12),
                    (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1
             FROM generate_series(0, {feedback} - 1) AS g WHERE g % 20 = 7",
            rep = alloy::hex::encode(REPUTATION),
        ),
        format!(
            "INSERT INTO feedback_verified (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               agent_id, client, feedback_index, interaction_hash, signer)
             SELECT {CHAIN}, sha256(('v' || g)::BYTEA), 200 + g % 10, '\\x{rep}', 1001 + g / 10,
                    sha256(('b' || (1001 + g / 10))::BYTEA), to_timestamp(1700000000 + (1001 + g / 10) * 12),
                    (g * 7919) % {AGENTS}, {client}, g / {CLIENTS} + 1, sha256(('i' || g)::BYTEA), {owner}
             FROM generate_series(0, {feedback} - 1) AS g WHERE g % 10 < 3",
            rep = alloy::hex::encode(REPUTATION),
        ),
        "ANALYZE".to_owned(),
    ];
    for statement in statements {
        pool.execute(statement.as_str()).await?;
    }
    Ok(())
}

/// Drops and creates `name` on the server of `DATABASE_URL`, applies the migrations, and returns a pool of
/// `connections` on it (set up as `prova serve` sets up its own) with its URL.
pub(crate) async fn bench_database(name: &str, connections: u32) -> anyhow::Result<(PgPool, String)> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/pg-test-cluster.sh start)"))?;
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
    admin.execute(format!("DROP DATABASE IF EXISTS {name}").as_str()).await?;
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let bench_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => anyhow::bail!("DATABASE_URL has no database name"),
    };
    // The pool `prova serve` uses.
    let pool = prova_db::connect_and_migrate(&bench_url, connections, prova_db::Schema::Registry).await?;
    Ok((pool, bench_url))
}

/// Drops the bench database `name` unless `PROVA_BENCH_KEEP=1`.
pub(crate) async fn drop_bench_database(pool: PgPool, name: &str) -> anyhow::Result<()> {
    pool.close().await;
    if std::env::var("PROVA_BENCH_KEEP").as_deref() != Ok("1") {
        let url = std::env::var("DATABASE_URL")?;
        let admin = PgPoolOptions::new().max_connections(1).connect(&url).await?;
        admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
    }
    Ok(())
}

/// The provenance registry of [`seed_versions`].
pub(crate) const PROVENANCE: [u8; 20] = [0x3f; 20];

/// Indexes `versions` model versions (numbered 1 to `versions`, ten per block, 50 publishers with names; one in
/// fifty revoked), with the registry's cursor 100 blocks past the last one and finality 64 blocks behind the head.
pub(crate) async fn seed_versions(pool: &PgPool, versions: i64) -> anyhow::Result<()> {
    let registry = alloy::hex::encode(PROVENANCE);
    let publisher = sql_address(0x9b, "g % 50");
    let head = versions / 10 + 100;
    let statements = [
        format!(
            "INSERT INTO indexer_cursors (chain_id, contract, next_block, head_block, finalized_block, kind)
             VALUES ({CHAIN}, '\\x{registry}', {head} + 1, {head}, {head} - 64, 'provenance')"
        ),
        format!(
            "INSERT INTO publisher_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               publisher, admin, name, metadata_uri)
             SELECT {CHAIN}, sha256(('p' || g)::BYTEA), g, '\\x{registry}', 1, sha256('b1'::BYTEA), to_timestamp(1700000000),
                    {publisher}, {publisher}, 'publisher-' || g, ''
             FROM generate_series(0, 49) AS g"
        ),
        format!(
            "INSERT INTO model_version_registered (chain_id, tx_hash, log_index, contract, block_number, block_hash,
               block_time, version_hash, model_id, publisher, parent, attestor, metadata_uri, metadata_hash)
             SELECT {CHAIN}, sha256(('t' || g)::BYTEA), g % 10, '\\x{registry}', 2 + g / 10, sha256(('b' || (2 + g / 10))::BYTEA),
                    to_timestamp(1700000000 + (2 + g / 10) * 12), sha256(int8send(g)), sha256(('m' || g % 1000)::BYTEA),
                    {publisher}, '\\x{zero}', {attestor}, 'ipfs://card-' || g, sha256(('c' || g)::BYTEA)
             FROM generate_series(1, {versions}) AS g",
            zero = "00".repeat(32),
            attestor = sql_address(0xa7, "g % 50"),
        ),
        format!(
            "INSERT INTO model_version_revoked (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
               version_hash, publisher, reason)
             SELECT {CHAIN}, sha256(('x' || g)::BYTEA), 100 + g % 10, '\\x{registry}', 3 + g / 10,
                    sha256(('b' || (3 + g / 10))::BYTEA), to_timestamp(1700000000 + (3 + g / 10) * 12),
                    sha256(int8send(g)), {publisher}, 'superseded'
             FROM generate_series(1, {versions}) AS g WHERE g % 50 = 0"
        ),
        "ANALYZE".to_owned(),
    ];
    for statement in statements {
        pool.execute(statement.as_str()).await?;
    }
    Ok(())
}

/// Files in each manifest of [`seed_manifests`].
pub(crate) const MANIFEST_FILES: i64 = 50;

/// Families of versions sharing their `tok/` files in [`seed_manifests`].
pub(crate) const MANIFEST_FAMILIES: i64 = 40;

/// Uploads a manifest for versions 1 to `manifests` of [`seed_versions`] (which must exist), each of
/// [`MANIFEST_FILES`] files: 25 empty files (`empty/N`, one digest stored `25 × manifests` times, far past the match
/// route's `MAX_FILES_PER_DIGEST`), 5 tokenizer files (`tok/N`) shared by the versions of one family
/// (`g % MANIFEST_FAMILIES`, so each such digest is stored `manifests / MANIFEST_FAMILIES` times), and 20 files of
/// their own (`w/N`). The stored files need not give the version hash: the API trusts what it stored.
pub(crate) async fn seed_manifests(pool: &PgPool, manifests: i64) -> anyhow::Result<()> {
    let statements = [
        format!(
            "INSERT INTO model_manifests (version_hash, tool, ignore, file_count, total_bytes)
             SELECT sha256(int8send(g)), 'bench', '{{}}', {MANIFEST_FILES}, 0 FROM generate_series(1, {manifests}) AS g"
        ),
        format!(
            "INSERT INTO model_files (version_hash, path, size, sha256)
             SELECT sha256(int8send(g)),
                    CASE WHEN f < 25 THEN 'empty/' WHEN f < 30 THEN 'tok/' ELSE 'w/' END || f, 0,
                    CASE WHEN f < 25 THEN sha256(''::BYTEA)
                         WHEN f < 30 THEN sha256(('tok' || g % {MANIFEST_FAMILIES} || '/' || f)::BYTEA)
                         ELSE sha256(('w' || g || '/' || f)::BYTEA) END
             FROM generate_series(1, {manifests}) AS g, generate_series(0, {MANIFEST_FILES} - 1) AS f"
        ),
        "ANALYZE model_manifests, model_files".to_owned(),
    ];
    for statement in statements {
        pool.execute(statement.as_str()).await?;
    }
    Ok(())
}

/// Indexes `batches` output batches anchored in the registry of [`seed_versions`] (which must exist): batch g has
/// root `sha256('ob' || g)`, is of version g, claims 4,096 leaves and has no leaves uploaded.
pub(crate) async fn seed_batches(pool: &PgPool, batches: i64) -> anyhow::Result<()> {
    let statement = format!(
        "INSERT INTO outputs_attested (chain_id, tx_hash, log_index, contract, block_number, block_hash, block_time,
           root, version_hash, publisher, attestor, leaf_count, window_start, window_end, batch_uri)
         SELECT {CHAIN}, sha256(('o' || g)::BYTEA), 500 + g % 10, '\\x{registry}', 2 + g / 10,
                sha256(('b' || (2 + g / 10))::BYTEA), to_timestamp(1700000000 + (2 + g / 10) * 12),
                sha256(('ob' || g)::BYTEA), sha256(int8send(g)), {publisher}, {attestor}, 4096, 1700000000, 1800000000,
                'ipfs://batch-' || g
         FROM generate_series(1, {batches}) AS g",
        registry = alloy::hex::encode(PROVENANCE),
        publisher = sql_address(0x9b, "g % 50"),
        attestor = sql_address(0xa7, "g % 50"),
    );
    pool.execute(statement.as_str()).await?;
    pool.execute("ANALYZE outputs_attested").await?;
    Ok(())
}
