//! The reputation cache: the feedback set of each reputation registry (every `NewFeedback`, with its revocation and
//! receipt flags, block time, the rated agent's current owner and its owner when the feedback was given) and, per
//! parameter set, the scores of every agent, kept in [`crate::AppState`].
//!
//! **Owners.** The owner of an agent now is the recipient of its latest indexed ERC-721 `Transfer` (else the owner
//! in its `Registered` event); its owner when a feedback was given is `prova_reputation::owner_at` over its
//! transfers at the `NewFeedback` log's `(block_number, log_index)` (else the owner now). The auditor
//! (`prova_verify::feedback`) applies the same function to raw `Transfer` logs.
//!
//! **Freshness.** Each request reads the cursors (`next_block`, `updated_at`) of the reputation and identity
//! registries, one small query. The indexer moves a cursor in the same transaction that writes or deletes events
//! (forward in `commit_range`, back in `rewind`, away in `purge_registry`), so a set is served only while both
//! cursors read exactly as they did when it was loaded; otherwise it is reloaded before answering. A set is loaded
//! in one `REPEATABLE READ` transaction, so the rows and the cursors it records are one consistent snapshot. A
//! registry without a cursor is never cached.
//!
//! **Deltas.** When the cursors only moved forward, and the hash the indexer kept for the block below the old
//! cursor (`indexed_blocks`) is unchanged (so no reorg rewound below it), only the events from the old cursor on are
//! read and applied: the set is kept per agent, and only the agents those events touch are rebuilt. Otherwise (a
//! rewind, a purge, no kept hash) the set is read in full. When the new blocks hold no relevant event, the set and
//! its computed scores are kept as they are.
//!
//! **Scores.** Computed per `(algorithm, filter, parameters)` over the whole set, once (concurrent requests wait for
//! the first), off the async runtime; the most recent [`MAX_SCORE_ENTRIES`] parameter sets are kept per set, and
//! are dropped with it. Each is read from a `prova_reputation::Scoreboard`, kept with it: the next version of the
//! set (a delta) takes the scoreboard of the same parameter set from the version before (or from an older one, with
//! the agents changed since summed up) and sets again only the agents whose records the new events changed, which
//! gives the full computation's scores bit for bit (`docs/reputation.md`, "Incremental updates"). The query parameters are quantized before they get here (see
//! `super::reputation::ScoreQuery`), so values that differ by nothing meaningful share one entry.
//!
//! **Limits** ([`ScoringLimits`], `docs/api-limits.md`). A `trust` computation whose work, `max_iterations ×
//! (edges + nodes)` of the trust graph, would pass [`ScoringLimits::max_trust_work`] is refused before it starts (400
//! `work_limit`); `mean`, `bayesian` and `decay` are linear in the records. At most
//! [`ScoringLimits::max_concurrent`] computations run at once; a request waits for a slot and gives up with its
//! request (timeout, client gone) before any work is done. Once started, a computation runs to its end (the scoring
//! library has no way to stop one midway): it keeps its slot until then and its result is cached, so it is bounded
//! by the work limit and counts against the concurrency limit even when its request is gone.

use prova_db::DbAddress;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use alloy::primitives::{Address, U256};
use chrono::{DateTime, Utc};
use prova_reputation::{
    self, Algorithm, Feedback, Filter, LogPosition, MAX_DECIMALS, OwnerChange, Params, Score, Scoreboard,
};
use sqlx::{Executor, FromRow, PgConnection, PgPool};

use crate::error::{ApiError, Result};
use crate::views::address;

/// Parameter sets whose scores are kept per feedback set (each holds one `Score` per agent).
pub const MAX_SCORE_ENTRIES: usize = 8;

/// Default of [`ScoringLimits::max_trust_work`]: 250 million graph steps, at most about a second of one core (the
/// bound counts every record as an edge and two nodes; real graphs are smaller). The default 100 iterations fit a
/// registry of about 800,000 feedback records.
pub const DEFAULT_MAX_TRUST_WORK: u64 = 250_000_000;

/// What reputation scoring may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoringLimits {
    /// Most work one `trust` computation may take: `max_iterations × (edges + nodes)`, the graph's size bounded by
    /// `3 × records + registered agents + seeds + 1` (each record gives at most one edge and two nodes). A query
    /// asking for more is refused with a 400 `work_limit` naming the most iterations the set allows.
    pub max_trust_work: u64,
    /// Score computations running at once, over every set and parameter set.
    pub max_concurrent: usize,
}

impl Default for ScoringLimits {
    /// [`DEFAULT_MAX_TRUST_WORK`], and half the CPUs (at least one) at once.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self { max_trust_work: DEFAULT_MAX_TRUST_WORK, max_concurrent: (cpus / 2).max(1) }
    }
}

/// What every score computation of a cache shares: the limits, the slots and the counters.
#[derive(Debug)]
struct Scoring {
    limits: ScoringLimits,
    slots: Arc<tokio::sync::Semaphore>,
    computations: AtomicU64,
    updates: AtomicU64,
    running: AtomicU64,
    peak_running: AtomicU64,
    abandoned: AtomicU64,
}

