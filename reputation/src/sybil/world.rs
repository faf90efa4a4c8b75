//! The generator: a seeded ERC-8004 ecosystem of agents with a hidden true quality, honest clients who rate them
//! noisily, seeds, and Sybil reviewers who attack in one of the ways of [`Attack`].
//!
//! Two random streams keep comparisons fair: the honest world (qualities, honest ratings, revocations, receipts)
//! comes from the seed alone, so it is the same in every row of a run; the attack comes from the seed, the Sybil
//! share and the attack.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};
use prova_reputation::{DEFAULT_ALPHA, Feedback};
use rand::rngs::StdRng;
use rand::seq::index;
use rand::{Rng, SeedableRng};

/// 2026-01-01T00:00:00Z: the first honest rating.
const T0: i64 = 1_767_225_600;
const DAY: i64 = 24 * 60 * 60;
/// Honest ratings fall in days 0..150.
const HONEST_DAYS: i64 = 150;
/// Camouflage ratings fall in days 0..120.
const CAMOUFLAGE_DAYS: i64 = 120;
/// Transfers and re-registrations happen on day 150; attacks fall in days 150..180.
const ATTACK_START: i64 = T0 + HONEST_DAYS * DAY;
const ATTACK_DAYS: i64 = 30;

/// The size of an ecosystem.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    /// Agents run by honest operators, ids `1..=honest_agents`; each operator also rates other agents.
    pub(crate) honest_agents: u32,
    /// Honest clients that own no agent.
    pub(crate) plain_clients: u32,
    /// Seeds: honest auditors whose addresses `trust` starts from.
    pub(crate) seeds: u32,
    /// How many distinct agents each operator and plain client rates (inclusive range).
    pub(crate) ratings_per_client: (u32, u32),
    /// How many distinct agents each seed rates.
    pub(crate) ratings_per_seed: u32,
    /// How many distinct ring agents each Sybil rates 100 (inclusive range).
    pub(crate) ratings_per_sybil: (u32, u32),
    /// Under [`Attack::Bridge`], how many ring agents the ring owners pour their votes into: the bridged one and the
    /// next `bridge_spread - 1`.
    pub(crate) bridge_spread: u32,
}

impl Config {
    /// Every honest reviewer: operators, plain clients and seeds.
    pub(crate) fn honest_reviewers(&self) -> u32 {
        self.honest_agents + self.plain_clients + self.seeds
    }
}

/// A Sybil share of the reviewers, with the share of rated agents left with no honest feedback that the field study
/// (arXiv:2606.26028) measured on the chain with about that share; the ring gets that many agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    /// Sybil reviewers, in percent of all reviewers.
    pub(crate) sybil_percent: u32,
    /// Rated agents with no honest feedback, in per mille of all rated agents.
    pub(crate) orphaned_per_mille: u32,
    /// Where the study measured it.
    pub(crate) chain: &'static str,
}

/// The four shares of the benchmark: none, BSC (59.2% Sybils, 72.3% orphaned), Ethereum (73.6%, 15.5%) and Base
/// (90.6%, 89.4%), rounded as the issue states them.
pub(crate) const SHARES: [Share; 4] = [
    Share { sybil_percent: 0, orphaned_per_mille: 0, chain: "-" },
    Share { sybil_percent: 60, orphaned_per_mille: 723, chain: "BSC" },
    Share { sybil_percent: 74, orphaned_per_mille: 155, chain: "Ethereum" },
    Share { sybil_percent: 90, orphaned_per_mille: 894, chain: "Base" },
];

impl Share {
    /// Sybil reviewers for `honest` honest ones, rounded to the nearest.
    pub(crate) fn sybils(self, honest: u32) -> u32 {
        let (s, h) = (u64::from(self.sybil_percent), 100 - u64::from(self.sybil_percent));
        ((u64::from(honest) * s * 2 + h) / (2 * h)) as u32
    }

