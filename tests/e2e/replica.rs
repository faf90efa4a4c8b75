//! The API over a primary and a real streaming replica: a primary Postgres cluster, a standby copied from it with
//! `pg_basebackup -R` and following it over streaming replication, a registry on anvil indexed into the primary,
//! and `prova serve --database-url <primary> --read-database-url <replica>`. Reads answer from the replica (what
//! it has not replayed is not served), uploads go to the primary, `/readyz` and `/v1/status` report the replica's
//! lag, and a stopped replica fails `/readyz` in our words only.
//!
//! Replay is paused and resumed on the standby (`pg_wal_replay_pause()`), so "not replayed yet" is a state the test
//! sets, not a race it hopes to win; every wait polls until a deadline.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_core::manifest::{Manifest, ManifestEntry};
use prova_devnet::ChildGuard;
use prova_devnet::child::SIGTERM;
use prova_devnet::local::{LocalPostgres, free_port};
use prova_e2e::{Stack, fresh_database, prova_bin, start_streaming_replica};
use prova_indexer::{Indexer, IndexerConfig};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// A password in both database URLs: the server trusts loopback and ignores it, but `prova serve` must never show it.
const PASSWORD: &str = "replica-secret-pw-7f3a";

/// How long any one state may take to arrive (replay, a restart, a readiness flip).
const DEADLINE: Duration = Duration::from_secs(60);

/// Both clusters, stopped (`pg_ctl -m fast`) when dropped, the replica first, even when the test fails; their
/// folders go after them.
struct Clusters {
    replica: LocalPostgres,
    _primary: LocalPostgres,
    _replica_dir: tempfile::TempDir,
    _primary_dir: tempfile::TempDir,
}