impl Scoring {
    fn new(limits: ScoringLimits) -> Self {
        Self {
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrent.max(1))),
            computations: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            running: AtomicU64::new(0),
            peak_running: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }
}

/// Counts a computation as running while alive.
struct Running<'a>(&'a Scoring);

impl<'a> Running<'a> {
    fn start(scoring: &'a Scoring) -> Self {
        let now = scoring.running.fetch_add(1, Ordering::SeqCst) + 1;
        scoring.peak_running.fetch_max(now, Ordering::SeqCst);
        Self(scoring)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Set when the request waiting for a computation goes away (its future is dropped).
struct Abandon(Arc<AtomicBool>);

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Which feedback set: a reputation registry and the identity registry whose agents it rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetKey {
    /// Chain id.
    pub chain_id: i64,
    /// The reputation registry.
    pub reputation: Address,
    /// The identity registry it rates (owners and registered agents come from it).
    pub identity: Address,
}

/// An indexer cursor as read: any write or rewind of its contract's events changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CursorVersion {
    next_block: i64,
    updated_at: DateTime<Utc>,
}

/// The cursors of both registries of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    reputation: Option<CursorVersion>,
    identity: Option<CursorVersion>,
}

impl Version {
    /// Whether a set at this version may be cached: both registries have a cursor to compare against.
    fn cacheable(&self) -> bool {
        self.reputation.is_some() && self.identity.is_some()
    }
}

/// Counters of what the cache did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered from a cached set.
    pub hits: u64,
    /// Sets read in full.
    pub full_loads: u64,
    /// Sets brought up to date from the events past the old cursors.
    pub delta_loads: u64,
    /// Score computations (one per parameter set and feedback set).
    pub computations: u64,
    /// Of them, those that updated an earlier version's scoreboard with the agents changed since, rather than scoring
    /// every agent.
    pub updates: u64,
    /// Score computations running now.
    pub running: u64,
    /// The most score computations that ran at once.
    pub peak_running: u64,
    /// Score computations skipped because their request went away before they started.
    pub abandoned: u64,
}

/// The cached set of one key; the async lock makes concurrent requests wait for one load.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<FeedbackSet>>>>;

/// Scores of one parameter set: computed once, by one computation at a time.
#[derive(Debug, Default)]
struct ScoreSlot {
    ranking: OnceLock<Arc<Ranking>>,
    /// The scoreboard the ranking was read from, until the next version of the set takes it to update.
    board: Mutex<Option<Scoreboard>>,
    /// Held by the computation under way (until it ends, even if its request is gone).
    turn: Arc<tokio::sync::Mutex<()>>,
}

type ScoreEntry = (String, Arc<ScoreSlot>);

/// A score slot of an earlier version of the set, whose scoreboard a computation of this version may take: it is
/// brought up to date by setting the agents changed since (`touched`) again.
#[derive(Debug)]
struct Inherited {
    key: String,
    slot: Arc<ScoreSlot>,
    touched: Arc<BTreeSet<U256>>,
}

/// The cache of feedback sets and scores. Cheap to share: keep it in an `Arc`.
pub struct ReputationCache {
    slots: Mutex<HashMap<SetKey, Slot>>,
    hits: AtomicU64,
    full_loads: AtomicU64,
    delta_loads: AtomicU64,
    scoring: Arc<Scoring>,
}

impl Default for ReputationCache {
    fn default() -> Self {
        Self::new(ScoringLimits::default())
    }
}

impl fmt::Debug for ReputationCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sets = self.slots.lock().map(|s| s.len()).unwrap_or_default();
        f.debug_struct("ReputationCache").field("sets", &sets).field("stats", &self.stats()).finish()
    }
}

/// One feedback set at one version of its cursors.
#[derive(Debug)]
pub struct FeedbackSet {
    version: Version,
    /// The hashes the indexer kept for the block below each cursor, when it kept them.
    anchors: Anchors,
    /// The data; shared with the next version when the new blocks hold no relevant event.
    data: Arc<FeedbackData>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Anchors {
    reputation: Option<[u8; 32]>,
    identity: Option<[u8; 32]>,
}

/// A feedback record as stored, before owners and flags are applied.
#[derive(Debug, Clone)]
struct Given {
    /// Where its `NewFeedback` log is.
    at: LogPosition,
    agent_id: U256,
    client: Address,
    feedback_index: u64,
    value: i128,
    decimals: u8,
    tag1: String,
    tag2: String,
    timestamp: i64,
}

type FeedbackKey = (U256, Address, u64);

/// One agent's records. A delta rebuilds only the shards of the agents it touches.
#[derive(Debug, Clone, Default)]
struct Shard {
    /// The agent's owner now (latest `Transfer`, else `Registered`); `None` while the identity registry's index
    /// does not know the agent, and then the records are left out of every score.
    owner: Option<Address>,
    /// Sorted by `(client, feedback_index)`, each key once (the first in log order); owners and flags applied.
    records: Vec<Feedback>,
    /// Where each record's `NewFeedback` log is (aligned with `records`).
    positions: Vec<LogPosition>,
    /// The newest `timestamp` among them.
    newest: Option<i64>,
}

/// The scoring input of a set.
#[derive(Debug)]
pub struct FeedbackData {
    shards: HashMap<U256, Arc<Shard>>,
    /// Each agent's `Transfer`s, in log order (shared with the next version until a new one is read).
    transfers: HashMap<U256, Arc<Vec<OwnerChange>>>,
    /// Owner in each agent's `Registered` event (used when no transfer of it is indexed).
    registered_by: HashMap<U256, Address>,
    /// Every agent registered in the identity registry, ascending.
    registered: Vec<U256>,
    /// The newest `timestamp` of the usable records (the `decay` algorithm's default `now`).
    newest_timestamp: Option<i64>,
    /// Every usable record, sorted by `(agent_id, client, feedback_index)`; built on first use.
    flat: OnceLock<Vec<Feedback>>,
    /// Feedback records the scores read (those of agents whose owner is known).
    usable_records: usize,
    scores: Mutex<VecDeque<ScoreEntry>>,
    /// The score slots of the versions before, newest first, with the agents changed since each.
    inherited: Mutex<Vec<Inherited>>,
    scoring: Arc<Scoring>,
}

/// The shard of `agent` being rebuilt: a copy of its current one on first touch.
fn touch<'a>(touched: &'a mut HashMap<U256, Shard>, shards: &HashMap<U256, Arc<Shard>>, agent: U256) -> &'a mut Shard {
    touched.entry(agent).or_insert_with(|| shards.get(&agent).map(|s| (**s).clone()).unwrap_or_default())
}