    /// Ring agents for `honest` honestly rated ones, rounded to the nearest.
    pub(crate) fn ring_agents(self, honest: u32) -> u32 {
        let (o, h) = (u64::from(self.orphaned_per_mille), 1000 - u64::from(self.orphaned_per_mille));
        ((u64::from(honest) * o * 2 + h) / (2 * h)) as u32
    }
}

/// How the Sybils attack. Every attack includes ballot stuffing (the ring rating its own agents 100, which is what
/// leaves agents with no honest feedback in the field study) unless it is the only thing they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Attack {
    /// Each Sybil rates a few ring agents 100.
    Stuffing,
    /// Stuffing, and each Sybil rates one to three of the best fifth of honest agents 0.
    BadMouthing,
    /// Each Sybil first rates a few honest agents honestly (days 0..120), then stuffs and bad-mouths.
    Camouflage,
    /// Stuffing, and one seed-reachable honest operator rates one ring agent 100; the ring then uses the trust: that
    /// agent's owner rates every ring agent 100, and the other ring owners rate only the bridged agent and the next
    /// [`Config::bridge_spread`]` - 1` ring agents (the plain Sybils stuff as usual).
    Bridge,
    /// Stuffing with receipts: the ring agents sign receipts for their own Sybils, so the stuffing is `verified`.
    Receipts,
    /// Stuffing, and the owners of the worst twentieth of honest agents re-register them under new ids, which the
    /// ring stuffs (and a few honest clients rate honestly).
    Whitewashing,
    /// Stuffing, and a Sybil buys a seed-rated honest agent after its ratings, then rates ten ring agents 100.
    BoughtToken,
    /// All of the above at once.
    Mixed,
}

impl Attack {
    /// Every attack, in table order.
    pub(crate) const ALL: [Attack; 8] = [
        Self::Stuffing,
        Self::BadMouthing,
        Self::Camouflage,
        Self::Bridge,
        Self::Receipts,
        Self::Whitewashing,
        Self::BoughtToken,
        Self::Mixed,
    ];

    /// The attack's name in the table.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Stuffing => "ballot stuffing",
            Self::BadMouthing => "bad-mouthing",
            Self::Camouflage => "camouflage",
            Self::Bridge => "bridge",
            Self::Receipts => "self-minted receipts",
            Self::Whitewashing => "whitewashing",
            Self::BoughtToken => "bought token",
            Self::Mixed => "mixed (all)",
        }
    }

    fn uses(self, technique: Attack) -> bool {
        self == technique || self == Self::Mixed
    }
}

/// A generated ecosystem and the truth behind it.
#[derive(Debug, Clone)]
pub(crate) struct World {
    /// Every feedback record, with the owners now and at feedback time.
    pub(crate) feedback: Vec<Feedback>,
    /// The seeds to pass to `trust`.
    pub(crate) seeds: Vec<Address>,
    /// The honest operators' agents still owned by them, with their hidden quality (0..=100): the agents ranking
    /// accuracy is measured over. An agent sold to the attacker is not among them.
    pub(crate) quality: BTreeMap<U256, i32>,
    /// The agents the attack promotes: the ring's agents and whitewashed ids.
    pub(crate) sybil_backed: BTreeSet<U256>,
    /// The ring's agents, each owned by a Sybil.
    pub(crate) ring: BTreeSet<U256>,
    /// Every Sybil reviewer.
    pub(crate) sybils: BTreeSet<Address>,
    /// Every honest reviewer.
    pub(crate) honest: BTreeSet<Address>,
    /// The bridged honest client and the ring agent it rated, under [`Attack::Bridge`].
    pub(crate) bridge: Option<(Address, U256)>,
    /// The agent sold to the attacker and its buyer, under [`Attack::BoughtToken`].
    pub(crate) bought: Option<(U256, Address)>,
    /// The `alpha` to run `trust` with: the default, unless a caller hardens it.
    pub(crate) alpha: f64,
}

