//! The API's protections, end to end: `prova serve` as its own process on a real port, over a real Postgres.
//! An oversized body gets 413, a burst gets 429 with `Retry-After`, a stopped Postgres gives 503 and a restarted
//! one is used again without restarting the API, and SIGTERM drains the requests in flight.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prova_devnet::ChildGuard;
use prova_devnet::child::SIGTERM;
use prova_devnet::local::{LocalPostgres, free_port};
use prova_e2e::{fresh_database, prova_bin};
use reqwest::StatusCode;
use serde_json::Value;

/// `prova serve` on a free port; stopped with SIGTERM on drop (killed if it has not drained within 10 s) unless it
/// already exited.
struct Server {
    child: ChildGuard,
    url: String,
}

impl Server {
    async fn start(database_url: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let listen = format!("127.0.0.1:{}", free_port()?);
        let child = Command::new(prova_bin())
            .args(["serve", "--listen", &listen])
            .args(extra)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        let child = ChildGuard::new(child).with_signal(SIGTERM).with_grace(Duration::from_secs(10));
        let server = Self { child, url: format!("http://{listen}") };
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{}/healthz", server.url)).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "prova serve did not answer /healthz within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().get(format!("{}{path}", self.url))
    }
}

async fn json_error(response: reqwest::Response) -> anyhow::Result<(StatusCode, String)> {
    let status = response.status();
    let body: Value = response.json().await?;
    let code = body["error"]["code"].as_str().ok_or_else(|| anyhow::anyhow!("not our error shape: {body}"))?;
    anyhow::ensure!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {body}");
    Ok((status, code.to_owned()))
}

/// A private Postgres cluster with a fresh migrated database (the shared one serves other tests).
async fn private_postgres(prefix: &str) -> anyhow::Result<(LocalPostgres, tempfile::TempDir, String)> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    let postgres = tokio::task::block_in_place(|| LocalPostgres::start(dir.path(), free_port()?))?;
    let (url, pool) = fresh_database(&postgres.url("postgres"), prova_db::Schema::Registry).await?;
    pool.close().await;
    Ok((postgres, dir, url))
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_get_413_and_bursts_get_429_with_retry_after() -> anyhow::Result<()> {
    let (_postgres, _dir, url) = private_postgres("prova-e2e-api-limits").await?;
    let server = Server::start(&url, &["--rate-limit", "5", "--rate-limit-burst", "10"]).await?;
    let client = reqwest::Client::new();

    let oversized = vec![b' '; 2 << 20];
    let response = client
        .post(format!("{}/v1/outputs/verify", server.url))
        .header("content-type", "application/json")
        .body(oversized)
        .send()
        .await?;
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(json_error(response).await?, (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".to_owned()));

    // A burst from one client: the first ones pass (the 413 above took one token), then 429s say when to retry.
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..30 {
        let response = server.get("/v1/status").send().await?;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            assert_eq!(json_error(response).await?.1, "rate_limited");
        }
    }
    let passed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!((9..=12).contains(&passed), "{passed} passed of {statuses:?}");
    assert_eq!(passed + limited, 30, "{statuses:?}");
    assert!(retry_after.is_some_and(|secs| (1..=2).contains(&secs)), "Retry-After {retry_after:?}");
    // Probes are not limited, and the refusals are counted.
    assert_eq!(server.get("/healthz").send().await?.status(), StatusCode::OK);
    let metrics = server.get("/metrics").send().await?.text().await?;
    assert!(metrics.contains(&format!("prova_api_rate_limited_requests_total {limited}")), "{metrics}");
    // After the wait it names, the client is served again.
    tokio::time::sleep(Duration::from_secs(retry_after.unwrap())).await;
    assert_eq!(server.get("/v1/status").send().await?.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_outage_gives_503_and_the_api_recovers_without_restart() -> anyhow::Result<()> {
    let (mut postgres, _dir, url) = private_postgres("prova-e2e-api-outage").await?;
    let server = Server::start(&url, &["--rate-limit", "0"]).await?;
    assert_eq!(server.get("/v1/status").send().await?.status(), StatusCode::OK);
    assert_eq!(server.get("/readyz").send().await?.status(), StatusCode::OK);

    tokio::task::block_in_place(|| postgres.stop())?;
    let asked = Instant::now();
    let response = server.get("/v1/status").send().await?;
    let waited = asked.elapsed();
    assert_eq!(json_error(response).await?, (StatusCode::SERVICE_UNAVAILABLE, "unavailable".to_owned()));
    assert!(waited < Duration::from_secs(8), "503 took {waited:?}");
    let hash = format!("0x{}", "ab".repeat(32));
    let response = server.get(&format!("/v1/model-versions/{hash}")).send().await?;
    assert_eq!(json_error(response).await?.0, StatusCode::SERVICE_UNAVAILABLE);
    let response = server.get("/readyz").send().await?;
    assert_eq!(json_error(response).await?, (StatusCode::SERVICE_UNAVAILABLE, "not_ready".to_owned()));
    assert_eq!(server.get("/healthz").send().await?.status(), StatusCode::OK, "liveness does not need the database");

    tokio::task::block_in_place(|| postgres.ensure_running())?;
    let up = Instant::now();
    loop {
        let status = server.get("/v1/status").send().await?.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(up.elapsed() < Duration::from_secs(30), "the API did not recover within 30 s of the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.get("/readyz").send().await?.status(), StatusCode::OK);
    let response = server.get(&format!("/v1/model-versions/{hash}")).send().await?;
    assert_eq!(json_error(response).await?, (StatusCode::NOT_FOUND, "not_found".to_owned()));
    println!("postgres outage: 503 after {waited:?}; recovered {:?} after the restart", up.elapsed());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_requests_in_flight() -> anyhow::Result<()> {
    let (_postgres, _dir, url) = private_postgres("prova-e2e-api-drain").await?;
    let mut server = Server::start(&url, &["--rate-limit", "0"]).await?;
    let pool = sqlx::PgPool::connect(&url).await?;

    // Hold a lock that `/v1/status` waits on, so its request is in flight for as long as the test wants.
    let mut lock = pool.begin().await?;
    sqlx::query("LOCK TABLE indexer_cursors IN ACCESS EXCLUSIVE MODE").execute(&mut *lock).await?;
    let in_flight = tokio::spawn(server.get("/v1/status").send());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            .fetch_one(&pool)
            .await?;
        if waiting > 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the request never reached the database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    anyhow::ensure!(server.child.signal(SIGTERM), "SIGTERM could not be sent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(server.child.child().try_wait()?.is_none(), "the server exited with a request in flight");
    assert!(reqwest::get(format!("{}/healthz", server.url)).await.is_err(), "new connections are still accepted");

    lock.rollback().await?;
    let response = in_flight.await??;
    assert_eq!(response.status(), StatusCode::OK, "the request in flight was answered");
    let body: Value = response.json().await?;
    assert!(body["chains"].is_array(), "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.child().try_wait()? {
            break status;
        }
        anyhow::ensure!(Instant::now() < deadline, "the server did not exit after draining");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "prova serve exited with {status}");
    Ok(())
}