/// The scores of every agent of a set under one parameter set, best first.
#[derive(Debug)]
pub struct Ranking {
    /// In `prova_reputation::leaderboard` order: every registered agent, and every agent with feedback.
    pub ranked: Vec<Score>,
    /// Position of each agent in `ranked`.
    pub position: HashMap<U256, usize>,
}

impl ReputationCache {
    /// An empty cache whose score computations keep to `limits`.
    pub fn new(limits: ScoringLimits) -> Self {
        Self {
            slots: Mutex::default(),
            hits: AtomicU64::new(0),
            full_loads: AtomicU64::new(0),
            delta_loads: AtomicU64::new(0),
            scoring: Arc::new(Scoring::new(limits)),
        }
    }

    /// The limits score computations keep to.
    pub fn limits(&self) -> ScoringLimits {
        self.scoring.limits
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            full_loads: self.full_loads.load(Ordering::Relaxed),
            delta_loads: self.delta_loads.load(Ordering::Relaxed),
            computations: self.scoring.computations.load(Ordering::SeqCst),
            updates: self.scoring.updates.load(Ordering::SeqCst),
            running: self.scoring.running.load(Ordering::SeqCst),
            peak_running: self.scoring.peak_running.load(Ordering::SeqCst),
            abandoned: self.scoring.abandoned.load(Ordering::SeqCst),
        }
    }

    /// Takes every computation slot, for tests that need the limit reached.
    #[cfg(test)]
    pub(crate) async fn occupy_every_slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        let all = u32::try_from(self.scoring.limits.max_concurrent.max(1)).expect("a small number of slots");
        self.scoring.slots.clone().acquire_many_owned(all).await.expect("the semaphore is never closed")
    }

    /// The feedback set of `key`, as of the cursors now: from the cache while they have not moved, else loaded
    /// (concurrent requests for one set wait for one load).
    pub async fn feedback_set(&self, pool: &PgPool, key: SetKey) -> Result<Arc<FeedbackSet>> {
        let version = read_version(&mut *pool.acquire().await?, key).await?;
        let slot = {
            let mut slots = self.slots.lock().map_err(|_| ApiError::Internal("reputation cache poisoned".into()))?;
            slots.entry(key).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(set) = cached.as_ref()
            && version.cacheable()
            && set.version == version
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(set.clone());
        }
        let set = self.load(pool, key, cached.as_ref()).await?;
        *cached = set.version.cacheable().then(|| set.clone());
        Ok(set)
    }

    /// Loads the set of `key` in one snapshot, from `previous` when only new events need reading.
    async fn load(&self, pool: &PgPool, key: SetKey, previous: Option<&Arc<FeedbackSet>>) -> Result<Arc<FeedbackSet>> {
        let mut tx = pool.begin().await?;
        // Custom plans only: the reads below run with `block_number >= 0` (a full read) and with a recent block (a
        // delta) through the same prepared statements, and once full reads have made the average custom plan look
        // dear, Postgres switches to a generic plan (a sequential scan of every event: ~10-80 ms per delta read)
        // where the custom plan reads the new rows by index (~0.1 ms). One round trip for both settings.
        (*tx)
            .execute(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = force_custom_plan",
            )
            .await?;
        let version = read_version(&mut tx, key).await?;
        if let Some(previous) = previous
            && version.cacheable()
            && previous.version == version
        {
            // Another request brought it up to date while this one waited.
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(previous.clone());
        }
        let anchors = Anchors {
            reputation: read_anchor(&mut tx, key.chain_id, key.reputation, version.reputation).await?,
            identity: read_anchor(&mut tx, key.chain_id, key.identity, version.identity).await?,
        };

        let delta_from = match previous {
            Some(previous) => delta_start(&mut tx, key, previous, &version).await?,
            None => None,
        };
        let set = match (delta_from, previous) {
            (Some((from_reputation, from_identity)), Some(previous)) => {
                let new = read_events(&mut tx, key, from_reputation, from_identity).await?;
                self.delta_loads.fetch_add(1, Ordering::Relaxed);
                let data = if new.is_empty() {
                    previous.data.clone()
                } else {
                    Arc::new(self.build(Some(previous.data.clone()), new, key).await?)
                };
                FeedbackSet { version, anchors, data }
            }
            _ => {
                let events = read_events(&mut tx, key, 0, 0).await?;
                self.full_loads.fetch_add(1, Ordering::Relaxed);
                FeedbackSet { version, anchors, data: Arc::new(self.build(None, events, key).await?) }
            }
        };
        tx.commit().await?;
        Ok(Arc::new(set))
    }

    /// Applies `events` to `previous` (or to nothing) off the async runtime.
    async fn build(&self, previous: Option<Arc<FeedbackData>>, events: Events, key: SetKey) -> Result<FeedbackData> {
        let scoring = self.scoring.clone();
        tokio::task::spawn_blocking(move || {
            crate::heavy::lower_priority();
            FeedbackData::apply(previous.as_deref(), events, key, scoring)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("building the feedback set panicked: {e}")))
    }
}

