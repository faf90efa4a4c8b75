//! Chaos tests of the indexer against a real anvil and a real Postgres: random reorgs (some deeper than the kept
//! block hashes), a fault-injecting RPC proxy, and two instances racing for the write lock. Each ends with the
//! database equal to an independent re-read of the chain.
//!
//! Randomized tests print their seed; `PROVA_CHAOS_SEED=<seed>` replays the same choices.

use std::time::{Duration, Instant};

use prova_chain::rpc::RetryPolicy;
use prova_e2e::chaos_proxy::{ChaosProxy, Faults};
use prova_e2e::{
    Following, Mirror, Node, Stack, assert_db_matches_chain, chaos_seed, compare_db_with_chain, cursor_row,
    wait_cursor, wait_db_matches_chain,
};
use prova_indexer::metrics::{ContractLabels, FaultLabels};
use prova_indexer::{Indexer, IndexerConfig, Metrics};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Block hashes the reorg test's indexer keeps densely: reorgs deeper than this undo down to an anchor.
const KEPT: u64 = 16;

/// The metric labels of `indexer`'s contract.
fn labels(indexer: &Indexer, contract: alloy::primitives::Address) -> ContractLabels {
    ContractLabels { chain_id: indexer.chain_id(), contract: format!("{contract:#x}") }
}

fn commits(metrics: &Metrics, labels: &ContractLabels) -> u64 {
    metrics.commits.get(labels).map_or(0, |c| c.get())
}

fn reorgs(metrics: &Metrics, labels: &ContractLabels) -> u64 {
    metrics.reorgs.get(labels).map_or(0, |c| c.get())
}

