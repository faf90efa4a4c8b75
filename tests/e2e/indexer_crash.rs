//! Crash tests of the indexer against a real anvil and a real Postgres: the `prova index` process killed with
//! SIGKILL again and again during a backfill, and its Postgres server restarted under a running indexer. Each ends
//! with the database equal to an independent re-read of the chain: nothing lost, nothing duplicated.
//!
//! Randomized tests print their seed; `PROVA_CHAOS_SEED=<seed>` replays the same choices.

use std::process::Stdio;
use std::time::{Duration, Instant};

use prova_devnet::local::{LocalPostgres, free_port};
use prova_e2e::{
    Following, Node, Stack, assert_db_matches_chain, chaos_seed, cursor_row, fresh_database, prova_bin,
    wait_db_matches_chain,
};
use prova_indexer::metrics::ContractLabels;
use prova_indexer::{Indexer, IndexerConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Blocks of the crash test's backfill, and events in each.
const BLOCKS: usize = 250;
const EVENTS_PER_BLOCK: usize = 80;
/// SIGKILLs during the backfill.
const KILLS: usize = 20;

/// `prova index` on the stack, in small ranges so the backfill takes many transactions; extra flags appended. Its
/// stderr is piped (read it, or it may block once the pipe is full).
fn index_command(stack: &Stack, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(prova_bin());
    cmd.args(["index", "--rpc", &stack.rpc_url, "--registry", &stack.registry.to_string()])
        .args(["--database-url", &stack.database_url, "--start-block", &stack.deploy_block.to_string()])
        .args(["--batch-blocks", "2", "--max-batch-blocks", "8", "--concurrency", "2", "--poll-ms", "50"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// 20,000 events over 250 blocks; `prova index` is SIGKILLed 20 times at random points of the backfill (each run
/// is killed a random moment after the cursor passes a random block of its share of the backfill, or, one time in
/// four, after a short random delay alone, so kills land during start-up, reads and commits). The cursor only moves
/// forward, nearly every kill lands mid-backfill, and a final `--once` run leaves the database equal to the chain.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_backfill_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let seed = chaos_seed("crash chaos");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let stack = Stack::start().await?;
    let head = twenty_thousand_events_are_mined_over_250_blocks(&stack, started).await?;
    let kills = sigkills_through_the_backfill_never_move_the_cursor_back(&stack, &mut rng, seed, head).await?;
    a_final_run_leaves_the_database_equal_to_the_chain(&stack).await?;
    println!(
        "crash chaos: seed {seed}; {}/{KILLS} kills mid-backfill (cursor after each: {}); {:.1} s",
        kills.mid_backfill,
        kills.positions.join(" "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The indexer's cursor: the first block not yet indexed (the start block before it first committed).
async fn cursor(stack: &Stack) -> anyhow::Result<u64> {
    let (chain_id, start) = (stack.chain_id, stack.deploy_block);
    anyhow::Ok(cursor_row(&stack.pool, chain_id, stack.registry).await?.map_or(start, |c| c.next_block))
}

/// 20,000 events over 250 blocks, emitted in bulk; the head.
async fn twenty_thousand_events_are_mined_over_250_blocks(stack: &Stack, started: Instant) -> anyhow::Result<u64> {
    let node = Node::new(stack);
    node.set_automine(false).await?;
    let emitter = node.deploy_bulk_emitter().await?;
    node.mine_bulk(emitter, BLOCKS, EVENTS_PER_BLOCK as u64).await?;
    let head = node.head().await?;
    let start = stack.deploy_block;
    let (events, seconds) = (BLOCKS * EVENTS_PER_BLOCK, started.elapsed().as_secs_f64());
    println!("crash chaos: {events} events in blocks {}..={head}, emitted in {seconds:.1} s", start + 1);
    Ok(head)
}

/// Where the kills left the cursor.
struct Kills {
    /// Kills that left the cursor inside the backfill.
    mid_backfill: usize,
    /// The cursor after each kill (`!` marks one outside the backfill).
    positions: Vec<String>,
}

/// `prova index` is SIGKILLed 20 times at random points of the backfill: the cursor only moves forward, and nearly
/// every kill lands mid-backfill.
async fn sigkills_through_the_backfill_never_move_the_cursor_back(
    stack: &Stack,
    rng: &mut StdRng,
    seed: u64,
    head: u64,
) -> anyhow::Result<Kills> {
    let start = stack.deploy_block;
    // Kill points spread over the backfill: one block target per kill, evenly spaced with jitter, the last well
    // before the head.
    let span = head - start;
    let targets: Vec<u64> = (1..=KILLS as u64)
        .map(|k| start + k * span / (KILLS as u64 + 2) + rng.gen_range(0..span / (KILLS as u64 + 2) / 2))
        .collect();
    let mut mid_backfill = 0;
    let mut positions = Vec::new();
    let mut previous = start;
    for (kill, &target) in targets.iter().enumerate() {
        // The killed runs' logs go to a file in the scratch folder.
        let log = std::fs::File::options().create(true).append(true).open(stack.dir.path().join("index.log"))?;
        let mut child = index_command(stack, &[]).stderr(log).spawn()?;
        let run_started = Instant::now();
        let how = if rng.gen_bool(0.25) {
            // A blind kill: at start-up, during a read, or mid-commit.
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=120))).await;
            "blind"
        } else {
            // Once the cursor passes the target block, then a random moment later (mid-read or mid-commit).
            let deadline = Instant::now() + Duration::from_secs(10);
            while cursor(stack).await? < target && Instant::now() < deadline {
                if let Some(status) = child.try_wait()? {
                    anyhow::bail!("prova index exited on its own ({status}) before kill {kill}");
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..=15))).await;
            "cursor"
        };
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("prova index exited on its own ({status}) before kill {kill}");
        }
        child.start_kill()?; // SIGKILL
        let status = child.wait().await?;
        anyhow::ensure!(!status.success(), "kill {kill}: {status}");
        let now = cursor(stack).await?;
        anyhow::ensure!(now >= previous, "seed {seed}, kill {kill}: the cursor moved back from {previous} to {now}");
        let during = now > start && now <= head;
        mid_backfill += usize::from(during);
        positions.push(format!("{now}{}", if during { "" } else { "!" }));
        println!(
            "kill {kill:>2} ({how:<6} target {target:>3}, after {:>4} ms): cursor {previous} -> {now} of {}",
            run_started.elapsed().as_millis(),
            head + 1
        );
        previous = now;
    }
    assert!(
        mid_backfill >= KILLS * 3 / 4,
        "seed {seed}: only {mid_backfill} of {KILLS} kills landed mid-backfill (cursor after each: {positions:?})"
    );
    Ok(Kills { mid_backfill, positions })
}

/// A final run to the head: the database equals the chain, every event once.
async fn a_final_run_leaves_the_database_equal_to_the_chain(stack: &Stack) -> anyhow::Result<()> {
    let output = index_command(stack, &["--once"]).output().await?;
    assert!(output.status.success(), "index --once: {}", String::from_utf8_lossy(&output.stderr));
    let mirror = assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    assert_eq!(mirror.events, BLOCKS * EVENTS_PER_BLOCK, "{mirror:?}");
    // Per table, rows in the database (for this registry or not) equal the logs on the chain.
    for (table, logs) in &mirror.by_table {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&stack.pool).await?;
        assert_eq!(rows as usize, *logs, "{table}");
    }
    Ok(())
}