impl FeedbackSet {
    /// The highest block of the reputation registry the set includes, or `None` before the first.
    pub fn reputation_block(&self) -> Option<u64> {
        self.version.reputation.and_then(|c| u64::try_from(c.next_block - 1).ok())
    }

    /// The highest block of the identity registry the set includes (owners and registered agents).
    pub fn identity_block(&self) -> Option<u64> {
        self.version.identity.and_then(|c| u64::try_from(c.next_block - 1).ok())
    }

    /// The data.
    pub fn data(&self) -> &Arc<FeedbackData> {
        &self.data
    }
}

impl FeedbackData {
    /// The set after `events`, which follow `previous` in log order. Only the shards of the agents the events
    /// touch are rebuilt; the others are shared with `previous`.
    fn apply(previous: Option<&FeedbackData>, events: Events, key: SetKey, scoring: Arc<Scoring>) -> Self {
        let mut shards = previous.map(|p| p.shards.clone()).unwrap_or_default();
        let mut transfers = previous.map(|p| p.transfers.clone()).unwrap_or_default();
        let mut registered_by = previous.map(|p| p.registered_by.clone()).unwrap_or_default();
        let mut touched: HashMap<U256, Shard> = HashMap::new();

        let new_agents = !events.registrations.is_empty();
        for (agent, change) in events.transfers {
            Arc::make_mut(transfers.entry(agent).or_default()).push(change);
            touch(&mut touched, &shards, agent);
        }
        // Read in log order, each batch after every older one, so already sorted; a stable sort keeps it so.
        for agent in touched.keys() {
            if let Some(history) = transfers.get_mut(agent)
                && !history.is_sorted_by_key(|t| t.at)
            {
                Arc::make_mut(history).sort_by_key(|t| t.at);
            }
        }
        for (agent, owner) in events.registrations {
            registered_by.entry(agent).or_insert(owner);
            touch(&mut touched, &shards, agent);
        }
        let mut bad_decimals = 0u64;
        for g in events.given {
            if g.decimals > MAX_DECIMALS {
                bad_decimals += 1;
                continue;
            }
            let shard = touch(&mut touched, &shards, g.agent_id);
            shard.positions.push(g.at);
            shard.records.push(Feedback {
                agent_id: g.agent_id,
                agent_owner: Address::ZERO,
                owner_at_feedback: Address::ZERO,
                client: g.client,
                feedback_index: g.feedback_index,
                value: g.value,
                decimals: g.decimals,
                tag1: g.tag1,
                tag2: g.tag2,
                revoked: false,
                verified: false,
                timestamp: g.timestamp,
            });
        }
        // Records already in a shard are sorted and come first in log order; a stable sort keeps the first of
        // each key first, and dedup drops the later ones (the contract never repeats a key).
        let mut duplicates = 0usize;
        for shard in touched.values_mut() {
            let mut pairs: Vec<(Feedback, LogPosition)> =
                std::mem::take(&mut shard.records).into_iter().zip(std::mem::take(&mut shard.positions)).collect();
            pairs.sort_by_key(|(f, _)| (f.client, f.feedback_index));
            let before = pairs.len();
            pairs.dedup_by_key(|(f, _)| (f.client, f.feedback_index));
            duplicates += before - pairs.len();
            (shard.records, shard.positions) = pairs.into_iter().unzip();
        }
        for (list, revoked) in [(events.revoked, true), (events.verified, false)] {
            for (agent, client, index) in list {
                let shard = touch(&mut touched, &shards, agent);
                if let Ok(i) = shard.records.binary_search_by_key(&(client, index), |f| (f.client, f.feedback_index)) {
                    if revoked {
                        shard.records[i].revoked = true;
                    } else {
                        shard.records[i].verified = true;
                    }
                }
            }
        }
        let mut unknown = 0usize;
        let changed: BTreeSet<U256> = touched.keys().copied().collect();
        for (agent, mut shard) in touched {
            let history = transfers.get(&agent).map_or(&[][..], |h| h.as_slice());
            shard.owner = history.last().map(|t| t.to).or_else(|| registered_by.get(&agent).copied());
            let owner = shard.owner.unwrap_or_default();
            let Shard { records, positions, .. } = &mut shard;
            for (f, &at) in records.iter_mut().zip(positions.iter()) {
                f.agent_owner = owner;
                f.owner_at_feedback = prova_reputation::owner_at(history, at).unwrap_or(owner);
            }
            shard.newest = shard.records.iter().map(|f| f.timestamp).max();
            if shard.owner.is_none() {
                unknown += shard.records.len();
            }
            shards.insert(agent, Arc::new(shard));
        }
        if duplicates + unknown > 0 || bad_decimals > 0 {
            tracing::warn!(
                chain_id = key.chain_id, reputation = %key.reputation, duplicates, bad_decimals, unknown_agent = unknown,
                "feedback records left out of reputation scores"
            );
        }

        let newest_timestamp = shards.values().filter(|s| s.owner.is_some()).filter_map(|s| s.newest).max();
        let usable_records = shards.values().filter(|s| s.owner.is_some()).map(|s| s.records.len()).sum();
        let registered = match previous {
            Some(p) if !new_agents => p.registered.clone(),
            _ => registered_by.keys().copied().collect::<BTreeSet<_>>().into_iter().collect(),
        };
        let inherited = previous.map(|p| p.inherit(changed)).unwrap_or_default();
        Self {
            shards,
            transfers,
            registered_by,
            registered,
            newest_timestamp,
            flat: OnceLock::new(),
            usable_records,
            scores: Mutex::new(VecDeque::new()),
            inherited: Mutex::new(inherited),
            scoring,
        }
    }