/// The address of the `i`-th participant of a kind: 1 operator, 2 plain client, 3 seed, 4 Sybil.
fn address(kind: u8, i: u32) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = kind;
    bytes[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

const OPERATOR: u8 = 1;
const PLAIN: u8 = 2;
const SEED: u8 = 3;
const SYBIL: u8 = 4;
/// Ring agents are `RING_IDS + 1..`, whitewashed ids `NEW_IDS + 1..`.
const RING_IDS: u64 = 100_000;
const NEW_IDS: u64 = 200_000;

/// The records being built, with the owner of every agent as it changes.
struct Builder {
    feedback: Vec<Feedback>,
    next_index: BTreeMap<(U256, Address), u64>,
    owner: BTreeMap<U256, Address>,
}

impl Builder {
    fn rate(&mut self, agent: U256, client: Address, value: i32, timestamp: i64, verified: bool, revoked: bool) {
        let index = self.next_index.entry((agent, client)).or_insert(0);
        *index += 1;
        let owner = self.owner[&agent];
        self.feedback.push(Feedback {
            agent_id: agent,
            agent_owner: owner,
            owner_at_feedback: owner,
            client,
            feedback_index: *index,
            value: i128::from(value),
            decimals: 0,
            tag1: String::new(),
            tag2: String::new(),
            revoked,
            verified,
            timestamp,
        });
    }

    /// The records, each carrying its agent's final owner as `agent_owner`.
    fn finish(mut self) -> Vec<Feedback> {
        for f in &mut self.feedback {
            f.agent_owner = self.owner[&f.agent_id];
        }
        self.feedback
    }
}

/// An honest rating of an agent of quality `q` by a reviewer with bias `bias`: `q + bias` plus the sum of three
/// uniform integers in -8..=8 (standard deviation 8.9), clamped to 0..=100. Integers only, so it is exact everywhere.
fn honest_value(rng: &mut StdRng, q: i32, bias: i32) -> i32 {
    let noise: i32 = (0..3).map(|_| rng.gen_range(-8..=8)).sum();
    (q + bias + noise).clamp(0, 100)
}

/// `k` distinct entries of `from`, in sampled order (all of them if `k` is larger).
fn pick<T: Copy>(rng: &mut StdRng, from: &[T], k: u32) -> Vec<T> {
    let k = (k as usize).min(from.len());
    index::sample(rng, from.len(), k).into_iter().map(|i| from[i]).collect()
}

fn day_in(rng: &mut StdRng, start: i64, days: i64) -> i64 {
    start + rng.gen_range(0..days * DAY)
}

/// The ecosystem of `seed` at `share` under `attack`.
pub(crate) fn generate(config: &Config, share: Share, attack: Attack, seed: u64) -> World {
    let honest_ids: Vec<U256> = (1..=u64::from(config.honest_agents)).map(U256::from).collect();
    let mut b = Builder { feedback: Vec::new(), next_index: BTreeMap::new(), owner: BTreeMap::new() };
    let mut truth = BTreeMap::new();

    // The honest world: the same for every share and attack of a seed.
    let mut rng = StdRng::seed_from_u64(seed);
    for (i, &id) in honest_ids.iter().enumerate() {
        b.owner.insert(id, address(OPERATOR, i as u32));
        truth.insert(id, rng.gen_range(10..=90));
    }
    let operators = (0..config.honest_agents).map(|i| (address(OPERATOR, i), Some(honest_ids[i as usize])));
    let plain = (0..config.plain_clients).map(|i| (address(PLAIN, i), None));
    let seeds: Vec<Address> = (0..config.seeds).map(|i| address(SEED, i)).collect();
    let mut honest = BTreeSet::new();
    for (client, own) in operators.chain(plain).chain(seeds.iter().map(|&s| (s, None))) {
        honest.insert(client);
        let bias = rng.gen_range(-4..=4);
        let k = if client[0] == SEED {
            config.ratings_per_seed
        } else {
            rng.gen_range(config.ratings_per_client.0..=config.ratings_per_client.1)
        };
        let others: Vec<U256> = honest_ids.iter().copied().filter(|&id| Some(id) != own).collect();
        for agent in pick(&mut rng, &others, k) {
            let time = day_in(&mut rng, T0, HONEST_DAYS);
            // One rating in twenty is a mis-click the client revokes before rating again.
            if rng.gen_bool(0.05) {
                let slip = rng.gen_range(0..=100);
                b.rate(agent, client, slip, time, false, true);
            }
            let value = honest_value(&mut rng, truth[&agent], bias);
            let verified = rng.gen_bool(0.5);
            b.rate(agent, client, value, time, verified, false);
        }
    }
    let honest_list: Vec<Address> = honest.iter().copied().filter(|a| a[0] != SEED).collect();

    // The attack.
    let mut rng = StdRng::seed_from_u64(
        seed ^ (u64::from(share.sybil_percent) << 40) ^ ((attack as u64 + 1) << 48) ^ 0x5eed_5eed,
    );
    let mut world = World {
        feedback: Vec::new(),
        seeds: seeds.clone(),
        quality: truth.clone(),
        sybil_backed: BTreeSet::new(),
        ring: BTreeSet::new(),
        sybils: BTreeSet::new(),
        honest,
        bridge: None,
        bought: None,
        alpha: DEFAULT_ALPHA,
    };
    let sybils: Vec<Address> = (0..share.sybils(config.honest_reviewers())).map(|i| address(SYBIL, i)).collect();
    let ring_count = share.ring_agents(config.honest_agents).min(sybils.len() as u32);
    if sybils.is_empty() || ring_count < 2 {
        world.feedback = b.finish();
        return world;
    }
    world.sybils = sybils.iter().copied().collect();
    // Ring agent k is owned by Sybil k.
    let ring: Vec<U256> = (1..=u64::from(ring_count)).map(|k| U256::from(RING_IDS + k)).collect();
    for (k, &id) in ring.iter().enumerate() {
        b.owner.insert(id, sybils[k]);
        world.sybil_backed.insert(id);
        world.ring.insert(id);
    }
    let attack_time = |rng: &mut StdRng| day_in(rng, ATTACK_START, ATTACK_DAYS);
    let receipts = attack.uses(Attack::Receipts);

    // The best fifth of honest agents: the competitors bad-mouthing targets.
    let mut by_quality: Vec<U256> = honest_ids.clone();
    by_quality.sort_by_key(|id| (std::cmp::Reverse(truth[id]), *id));
    let competitors = &by_quality[..by_quality.len().div_ceil(5)];

    // The bridge: an operator a seed rated (so seed-reachable) rates the first ring agent 100.
    let seed_rated: BTreeSet<U256> =
        b.feedback.iter().filter(|f| f.client[0] == SEED && !f.revoked).map(|f| f.agent_id).collect();
    let seed_rated: Vec<U256> = seed_rated.into_iter().collect();
    let bridged = ring[0];
    if attack.uses(Attack::Bridge) {
        let agent = pick(&mut rng, &seed_rated, 1)[0];
        let client = b.owner[&agent];
        let time = attack_time(&mut rng);
        b.rate(bridged, client, 100, time, rng.gen_bool(0.5), false);
        world.bridge = Some((client, bridged));
    }

    // The bought token: a seed-rated agent (not the bridged client's) passes to the first Sybil without an agent after
    // every honest rating; the buyer rates ten ring agents 100.
    if attack.uses(Attack::BoughtToken) {
        let bridge_agent =
            world.bridge.and_then(|(client, _)| honest_ids.iter().copied().find(|id| b.owner.get(id) == Some(&client)));
        let candidates: Vec<U256> = seed_rated.iter().copied().filter(|&id| Some(id) != bridge_agent).collect();
        let agent = pick(&mut rng, &candidates, 1)[0];
        let buyer = sybils.get(ring.len()).copied().unwrap_or(sybils[0]);
        b.owner.insert(agent, buyer);
        world.quality.remove(&agent);
        world.bought = Some((agent, buyer));
        for target in pick(&mut rng, &ring, 10) {
            if b.owner[&target] != buyer {
                let time = attack_time(&mut rng);
                b.rate(target, buyer, 100, time, receipts, false);
            }
        }
    }

    // Whitewashing: the worst twentieth of honest agents come back under new ids, owned by the same operators.
    let mut new_ids = Vec::new();
    if attack.uses(Attack::Whitewashing) {
        let worst: Vec<U256> = by_quality.iter().rev().take(by_quality.len().div_ceil(20)).copied().collect();
        for (j, old) in worst.into_iter().enumerate() {
            let id = U256::from(NEW_IDS + 1 + j as u64);
            b.owner.insert(id, b.owner[&old]);
            world.sybil_backed.insert(id);
            new_ids.push(id);
            // The service is as bad as before: a few honest clients say so.
            let q = truth[&old];
            let count = rng.gen_range(2..=4);
            for client in pick(&mut rng, &honest_list, count) {
                if Some(&client) != b.owner.get(&id) {
                    let (value, time) = (honest_value(&mut rng, q, 0), attack_time(&mut rng));
                    b.rate(id, client, value, time, rng.gen_bool(0.5), false);
                }
            }
        }
    }

    for (k, &sybil) in sybils.iter().enumerate() {
        let own = ring.get(k).copied();
        if attack.uses(Attack::Camouflage) {
            let count = rng.gen_range(2..=5);
            for agent in pick(&mut rng, &honest_ids, count) {
                let value = honest_value(&mut rng, truth[&agent], 0);
                let time = day_in(&mut rng, T0, CAMOUFLAGE_DAYS);
                b.rate(agent, sybil, value, time, false, false);
            }
        }
        if attack.uses(Attack::Bridge) && own == Some(bridged) {
            // The bridged agent's owner passes what it receives on to every other ring owner.
            for &target in &ring[1..] {
                let time = attack_time(&mut rng);
                b.rate(target, sybil, 100, time, receipts, false);
            }
        } else if attack.uses(Attack::Bridge) && own.is_some() {
            // Every other ring owner sends all of it back to the bridged agent and a few more.
            let spread = ring.iter().take(config.bridge_spread as usize).filter(|&&id| Some(id) != own);
            for &target in spread {
                let time = attack_time(&mut rng);
                b.rate(target, sybil, 100, time, receipts, false);
            }
        } else {
            let others: Vec<U256> = ring.iter().copied().filter(|&id| Some(id) != own).collect();
            let count = rng.gen_range(config.ratings_per_sybil.0..=config.ratings_per_sybil.1);
            for target in pick(&mut rng, &others, count) {
                let time = attack_time(&mut rng);
                b.rate(target, sybil, 100, time, receipts, false);
            }
        }
        if !new_ids.is_empty() && own.is_none() {
            let target = pick(&mut rng, &new_ids, 1)[0];
            let time = attack_time(&mut rng);
            b.rate(target, sybil, 100, time, receipts, false);
        }
        if attack.uses(Attack::BadMouthing) || attack.uses(Attack::Camouflage) {
            let count = rng.gen_range(1..=3);
            for target in pick(&mut rng, competitors, count) {
                let time = attack_time(&mut rng);
                b.rate(target, sybil, 0, time, false, false);
            }
        }
    }
    world.feedback = b.finish();
    world
}

impl World {
    /// The same world with every record's `owner_at_feedback` set to the agent's owner now: the rule `trust` followed
    /// before it sent trust to the owner at feedback time, to show what that rule lets a bought token do.
    pub(crate) fn keyed_by_owner_now(&self) -> World {
        let mut world = self.clone();
        for f in &mut world.feedback {
            f.owner_at_feedback = f.agent_owner;
        }
        world
    }
}