/// `prova serve` on a free port, its log in a file; stopped with SIGTERM on drop.
struct Server {
    _child: ChildGuard,
    url: String,
    log: std::path::PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    async fn start(primary_url: &str, replica_url: &str) -> anyhow::Result<Self> {
        let listen = format!("127.0.0.1:{}", free_port()?);
        let log_dir = tempfile::tempdir()?;
        let log = log_dir.path().join("serve.log");
        let child = Command::new(prova_bin())
            .args(["serve", "--listen", &listen, "--rate-limit", "0", "--ready-max-replica-lag-secs", "1"])
            // The indexer runs once per step here, not following the head.
            .args(["--ready-max-head-age-secs", "0"])
            .env("DATABASE_URL", primary_url)
            .env("PROVA_READ_DATABASE_URL", replica_url)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log)?))
            .spawn()?;
        let child = ChildGuard::new(child).with_signal(SIGTERM).with_grace(Duration::from_secs(10));
        let server = Self { _child: child, url: format!("http://{listen}"), log, _log_dir: log_dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{}/healthz", server.url)).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "prova serve did not answer /healthz within 30 s: {}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// `GET path`: the status and the JSON body.
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = reqwest::get(format!("{}{path}", self.url)).await?;
        let status = response.status();
        let text = response.text().await?;
        let body =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{path} answered non-JSON {text:?}: {e}"))?;
        Ok((status, body))
    }

    /// `PUT path` with a JSON body: the status and the JSON body.
    async fn put(&self, path: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
        let response = reqwest::Client::new().put(format!("{}{path}", self.url)).json(body).send().await?;
        Ok((response.status(), response.json().await?))
    }

    /// Polls `GET path` until `done(status, body)`, failing with the last answer after [`DEADLINE`].
    async fn wait_for(
        &self,
        what: &str,
        path: &str,
        done: impl Fn(StatusCode, &Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (status, body) = self.get(path).await?;
            if done(status, &body) {
                return Ok(body);
            }
            anyhow::ensure!(Instant::now() < deadline, "{what}: still {status} {body} after {DEADLINE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `url` with the user `postgres` and [`PASSWORD`].
fn with_password(url: &str) -> String {
    url.replacen("postgres://postgres@", &format!("postgres://postgres:{PASSWORD}@"), 1)
}

/// A manifest whose Merkle root is the version hash published for it (the API checks only the root).
fn manifest(seed: u8) -> Manifest {
    let entry = |path: &str, byte: u8| ManifestEntry {
        path: path.into(),
        size: 1000 + u64::from(byte),
        sha256: B256::repeat_byte(byte),
    };
    Manifest::from_entries(vec![entry("config.json", seed), entry("model.safetensors", seed.wrapping_add(1))], vec![])
        .expect("a valid manifest")
}

/// Indexes the stack's registry into `pool` up to the chain head.
async fn index_into(stack: &Stack, pool: &PgPool) -> anyhow::Result<()> {
    let config = IndexerConfig { start_block: stack.deploy_block, ..IndexerConfig::new(stack.registry) };
    let provider = prova_chain::connect_without_retries(&stack.rpc_url)?;
    Indexer::new(pool.clone(), provider, config).await?.sync_to_head().await?;
    Ok(())
}

/// Pauses (or resumes) WAL replay on the standby, and waits until it took effect.
async fn set_replay_paused(replica: &PgPool, paused: bool) -> anyhow::Result<()> {
    let call = if paused { "SELECT pg_wal_replay_pause()" } else { "SELECT pg_wal_replay_resume()" };
    sqlx::query(call).execute(replica).await?;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()").fetch_one(replica).await?;
        if (state == "paused") == paused && (paused || state == "not paused") {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "replay is {state:?} after {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_reads_from_a_streaming_replica_and_writes_to_the_primary() -> anyhow::Result<()> {
    let stack = Stack::start().await?;

    // The primary, a migrated database in it, then a standby copied from it and streaming from it.
    let primary_dir = tempfile::Builder::new().prefix("prova-e2e-primary").tempdir()?;
    let primary = tokio::task::block_in_place(|| LocalPostgres::start(primary_dir.path(), free_port()?))?;
    let (primary_url, primary_pool) = fresh_database(&primary.url("postgres"), prova_db::Schema::Registry).await?;
    let wal_level: String = sqlx::query_scalar("SHOW wal_level").fetch_one(&primary_pool).await?;
    assert_eq!(wal_level, "replica");
    let (replica, replica_dir) =
        tokio::task::block_in_place(|| start_streaming_replica(&primary, "prova-e2e-replica"))?;
    let mut clusters = Clusters { replica, _primary: primary, _replica_dir: replica_dir, _primary_dir: primary_dir };
    let database = prova_db::database_name(&primary_url).to_owned();
    let replica_url = clusters.replica.url(&database);
    let replica_pool = prova_db::connect(&replica_url, 2).await?;
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()").fetch_one(&replica_pool).await?;
    assert!(in_recovery, "the copy runs as a standby");

    let server = Server::start(&with_password(&primary_url), &with_password(&replica_url)).await?;

    // A version registered on chain and indexed into the primary is served once the replica has replayed it.
    let attestor = stack.anvil_key(3);
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let first = manifest(1);
    let publish = |version| PublishRequest { commit: false, ..PublishRequest::new(version, "acme/llm") };
    publish_model_version(&stack.admin, stack.registry, &attestor, &publish(first.version_hash)).await?;
    index_into(&stack, &primary_pool).await?;
    let first_uri = format!("/v1/model-versions/{}", first.version_hash);
    server.wait_for("the first version replayed", &first_uri, |status, _| status == StatusCode::OK).await?;

    // Caught up: ready, with the lag reported.
    let ready = server
        .wait_for("ready", "/readyz", |status, body| {
            status == StatusCode::OK && body["replica"]["replay_lag_bytes"] == 0
        })
        .await?;
    assert_eq!(ready["replica"]["in_recovery"], true, "{ready}");
    assert!(ready["replica"]["replay_lag_secs"].as_f64().is_some_and(|secs| secs >= 0.0), "{ready}");
    let (status, body) = server.get("/v1/status").await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["replica"]["in_recovery"], true, "{body}");
    assert!(body["replica"]["replay_lag_bytes"].is_u64() && body["replica"]["replay_lag_secs"].is_f64(), "{body}");
    assert_eq!(body["chains"][0]["chain_id"], stack.chain_id, "{body}");

    // Replay paused: a second version indexed into the primary is not served, since reads come from the replica.
    set_replay_paused(&replica_pool, true).await?;
    let second = manifest(2);
    publish_model_version(&stack.admin, stack.registry, &attestor, &publish(second.version_hash)).await?;
    index_into(&stack, &primary_pool).await?;
    let on_primary: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM model_version_registered WHERE version_hash = $1)")
            .bind(second.version_hash.to_vec())
            .fetch_one(&primary_pool)
            .await?;
    assert!(on_primary);
    let second_uri = format!("/v1/model-versions/{}", second.version_hash);
    assert_eq!(server.get(&second_uri).await?.0, StatusCode::NOT_FOUND, "read from the paused replica");
    let (_, body) = server.get("/v1/status").await?;
    assert!(body["replica"]["replay_lag_bytes"].as_u64().is_some_and(|bytes| bytes > 0), "{body}");

    // The manifest upload goes to the primary, which knows the claim the replica has not replayed; reading it back
    // asks the replica, which does not have it yet.
    let manifest_uri = format!("{second_uri}/manifest");
    let (status, answer) = server.put(&manifest_uri, &serde_json::to_value(&second)?).await?;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM model_files WHERE version_hash = $1")
        .bind(second.version_hash.to_vec())
        .fetch_one(&primary_pool)
        .await?;
    assert_eq!(stored, 2);
    assert_eq!(server.get(&manifest_uri).await?.0, StatusCode::NOT_FOUND);

    // WAL left to replay and the last replayed transaction older than the 1 s allowed: not ready, saying why.
    let behind = server.wait_for("not ready while behind", "/readyz", |status, _| status.is_server_error()).await?;
    assert_eq!(behind["error"]["code"], "not_ready", "{behind}");
    let message = behind["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("bytes of WAL to replay") && message.contains("(max 1 s)"), "{behind}");

    // Replay resumed: both facts are served, and the instance is ready again.
    set_replay_paused(&replica_pool, false).await?;
    server.wait_for("the second version replayed", &second_uri, |status, _| status == StatusCode::OK).await?;
    let served = server.wait_for("the manifest replayed", &manifest_uri, |status, _| status == StatusCode::OK).await?;
    assert_eq!(served["files"].as_array().map(Vec::len), Some(2), "{served}");
    server.wait_for("ready again", "/readyz", |status, _| status == StatusCode::OK).await?;

    // The replica stops: not ready, in a JSON body that names no database, host, port or driver; uploads, which
    // only touch the primary, still work.
    replica_pool.close().await;
    tokio::task::block_in_place(|| clusters.replica.stop())?;
    let down = server.wait_for("not ready without a replica", "/readyz", |status, _| status.is_server_error()).await?;
    assert_eq!(down["error"]["code"], "not_ready", "{down}");
    let text = down.to_string().to_lowercase();
    let replica_port = clusters.replica.port().to_string();
    for word in [database.as_str(), &replica_port, "127.0.0.1", "postgres", "sqlx", "connection", "refused", PASSWORD] {
        assert!(!text.contains(word), "/readyz leaks {word:?}: {down}");
    }
    assert_eq!(server.get("/healthz").await?.0, StatusCode::OK);
    let (status, answer) = server.put(&manifest_uri, &serde_json::to_value(&second)?).await?;
    assert_eq!(status, StatusCode::OK, "the stored manifest, found on the primary: {answer}");

    // The log names the replica by host and port only.
    let log = std::fs::read_to_string(&server.log)?;
    assert!(!log.contains(PASSWORD), "the log shows a database password:\n{log}");
    assert!(log.contains("reads go to the read replica"), "{log}");
    drop(server);
    drop(clusters);
    Ok(())
}