    /// What the next version inherits when the agents `changed` were rebuilt: the score slots of this version, newest
    /// first, then those this one inherited and did not use, each with the agents changed since its own version.
    fn inherit(&self, changed: BTreeSet<U256>) -> Vec<Inherited> {
        let changed = Arc::new(changed);
        let mut out: Vec<Inherited> = Vec::new();
        if let Ok(entries) = self.scores.lock() {
            for (key, slot) in entries.iter().rev() {
                out.push(Inherited { key: key.clone(), slot: slot.clone(), touched: changed.clone() });
            }
        }
        if let Ok(older) = self.inherited.lock() {
            for entry in older.iter() {
                if out.len() < MAX_SCORE_ENTRIES && out.iter().all(|o| o.key != entry.key) {
                    let touched = entry.touched.union(&changed).copied().collect();
                    out.push(Inherited {
                        key: entry.key.clone(),
                        slot: entry.slot.clone(),
                        touched: Arc::new(touched),
                    });
                }
            }
        }
        out.truncate(MAX_SCORE_ENTRIES);
        out
    }

    /// The scoreboard of an earlier version for `key`, if one is left, with the agents changed since.
    fn take_inherited(&self, key: &str) -> Option<(Scoreboard, Arc<BTreeSet<U256>>)> {
        let entry = {
            let mut inherited = self.inherited.lock().ok()?;
            let at = inherited.iter().position(|e| e.key == key)?;
            inherited.remove(at)
        };
        let board = entry.slot.board.lock().ok()?.take()?;
        Some((board, entry.touched))
    }

    /// Every usable record, sorted by `(agent_id, client, feedback_index)`: the input of
    /// `prova_reputation`. Built on first use.
    pub fn feedback(&self) -> &[Feedback] {
        self.flat.get_or_init(|| {
            let mut agents: Vec<(&U256, &Arc<Shard>)> = self.shards.iter().filter(|(_, s)| s.owner.is_some()).collect();
            agents.sort_unstable_by_key(|(agent, _)| **agent);
            agents.iter().flat_map(|(_, s)| s.records.iter().cloned()).collect()
        })
    }

    /// The records of one agent (none while its owner is unknown).
    pub fn records_of(&self, agent_id: U256) -> &[Feedback] {
        self.shards.get(&agent_id).filter(|s| s.owner.is_some()).map_or(&[], |s| &s.records)
    }

    /// Whether the agent has usable records.
    fn is_rated(&self, agent_id: U256) -> bool {
        !self.records_of(agent_id).is_empty()
    }

    /// The newest block time among the records, the `decay` algorithm's default `now`.
    pub fn newest_timestamp(&self) -> Option<i64> {
        self.newest_timestamp
    }

    /// `params` with the defaults that depend on the whole set resolved, so that one agent's records alone give
    /// the same score as the whole set.
    pub fn resolve(&self, params: &Params) -> Params {
        Params { now: params.now.or(self.newest_timestamp), ..params.clone() }
    }

    /// One agent's score, exactly as `prova_reputation::score_agent(whole set, ...)` gives it. `params` must
    /// be [`Self::resolve`]d and valid. `mean`, `bayesian` and `decay` read only the agent's records; `trust` reads
    /// the ranking of the whole set (computed once per parameter set).
    pub async fn score_agent(
        self: &Arc<Self>,
        agent_id: U256,
        algorithm: Algorithm,
        filter: &Filter,
        params: &Params,
    ) -> Result<Score> {
        if algorithm == Algorithm::Trust {
            let ranking = self.ranking(algorithm, filter, params).await?;
            if let Some(&i) = ranking.position.get(&agent_id) {
                return Ok(ranking.ranked[i].clone());
            }
            return Self::absent_score(agent_id, algorithm, filter, params, ranking.ranked.first());
        }
        prova_reputation::score_agent(self.records_of(agent_id), agent_id, filter, algorithm, params).map_err(internal)
    }