/// Sum and count of the reorg depth histogram, read from the Prometheus text (the histogram has no getters).
fn depths(metrics: &Metrics, labels: &ContractLabels) -> (f64, u64) {
    let text = metrics.encode();
    let value = |name: &str| {
        text.lines()
            .find(|line| line.starts_with(name) && line.contains(&labels.contract))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (value("prova_indexer_reorg_depth_blocks_sum{"), value("prova_indexer_reorg_depth_blocks_count{") as u64)
}

/// The writer gauge, or `None` before the instance first tried the lock.
fn writer(metrics: &Metrics, labels: &ContractLabels) -> Option<i64> {
    metrics.writer.get(labels).map(|g| g.get())
}

/// The indexer's RPC faults of `kind`, over every method it calls.
fn faults(metrics: &Metrics, chain_id: u64, kind: &str) -> u64 {
    ["eth_chainId", "eth_blockNumber", "eth_getBlockByNumber", "eth_getLogs", "eth_call"]
        .iter()
        .filter_map(|method| {
            let labels = FaultLabels { chain_id, method: (*method).into(), kind: kind.into() };
            metrics.rpc_faults.get(&labels).map(|c| c.get())
        })
        .sum()
}

/// The hashes of blocks `from..=to`, in one batch.
async fn block_hashes(node: &Node, from: u64, to: u64) -> anyhow::Result<Vec<String>> {
    let calls = (from..=to).map(|n| ("eth_getBlockByNumber", json!([format!("{n:#x}"), false]))).collect();
    Ok(node.batch(calls).await?.iter().map(|block| block["hash"].to_string()).collect())
}

/// Drives anvil through 60 random reorgs of depth 1..=64 (half of them at most `KEPT`, one forced to 40..=64), with
/// blocks of events after each and replacement events on some new branches; a fifth of the rounds have a second
/// reorg before the indexer catches up. After each round, once the cursor reaches the new head, the database must
/// equal the chain at once; a round that replaced the head must have been detected; the forced deep reorg must have
/// been undone down to an anchor (or from the start block when it forked below every anchor).
#[tokio::test(flavor = "multi_thread")]
async fn random_reorgs_leave_the_database_equal_to_the_chain() -> anyhow::Result<()> {
    let seed = chaos_seed("reorg chaos");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    let follower = an_indexer_follows_blocks_of_random_events(&stack, &node, &mut rng).await?;

    const REORGS: usize = 60;
    let deep_at = rng.gen_range(10..REORGS - 10);
    let mut tally = Tally::default();
    while tally.performed < REORGS {
        let round_head = node.head().await?;
        let before = ReorgCounters::read(&follower);
        let deep = (tally.performed..tally.performed + 2).contains(&deep_at);
        let round = one_or_two_random_reorgs_then_new_blocks(&node, &mut rng, deep, round_head, &mut tally).await?;
        tally.rounds += 1;
        let what = format!(
            "seed {seed}, round {} (reorgs forking {:?} blocks down from head {round_head})",
            tally.rounds, round.forks
        );
        tally.last = caught_up_the_database_equals_the_chain_at_once(&stack, &node, &follower, &what).await?;
        the_reorg_was_detected_and_undone_as_deep_as_needed(&stack, &follower, &round, &before, &what, &mut tally)?;
    }

    let detected = reorgs(&follower.metrics, &follower.labels);
    assert!(detected > 0, "no reorg detected");
    assert!(!follower.following.is_finished(), "run() returned during the reorgs");
    follower.following.shutdown().await?;
    let Tally { performed, rounds, doubles, replaced, with_txs, resyncs, deepest, last, shallow_resyncs } = tally;
    println!(
        "reorg chaos: seed {seed}, {performed} reorgs in {rounds} rounds ({doubles} with two reorgs before catching up; \
         forced deep one #{deep_at}), {with_txs} with replacement events, {replaced} forked the chain (an empty block \
         replaced by an empty one in the same second is the same block); indexer detected {detected} (re-synced from \
         the start {resyncs} times, of which {} after a single reorg within the kept window: {shallow_resyncs:?}; \
         deepest undo {deepest} blocks); final head {}, {} events; {:.1} s",
        shallow_resyncs.len(),
        last.head,
        last.events,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// An indexer following the head on a tokio task, with its metrics.
struct Follower {
    following: Following,
    metrics: std::sync::Arc<Metrics>,
    labels: ContractLabels,
    chain_id: u64,
}

/// Counts of the reorg test, over every round.
#[derive(Default)]
struct Tally {
    /// Reorgs performed.
    performed: usize,
    /// Rounds (one or two reorgs, then catching up).
    rounds: usize,
    /// Rounds with two reorgs.
    doubles: usize,
    /// Reorgs that forked the chain.
    replaced: usize,
    /// Reorgs whose new branch carries its own events.
    with_txs: usize,
    /// Rounds re-synced from the start block.
    resyncs: usize,
    /// The most blocks undone in one round.
    deepest: u64,
    /// The database as of the last round.
    last: Mirror,
    /// Reorgs within the kept window that still re-synced from the start (no kept hash below the fork).
    shallow_resyncs: Vec<String>,
}

/// One round's reorgs.
struct Round {
    /// The head when the round started (where the indexer's cursor stood).
    round_head: u64,
    /// Reorgs in the round: one or two.
    steps: usize,
    /// How far down each reorg really forked.
    forks: Vec<u64>,
    /// Whether a reorg replaced a block the indexer had certainly indexed.
    forked_seen: bool,
    /// Whether this is the forced deep reorg, deeper than the kept window.
    deep: bool,
}

/// The reorg metrics before a round.
struct ReorgCounters {
    /// Sum and count of the reorg depth histogram.
    depths: (f64, u64),
    /// Reorgs detected.
    reorgs: u64,
}

impl ReorgCounters {
    fn read(follower: &Follower) -> Self {
        let (metrics, labels) = (&follower.metrics, &follower.labels);
        Self { depths: depths(metrics, labels), reorgs: reorgs(metrics, labels) }
    }
}

/// Blocks of random events, then enough empty blocks that a 64-block reorg never reaches the deployment; an indexer
/// in small ranges follows and has caught up.
async fn an_indexer_follows_blocks_of_random_events(
    stack: &Stack,
    node: &Node,
    rng: &mut StdRng,
) -> anyhow::Result<Follower> {
    node.set_automine(false).await?;
    // Events, then enough empty blocks that a 64-block reorg never reaches the deployment.
    for _ in 0..10 {
        node.mine_events(rng.gen_range(0..=8)).await?;
    }
    node.call("anvil_mine", json!(["0x46"])).await?;

    // Small ranges: a re-sync takes many commits, so reorgs and new blocks land while it runs.
    let config = IndexerConfig {
        start_block: stack.deploy_block,
        batch_blocks: 4,
        max_batch_blocks: 16,
        concurrency: 2,
        poll_interval: Duration::from_millis(50),
        kept_blocks: KEPT,
        ..IndexerConfig::new(stack.registry)
    };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    let (metrics, labels, chain_id) = (indexer.metrics().clone(), labels(&indexer, stack.registry), indexer.chain_id());
    let following = Following::spawn(indexer);
    wait_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(30))
        .await?;
    Ok(Follower { following, metrics, labels, chain_id })
}

/// One round: a random reorg, sometimes two, each followed by a few blocks of events on the new branch.
async fn one_or_two_random_reorgs_then_new_blocks(
    node: &Node,
    rng: &mut StdRng,
    deep: bool,
    round_head: u64,
    tally: &mut Tally,
) -> anyhow::Result<Round> {
    // Now and then a second reorg follows before the indexer has caught up with the first (mid-rewind or
    // mid-read); never around the forced deep one, whose re-sync is checked exactly.
    let steps = if !deep && rng.gen_bool(0.2) { 2 } else { 1 };
    tally.doubles += usize::from(steps == 2);
    // Whether a reorg replaced a block the indexer had certainly indexed (at or below the round's starting head,
    // where its cursor stood): that must be detected. A second reorg may only replace blocks mined after the
    // first one, which the indexer may never have seen; then nothing is there to detect.
    let (mut forked_seen, mut forks) = (false, Vec::new());
    for _ in 0..steps {
        let head = node.head().await?;
        // Half within the kept hashes (the fork is found among them), half anywhere up to 64 blocks.
        let depth = match () {
            _ if deep => rng.gen_range(40..=64),
            _ if rng.gen_bool(0.5) => rng.gen_range(1..=KEPT),
            _ => rng.gen_range(1..=64),
        };
        // Some new branches carry their own events, at random heights of the branch. The forced deep one has an
        // event in its first block, so the chain really forks `depth` blocks down: an empty block replacing an
        // empty block in the same second is the same block.
        let mut txs: Vec<Value> = Vec::new();
        if deep {
            txs.push(json!([node.nonce_tx(), 0]));
        }
        if rng.gen_bool(0.5) {
            tally.with_txs += 1;
            txs.extend((0..rng.gen_range(1..=6)).map(|_| json!([node.nonce_tx(), rng.gen_range(0..depth)])));
        }
        let before = block_hashes(node, head + 1 - depth, head).await?;
        node.call("anvil_reorg", json!([depth, txs])).await?;
        anyhow::ensure!(node.head().await? == head, "anvil_reorg changed the height");
        let after = block_hashes(node, head + 1 - depth, head).await?;
        // The real depth: from the first block that changed.
        let forked = before.iter().zip(&after).position(|(b, a)| b != a).map_or(0, |i| depth - i as u64);
        anyhow::ensure!(!deep || forked == depth, "the forced deep reorg forked {forked} blocks down, not {depth}");
        forked_seen |= forked > 0 && head + 1 - forked <= round_head;
        tally.replaced += usize::from(forked > 0);
        tally.performed += 1;
        forks.push(forked);
        // The new branch grows by a few blocks of events.
        for _ in 0..rng.gen_range(1..=6) {
            node.mine_events(rng.gen_range(0..=20)).await?;
        }
    }
    Ok(Round { round_head, steps, forks, forked_seen, deep })
}

/// Once the cursor reaches the new head, the database must equal the chain now, not eventually.
async fn caught_up_the_database_equals_the_chain_at_once(
    stack: &Stack,
    node: &Node,
    follower: &Follower,
    what: &str,
) -> anyhow::Result<Mirror> {
    let new_head = node.head().await?;
    wait_cursor(&stack.pool, follower.chain_id, stack.registry, new_head + 1, Duration::from_secs(30))
        .await
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    // Caught up past the reorg: the database must equal the chain now, not eventually.
    match compare_db_with_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await? {
        Ok(mirror) => Ok(mirror),
        Err(diff) => {
            let five_seconds = Duration::from_secs(5);
            let later =
                wait_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block, five_seconds)
                    .await
                    .map(|_| "it converged later: the cursor was ahead of the data")
                    .unwrap_or("it did not converge within 5 s either");
            anyhow::bail!("{what}: cursor at {} but {diff}({later})", new_head + 1);
        }
    }
}

/// A round that replaced an indexed block was detected as a reorg; the forced deep one, deeper than the kept window,
/// was undone down to an anchor (at most four times its depth) or re-synced from the start block.
fn the_reorg_was_detected_and_undone_as_deep_as_needed(
    stack: &Stack,
    follower: &Follower,
    round: &Round,
    before: &ReorgCounters,
    what: &str,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let (metrics, labels) = (&follower.metrics, &follower.labels);
    let Round { round_head, steps, forks, forked_seen, deep } = round;
    let ((sum_before, count_before), reorgs_before) = (before.depths, before.reorgs);
    let (sum_after, count_after) = depths(metrics, labels);
    let undone = (sum_after - sum_before) as u64;
    if *forked_seen {
        anyhow::ensure!(
            reorgs(metrics, labels) > reorgs_before,
            "{what}: the chain forked below the indexed head but no reorg was detected"
        );
    }
    // Everything from the start block undone and indexed again.
    let resynced = count_after > count_before && undone >= round_head + 1 - stack.deploy_block;
    if resynced {
        tally.resyncs += 1;
        if *steps == 1 && forks[0] <= KEPT {
            tally.shallow_resyncs.push(format!("round {} depth {}", tally.rounds, forks[0]));
        }
    }
    tally.deepest = tally.deepest.max(undone);
    if *deep {
        // Deeper than the kept window: undone down to an anchor, at most four times the depth, or, when the
        // fork is below every anchor, everything from the start block (`a_reorg_deeper_than_the_window_…`
        // pins each case).
        let depth = forks[0];
        anyhow::ensure!(
            count_after > count_before && undone >= depth && (undone <= 4 * depth || resynced),
            "{what}: {depth} blocks deep, deeper than the {KEPT} kept blocks: undid {undone} blocks"
        );
    }
    Ok(())
}

/// Every fault kind of the chaos proxy between the indexer and anvil, on while it backfills and follows a few
/// thousand events: the indexer never exits, counts the faults, and converges to the chain with the faults on.
#[tokio::test(flavor = "multi_thread")]
async fn rpc_faults_are_survived_and_counted() -> anyhow::Result<()> {
    let seed = chaos_seed("rpc chaos");
    let started = Instant::now();
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    let (proxy, follower) = an_indexer_backfills_through_a_proxy_injecting_every_fault(&stack, &node, seed).await?;
    let converged = it_converges_while_more_events_arrive_through_the_faults(&stack, &node, started).await?;
    every_fault_kind_is_injected_and_counted_while_it_follows(&proxy, &follower, seed).await?;
    assert!(!follower.following.is_finished(), "run() returned during the faults");
    assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    each_injected_kind_is_counted_as_its_class(&proxy, &follower, seed, converged);
    follower.following.shutdown().await?;
    proxy.shutdown().await;
    println!("rpc chaos: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The fault kinds the indexer counts.
const FAULT_KINDS: [&str; 7] = ["timeout", "rate_limited", "http", "malformed", "rpc", "range_limit", "transport"];

/// 1,500 events; an indexer with short retries reads them through a chaos proxy injecting every kind of fault.
async fn an_indexer_backfills_through_a_proxy_injecting_every_fault(
    stack: &Stack,
    node: &Node,
    seed: u64,
) -> anyhow::Result<(ChaosProxy, Follower)> {
    node.set_automine(false).await?;
    for _ in 0..100 {
        node.mine_events(15).await?;
    }
    let faults_on = Faults {
        seed,
        error: 0.1,
        delay: 0.05,
        delay_for: Duration::from_secs(1),
        rate_limit: 0.1,
        truncate: 0.05,
        garbage: 0.05,
        max_log_blocks: Some(20),
    };
    let proxy = ChaosProxy::start(stack.rpc_url.parse()?, faults_on).await?;
    let config = IndexerConfig {
        start_block: stack.deploy_block,
        poll_interval: Duration::from_millis(50),
        retry: RetryPolicy {
            attempts: 6,
            timeout: Duration::from_millis(500),
            base: Duration::from_millis(50),
            cap: Duration::from_secs(1),
        },
        ..IndexerConfig::new(stack.registry)
    };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(proxy.url().as_str())?, config).await?;
    let (metrics, labels, chain_id) = (indexer.metrics().clone(), labels(&indexer, stack.registry), indexer.chain_id());
    let following = Following::spawn(indexer);
    Ok((proxy, Follower { following, metrics, labels, chain_id }))
}

/// More events while it backfills through the faults; it converges to all 3,000. How long that took.
async fn it_converges_while_more_events_arrive_through_the_faults(
    stack: &Stack,
    node: &Node,
    started: Instant,
) -> anyhow::Result<Duration> {
    for _ in 0..10 {
        for _ in 0..10 {
            node.mine_events(15).await?;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mirror =
        wait_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(60))
            .await?;
    let converged = started.elapsed();
    assert_eq!(mirror.by_table.get("nonce_invalidated"), Some(&3_000), "{mirror:?}");
    Ok(converged)
}

/// Keep following (faults still on) until the proxy has injected every kind and the indexer has counted every kind
/// (a fault on a call it does not retry, the read of the `finalized` tag, is not counted).
async fn every_fault_kind_is_injected_and_counted_while_it_follows(
    proxy: &ChaosProxy,
    follower: &Follower,
    seed: u64,
) -> anyhow::Result<()> {
    let (metrics, chain_id) = (&follower.metrics, follower.chain_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = proxy.stats();
        let injected =
            [stats.errors, stats.delays, stats.rate_limits, stats.truncations, stats.garbage, stats.logs_limits];
        let counted =
            ["timeout", "rate_limited", "malformed", "range_limit"].map(|kind| faults(metrics, chain_id, kind));
        let errors = faults(metrics, chain_id, "rpc") + faults(metrics, chain_id, "http");
        if injected.iter().chain(&counted).chain([&errors]).all(|&n| n > 0) {
            return Ok(());
        }
        let counted: Vec<(&str, u64)> =
            FAULT_KINDS.into_iter().map(|kind| (kind, faults(metrics, chain_id, kind))).collect();
        anyhow::ensure!(
            Instant::now() < deadline,
            "seed {seed}: not every fault was injected and counted: {stats:?} {counted:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Each injected kind shows up under the kind the indexer classifies it as, never more often than injected
/// (timeouts aside), and the faults are exported.
fn each_injected_kind_is_counted_as_its_class(proxy: &ChaosProxy, follower: &Follower, seed: u64, converged: Duration) {
    let (metrics, chain_id) = (&follower.metrics, follower.chain_id);
    let counted: Vec<(&str, u64)> =
        FAULT_KINDS.into_iter().map(|kind| (kind, faults(metrics, chain_id, kind))).collect();
    let count = |kind: &str| counted.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
    // Read after the indexer's counters: it keeps polling through the faults, so the proxy's count only grows.
    let stats = proxy.stats();
    let seconds = converged.as_secs_f64();
    println!("rpc chaos: seed {seed}; proxy {stats:?}; indexer rpc_faults {counted:?}; converged in {seconds:.1} s");
    // Each injected kind shows up under the kind the indexer classifies it as.
    let expected = [
        ("timeout (delays)", count("timeout"), stats.delays),
        ("rate_limited (429s)", count("rate_limited"), stats.rate_limits),
        ("rpc + http (errors)", count("rpc") + count("http"), stats.errors),
        ("malformed (truncated + garbage)", count("malformed"), stats.truncations + stats.garbage),
        ("range_limit (eth_getLogs limits)", count("range_limit"), stats.logs_limits),
    ];
    for (kind, indexer_count, injected) in expected {
        assert!(
            indexer_count > 0,
            "seed {seed}: the indexer counted no {kind} fault; proxy injected {injected}: {counted:?}"
        );
        // Each counted fault was injected (reads of the `finalized` tag are not retried or counted, so some injected
        // ones are not). Timeouts are left out: a loaded machine can time a call out on its own.
        if !kind.starts_with("timeout") {
            assert!(
                indexer_count <= injected,
                "seed {seed}: {kind}: indexer counted {indexer_count} > injected {injected}"
            );
        }
    }
    assert!(
        metrics.encode().contains("prova_indexer_rpc_faults_total"),
        "the faults are exported: {}",
        metrics.encode()
    );
}

/// Two instances on one chain and contract: exactly one writes while the other stands by; when the writer shuts
/// down, the standby takes the lock and carries on.
#[tokio::test(flavor = "multi_thread")]
async fn one_writer_and_a_standby_that_takes_over() -> anyhow::Result<()> {
    let started = Instant::now();
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    node.set_automine(false).await?;
    for _ in 0..20 {
        node.mine_events(5).await?;
    }
    let start = |instance: &'static str| {
        let stack = &stack;
        async move {
            let pool = prova_db::connect_and_migrate(&stack.database_url, 4, prova_db::Schema::Registry).await?;
            let config = IndexerConfig {
                start_block: stack.deploy_block,
                poll_interval: Duration::from_millis(50),
                instance: instance.into(),
                ..IndexerConfig::new(stack.registry)
            };
            let indexer = Indexer::new(pool, prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
            anyhow::Ok((indexer.metrics().clone(), labels(&indexer, stack.registry), indexer))
        }
    };
    let (alpha_metrics, labels, alpha) = start("alpha").await?;
    let (beta_metrics, _, beta) = start("beta").await?;
    let chain_id = alpha.chain_id();
    let mut instances =
        [("alpha", alpha_metrics, Some(Following::spawn(alpha))), ("beta", beta_metrics, Some(Following::spawn(beta)))];

    // Both have tried the lock: one holds it, the other stands by.
    let deadline = Instant::now() + Duration::from_secs(20);
    while instances.iter().any(|(_, m, _)| writer(m, &labels).is_none()) {
        anyhow::ensure!(Instant::now() < deadline, "an instance never tried the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..10 {
        node.mine_events(5).await?;
    }
    wait_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(30))
        .await?;
    let gauges: Vec<Option<i64>> = instances.iter().map(|(_, m, _)| writer(m, &labels)).collect();
    let (w, s) = match gauges[..] {
        [Some(1), Some(0)] => (0, 1),
        [Some(0), Some(1)] => (1, 0),
        _ => anyhow::bail!("expected one writer and one standby, writer gauges are {gauges:?}"),
    };
    let (writer_name, standby_name) = (instances[w].0, instances[s].0);
    let writer_commits = commits(&instances[w].1, &labels);
    assert!(writer_commits > 0, "the writer {writer_name} committed nothing");
    assert_eq!(commits(&instances[s].1, &labels), 0, "the standby {standby_name} committed");
    let cursor = cursor_row(&stack.pool, chain_id, stack.registry).await?.expect("cursor");
    assert_eq!(cursor.writer.as_deref(), Some(writer_name), "{cursor:?}");
    println!("lock: {writer_name} writes ({writer_commits} commits), {standby_name} stands by");

    // The writer shuts down; the standby takes over and indexes what comes next.
    instances[w].2.take().expect("writer running").shutdown().await?;
    for _ in 0..10 {
        node.mine_events(5).await?;
    }
    let handover = Instant::now();
    wait_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block, Duration::from_secs(30))
        .await?;
    let took_over = handover.elapsed();
    let standby = &instances[s];
    assert_eq!(writer(&standby.1, &labels), Some(1), "the standby holds the lock");
    assert!(commits(&standby.1, &labels) > 0, "the standby committed nothing after the writer left");
    assert_eq!(commits(&instances[w].1, &labels), writer_commits, "the old writer committed after its shutdown");
    let cursor = cursor_row(&stack.pool, chain_id, stack.registry).await?.expect("cursor");
    assert_eq!(cursor.writer.as_deref(), Some(standby_name), "{cursor:?}");
    assert!(!standby.2.as_ref().expect("standby running").is_finished(), "the standby's run() returned");
    instances[s].2.take().expect("standby running").shutdown().await?;
    println!(
        "lock: {standby_name} took over and converged {:.2} s after the new events; {:.1} s in all",
        took_over.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The shared check can fail: a database that lost a row, holds a stale block hash, has a changed column, or whose
/// cursor lags is reported with a diff naming each difference.
#[tokio::test(flavor = "multi_thread")]
async fn the_chain_check_reports_every_kind_of_difference() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    node.set_automine(false).await?;
    for _ in 0..5 {
        node.mine_events(3).await?;
    }
    let config = IndexerConfig { start_block: stack.deploy_block, ..IndexerConfig::new(stack.registry) };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    indexer.sync_to_head().await?;
    let mirror = assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    assert_eq!(mirror.by_table.get("nonce_invalidated"), Some(&15));

    let run = |sql: &'static str| sqlx::query(sql).execute(&stack.pool);
    run("DELETE FROM nonce_invalidated WHERE ctid = (SELECT min(ctid) FROM nonce_invalidated)").await?;
    run("UPDATE nonce_invalidated SET block_hash = '\\x00' WHERE ctid = (SELECT max(ctid) FROM nonce_invalidated)")
        .await?;
    run("UPDATE nonce_invalidated SET nonce = '\\x01' WHERE log_index = 1").await?;
    run("UPDATE indexer_cursors SET next_block = next_block - 1").await?;
    let diff = compare_db_with_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block)
        .await?
        .expect_err("a tampered database differs from the chain");
    println!("{diff}");
    assert!(diff.contains("nonce_invalidated") && diff.contains("chain     15  db     14  <--"), "{diff}");
    assert!(diff.contains("missing from the database: 7"), "one deleted, one stale hash, five changed nonces: {diff}");
    assert!(diff.contains("extra in the database: 6"), "{diff}");
    assert!(diff.contains("cursor:"), "{diff}");
    Ok(())
}

/// A one-block reorg right after a multi-block range was committed (the end of a backfill, or several blocks
/// between two polls) must be undone above a nearby fork, not by re-syncing from the start block: `kept_blocks`
/// promises that only reorgs deeper than it re-sync.
///
/// After 20 empty blocks in one range the window would hold a single hash, the head's, without the sampled hashes
/// below each range end; the head being replaced would then leave no kept hash canonical and re-sync everything.
/// The test also pins the depth reported: within twice the real depth.
#[tokio::test(flavor = "multi_thread")]
async fn a_shallow_reorg_after_a_multi_block_range_does_not_resync_from_the_start() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    node.set_automine(false).await?;
    for _ in 0..5 {
        node.mine_events(3).await?;
    }
    let config =
        IndexerConfig { start_block: stack.deploy_block, kept_blocks: KEPT, ..IndexerConfig::new(stack.registry) };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    indexer.sync_to_head().await?;
    // More than KEPT blocks without events, indexed in one range.
    node.call("anvil_mine", json!([format!("{:#x}", KEPT + 4)])).await?;
    indexer.sync_to_head().await?;
    // Replace the head block only (with an event, so its hash surely changes).
    node.call("anvil_reorg", json!([1, [[node.nonce_tx(), 0]]])).await?;
    let report = indexer.sync_to_head().await?;
    assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    assert!(report.reorged >= 1, "{report:?}");
    assert!(
        report.reorged <= 2,
        "a 1-block reorg undid {} blocks (re-synced from the start block {}): {report:?}",
        report.reorged,
        stack.deploy_block
    );
    Ok(())
}

/// A reorg deeper than the kept window undoes at most about four times its depth, down to one of the anchors kept
/// below the window, not everything; one forking below every anchor (here: before there is any) re-syncs from the
/// start block. Either way the database ends equal to the chain.
#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_deeper_than_the_window_undoes_down_to_an_anchor() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let node = Node::new(&stack);
    node.set_automine(false).await?;
    node.mine_events(3).await?;
    let config = IndexerConfig {
        start_block: stack.deploy_block,
        kept_blocks: KEPT,
        batch_blocks: 8,
        max_batch_blocks: 8,
        ..IndexerConfig::new(stack.registry)
    };
    let indexer =
        Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?;
    // A reorg forking with the block after the deployment's, deeper than the window, with no anchor yet.
    node.call("anvil_mine", json!([format!("{:#x}", KEPT + 8)])).await?;
    indexer.sync_to_head().await?;
    let head = node.head().await?;
    let depth = head - stack.deploy_block;
    node.call("anvil_reorg", json!([depth, [[node.nonce_tx(), 0]]])).await?;
    let report = indexer.sync_to_head().await?;
    assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    assert_eq!(report.reorged, head + 1 - stack.deploy_block, "re-synced from the start: {report:?}");

    // A long chain later: a 40-block reorg finds an anchor.
    node.call("anvil_mine", json!([format!("{:#x}", 200)])).await?;
    indexer.sync_to_head().await?;
    let depth = 40;
    node.call("anvil_reorg", json!([depth, [[node.nonce_tx(), 0]]])).await?;
    let report = indexer.sync_to_head().await?;
    assert_db_matches_chain(&stack.pool, &stack.rpc_url, stack.registry, stack.deploy_block).await?;
    assert!(
        (depth..=4 * depth).contains(&report.reorged),
        "a {depth}-block reorg undid {} blocks: {report:?}",
        report.reorged
    );
    Ok(())
}