/// An indexer following the head keeps going through a restart of its Postgres server (a private cluster: the
/// shared one serves other tests): it reconnects, takes the write lock again and converges, without a restart.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_restart_is_survived_without_restarting_the_indexer() -> anyhow::Result<()> {
    let started = Instant::now();
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    node.set_automine(false).await?;
    let dir = tempfile::Builder::new().prefix("prova-e2e-pg-restart").tempdir()?;
    let port = free_port()?;
    let mut postgres = tokio::task::block_in_place(|| LocalPostgres::start(dir.path(), port))?;
    let (_, pool) = fresh_database(&postgres.url("postgres"), prova_db::Schema::Registry).await?;

    let config = IndexerConfig {
        start_block: stack.deploy_block,
        poll_interval: Duration::from_millis(50),
        ..IndexerConfig::new(stack.registry)
    };
    let indexer = Indexer::new(pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    let metrics = indexer.metrics().clone();
    let labels = ContractLabels { chain_id: indexer.chain_id(), contract: format!("{:#x}", stack.registry) };
    let following = Following::spawn(indexer);
    for _ in 0..20 {
        node.mine_events(10).await?;
    }
    wait_db_matches_chain(&pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(30)).await?;
    let commits_before = metrics.commits.get_or_create(&labels).get();

    // Stop the server, keep the chain moving while it is down, start it again on the same port.
    tokio::task::block_in_place(|| postgres.stop())?;
    let down = Instant::now();
    for _ in 0..10 {
        node.mine_events(10).await?;
    }
    tokio::time::sleep(Duration::from_secs(1).saturating_sub(down.elapsed())).await;
    tokio::task::block_in_place(|| postgres.ensure_running())?;
    let up = Instant::now();
    for _ in 0..10 {
        node.mine_events(10).await?;
    }
    let mirror =
        wait_db_matches_chain(&pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(45))
            .await?;
    let recovered = up.elapsed();
    assert_eq!(mirror.by_table.get("nonce_invalidated"), Some(&400), "{mirror:?}");
    assert!(!following.is_finished(), "run() returned after the restart");
    assert!(metrics.commits.get_or_create(&labels).get() > commits_before, "no commit after the restart");
    assert_eq!(metrics.writer.get_or_create(&labels).get(), 1, "the indexer holds the write lock again");
    let locks: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        .fetch_one(&pool)
        .await?;
    assert_eq!(locks, 1, "the write lock is held again on the restarted server");
    following.shutdown().await?;
    pool.close().await;
    println!(
        "postgres restart: down {:.1} s, converged {:.1} s after the restart; {:.1} s in all",
        (up - down).as_secs_f64(),
        recovered.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