    /// The score of an agent with no usable record. The trust graph's iteration count and convergence, and the
    /// evidence an agent needs (`min_trust_mass`), are those of the whole set: taken from `template`, any other
    /// trust score of the same computation.
    fn absent_score(
        agent_id: U256,
        algorithm: Algorithm,
        filter: &Filter,
        params: &Params,
        template: Option<&Score>,
    ) -> Result<Score> {
        let mut score = prova_reputation::score_agent(&[], agent_id, filter, algorithm, params).map_err(internal)?;
        if let (Some(trust), Some(whole)) = (score.trust.as_mut(), template.and_then(|t| t.trust)) {
            trust.iterations = whole.iterations;
            trust.converged = whole.converged;
            trust.min_trust_mass = whole.min_trust_mass;
        }
        Ok(score)
    }

    /// The work bound of a `trust` computation of this set under `params`: `max_iterations × (edges + nodes)`,
    /// with `3 × records + registered agents + seeds + 1` for the graph's size. A 400 `work_limit` past `limits`.
    pub fn check_trust_work(&self, params: &Params, limits: ScoringLimits) -> Result<u64> {
        let size = 3 * self.usable_records as u64 + self.registered.len() as u64 + params.seeds.len() as u64 + 1;
        let work = u64::from(params.max_iterations).saturating_mul(size);
        if work > limits.max_trust_work {
            return Err(ApiError::bad_request(
                "work_limit",
                format!(
                    "max_iterations={} over this registry's trust graph (up to {size} edges and nodes) is up to {work} \
                     steps, past this server's limit of {}; ask for at most {} iterations",
                    params.max_iterations,
                    limits.max_trust_work,
                    limits.max_trust_work / size
                ),
            ));
        }
        Ok(work)
    }

    /// The scores of every agent under one parameter set (`params` [`Self::resolve`]d and valid), best first:
    /// computed on first use under the limits of the module documentation, then kept with the set.
    pub async fn ranking(
        self: &Arc<Self>,
        algorithm: Algorithm,
        filter: &Filter,
        params: &Params,
    ) -> Result<Arc<Ranking>> {
        if algorithm == Algorithm::Trust {
            self.check_trust_work(params, self.scoring.limits)?;
        }
        let key = score_key(algorithm, filter, params);
        let slot = {
            let mut entries = self.scores.lock().map_err(|_| ApiError::Internal("score cache poisoned".into()))?;
            match entries.iter().position(|(k, _)| *k == key) {
                Some(i) => {
                    let entry = entries.remove(i).expect("found above");
                    let slot = entry.1.clone();
                    entries.push_back(entry);
                    slot
                }
                None => {
                    let slot = Arc::new(ScoreSlot::default());
                    entries.push_back((key, slot.clone()));
                    while entries.len() > MAX_SCORE_ENTRIES {
                        entries.pop_front();
                    }
                    slot
                }
            }
        };
        if let Some(ranking) = slot.ranking.get() {
            return Ok(ranking.clone());
        }
        // Every wait below ends with the request: dropping this future gives up the turn and the slot.
        let turn = slot.turn.clone().lock_owned().await;
        if let Some(ranking) = slot.ranking.get() {
            // The computation before ours filled it.
            return Ok(ranking.clone());
        }
        let permit = self
            .scoring
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("the scoring semaphore was closed".into()))?;
        let abandoned = Arc::new(AtomicBool::new(false));
        let _abandon = Abandon(abandoned.clone());
        let (data, filter, params) = (self.clone(), filter.clone(), params.clone());
        tokio::task::spawn_blocking(move || {
            crate::heavy::lower_priority();
            let (_permit, _turn) = (permit, turn);
            if abandoned.load(Ordering::SeqCst) {
                // Nobody waits for this answer any more.
                data.scoring.abandoned.fetch_add(1, Ordering::SeqCst);
                return Err(ApiError::Timeout(0));
            }
            let _running = Running::start(&data.scoring);
            let ranking = data.compute(algorithm, &filter, &params, &slot)?;
            // Kept even when the request is gone by now, so asking again is a hit.
            let _ = slot.ranking.set(ranking.clone());
            Ok(ranking)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("scoring panicked: {e}")))?
    }

    /// The ranking of one parameter set, read from a scoreboard: an earlier version's for the same key brought up to
    /// date by setting the agents changed since, else one filled with every agent. Either gives
    /// `prova_reputation::score_agents` over the whole set, bit for bit; the scoreboard is kept in `slot` for the next
    /// version.
    fn compute(
        &self,
        algorithm: Algorithm,
        filter: &Filter,
        params: &Params,
        slot: &ScoreSlot,
    ) -> Result<Arc<Ranking>> {
        self.scoring.computations.fetch_add(1, Ordering::SeqCst);
        let key = score_key(algorithm, filter, params);
        let mut board = match self.take_inherited(&key) {
            Some((mut board, touched)) => {
                self.scoring.updates.fetch_add(1, Ordering::SeqCst);
                for &agent_id in touched.iter() {
                    board.set_agent(agent_id, self.records_of(agent_id)).map_err(internal)?;
                }
                board
            }
            None => {
                // Decay's default `now` is the newest record of the set, which the scoreboard needs given; with no
                // record at all there is no score that reads it.
                let resolved =
                    Params { now: params.now.or(Some(self.newest_timestamp.unwrap_or(0))), ..params.clone() };
                let mut board = Scoreboard::new(algorithm, filter, &resolved).map_err(internal)?;
                for (&agent_id, shard) in &self.shards {
                    if shard.owner.is_some() && !shard.records.is_empty() {
                        board.set_agent(agent_id, &shard.records).map_err(internal)?;
                    }
                }
                board
            }
        };
        let mut scores = board.scores();
        if let Ok(mut kept) = slot.board.lock() {
            *kept = Some(board);
        }
        let template = scores.first().cloned();
        for &agent_id in &self.registered {
            if !self.is_rated(agent_id) {
                scores.push(Self::absent_score(agent_id, algorithm, filter, params, template.as_ref())?);
            }
        }
        let ranked = prova_reputation::leaderboard(scores);
        let position = ranked.iter().enumerate().map(|(i, s)| (s.agent_id, i)).collect();
        Ok(Arc::new(Ranking { ranked, position }))
    }
}

/// The cache key of a parameter set: the algorithm, the filter and the parameters the algorithm reads.
fn score_key(algorithm: Algorithm, filter: &Filter, params: &Params) -> String {
    let filter = serde_json::to_string(filter).unwrap_or_default();
    match algorithm {
        Algorithm::Mean => format!("mean {filter}"),
        Algorithm::Bayesian => format!("bayesian {filter} {:?} {:?}", params.prior_mean, params.prior_weight),
        Algorithm::Decay => format!("decay {filter} {} {:?}", params.half_life_secs, params.now),
        Algorithm::Trust => {
            let seeds: BTreeSet<Address> = params.seeds.iter().copied().collect();
            format!("trust {filter} {seeds:?} {:?} {:?} {}", params.alpha, params.tolerance, params.max_iterations)
        }
    }
}

/// Scoring fails only on input the set never holds (duplicates, bad decimals, two owners) or parameters the
/// routes validated: a bug if it happens.
fn internal(error: prova_reputation::ReputationError) -> ApiError {
    ApiError::Internal(format!("reputation scoring failed: {error}"))
}

#[derive(FromRow)]
struct CursorRow {
    contract: DbAddress,
    next_block: i64,
    updated_at: DateTime<Utc>,
}

async fn read_version(conn: &mut PgConnection, key: SetKey) -> Result<Version> {
    let rows: Vec<CursorRow> = sqlx::query_as(
        "SELECT contract, next_block, updated_at FROM indexer_cursors WHERE chain_id = $1 AND contract = ANY($2)",
    )
    .bind(key.chain_id)
    .bind(vec![key.reputation.to_vec(), key.identity.to_vec()])
    .fetch_all(&mut *conn)
    .await?;
    let find = |contract: Address| {
        rows.iter()
            .find(|r| r.contract.0 == contract)
            .map(|r| CursorVersion { next_block: r.next_block, updated_at: r.updated_at })
    };
    Ok(Version { reputation: find(key.reputation), identity: find(key.identity) })
}

/// The hash the indexer kept for the block below `cursor`, if any.
async fn read_anchor(
    conn: &mut PgConnection,
    chain_id: i64,
    contract: Address,
    cursor: Option<CursorVersion>,
) -> Result<Option<[u8; 32]>> {
    let Some(cursor) = cursor else { return Ok(None) };
    let hash: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT block_hash FROM indexed_blocks WHERE chain_id = $1 AND contract = $2 AND block_number = $3",
    )
    .bind(chain_id)
    .bind(contract.to_vec())
    .bind(cursor.next_block - 1)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(hash.and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok()))
}

/// Where to read from to bring `previous` to `version`: the old cursors, if both only moved forward and the blocks
/// below them are still the ones `previous` read (their kept hashes are unchanged). `None` means a full read.
async fn delta_start(
    conn: &mut PgConnection,
    key: SetKey,
    previous: &FeedbackSet,
    version: &Version,
) -> Result<Option<(i64, i64)>> {
    let (Some(old_reputation), Some(old_identity), Some(new_reputation), Some(new_identity)) =
        (previous.version.reputation, previous.version.identity, version.reputation, version.identity)
    else {
        return Ok(None);
    };
    if new_reputation.next_block < old_reputation.next_block || new_identity.next_block < old_identity.next_block {
        return Ok(None);
    }
    for (contract, old, anchor) in [
        (key.reputation, old_reputation, previous.anchors.reputation),
        (key.identity, old_identity, previous.anchors.identity),
    ] {
        let Some(anchor) = anchor else { return Ok(None) };
        if read_anchor(conn, key.chain_id, contract, Some(old)).await? != Some(anchor) {
            return Ok(None);
        }
    }
    Ok(Some((old_reputation.next_block, old_identity.next_block)))
}

/// The events of a set from the given blocks on.
#[derive(Default)]
struct Events {
    given: Vec<Given>,
    revoked: Vec<FeedbackKey>,
    verified: Vec<FeedbackKey>,
    transfers: Vec<(U256, OwnerChange)>,
    registrations: Vec<(U256, Address)>,
}

impl Events {
    fn is_empty(&self) -> bool {
        self.given.is_empty()
            && self.revoked.is_empty()
            && self.verified.is_empty()
            && self.transfers.is_empty()
            && self.registrations.is_empty()
    }
}

#[derive(FromRow)]
struct GivenRow {
    block_number: i64,
    log_index: i64,
    agent_id: String,
    client: DbAddress,
    feedback_index: i64,
    value: String,
    value_decimals: i64,
    tag1: String,
    tag2: String,
    block_time: DateTime<Utc>,
}

#[derive(FromRow)]
struct TransferRow {
    agent_id: String,
    from_address: Vec<u8>,
    to_address: Vec<u8>,
    block_number: i64,
    log_index: i64,
}

fn agent_id(text: &str) -> Result<U256> {
    U256::from_str_radix(text, 10).map_err(|_| ApiError::Internal(format!("stored agent id {text} is not a uint256")))
}

fn key_of((id, client, index): (String, Vec<u8>, i64)) -> Result<FeedbackKey> {
    Ok((agent_id(&id)?, address(&client)?, index as u64))
}

/// Reads the events of the set's reputation registry from block `from_reputation` and of its identity registry
/// from block `from_identity`, in log order.
async fn read_events(conn: &mut PgConnection, key: SetKey, from_reputation: i64, from_identity: i64) -> Result<Events> {
    let (chain, reputation, identity) = (key.chain_id, key.reputation.to_vec(), key.identity.to_vec());
    let given: Vec<GivenRow> = sqlx::query_as(
        "SELECT block_number, log_index, agent_id::TEXT AS agent_id, client, feedback_index, value::TEXT AS value,
                value_decimals, tag1, tag2, block_time
         FROM feedback_given WHERE chain_id = $1 AND contract = $2 AND block_number >= $3
         ORDER BY block_number, log_index",
    )
    .bind(chain)
    .bind(&reputation)
    .bind(from_reputation)
    .fetch_all(&mut *conn)
    .await?;
    let mut keys = Vec::new();
    for table in ["feedback_revoked", "feedback_verified"] {
        let rows: Vec<(String, Vec<u8>, i64)> = sqlx::query_as(&format!(
            "SELECT agent_id::TEXT, client, feedback_index FROM {table}
             WHERE chain_id = $1 AND contract = $2 AND block_number >= $3"
        ))
        .bind(chain)
        .bind(&reputation)
        .bind(from_reputation)
        .fetch_all(&mut *conn)
        .await?;
        keys.push(rows.into_iter().map(key_of).collect::<Result<Vec<_>>>()?);
    }
    let verified = keys.pop().unwrap_or_default();
    let revoked = keys.pop().unwrap_or_default();
    let transfers: Vec<TransferRow> = sqlx::query_as(
        "SELECT agent_id::TEXT AS agent_id, from_address, to_address, block_number, log_index FROM agent_transferred
         WHERE chain_id = $1 AND contract = $2 AND block_number >= $3 ORDER BY block_number, log_index",
    )
    .bind(chain)
    .bind(&identity)
    .bind(from_identity)
    .fetch_all(&mut *conn)
    .await?;
    let registrations: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT agent_id::TEXT, owner FROM agent_registered
         WHERE chain_id = $1 AND contract = $2 AND block_number >= $3 ORDER BY block_number, log_index",
    )
    .bind(chain)
    .bind(&identity)
    .bind(from_identity)
    .fetch_all(&mut *conn)
    .await?;

    let given = given
        .into_iter()
        .map(|row| {
            Ok(Given {
                at: position(row.block_number, row.log_index),
                agent_id: agent_id(&row.agent_id)?,
                client: row.client.0,
                feedback_index: row.feedback_index as u64,
                value: row
                    .value
                    .parse()
                    .map_err(|_| ApiError::Internal(format!("stored feedback value {} is not an int128", row.value)))?,
                decimals: u8::try_from(row.value_decimals).unwrap_or(u8::MAX),
                tag1: row.tag1,
                tag2: row.tag2,
                timestamp: row.block_time.timestamp(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let pairs = |rows: Vec<(String, Vec<u8>)>| {
        rows.into_iter().map(|(id, a)| Ok((agent_id(&id)?, address(&a)?))).collect::<Result<Vec<_>>>()
    };
    let transfers = transfers
        .into_iter()
        .map(|row| {
            let change = OwnerChange {
                at: position(row.block_number, row.log_index),
                from: address(&row.from_address)?,
                to: address(&row.to_address)?,
            };
            Ok((agent_id(&row.agent_id)?, change))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Events { given, revoked, verified, transfers, registrations: pairs(registrations)? })
}

/// A stored `(block_number, log_index)` (never negative) as a log position.
fn position(block_number: i64, log_index: i64) -> LogPosition {
    LogPosition { block: block_number.max(0) as u64, log_index: log_index.max(0) as u64 }
}
