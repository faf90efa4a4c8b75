//! The Sybil benchmark: every algorithm and two peers over seeded ecosystems with 0%, 60%, 74% and 90% Sybil
//! reviewers under each attack of issue 15, printed as markdown tables (see `docs/sybil-benchmark.md`).
//!
//! `cargo bench -p prova-reputation --bench sybil`; `PROVA_SYBIL_SEED=<u64>` changes the seed (default 2026). The
//! tables depend on the seed only; the run time goes to stderr.

// The generator and the measures: the same files the crate's unit tests compile (`src/sybil/`).
#[path = "../src/sybil/measure.rs"]
mod measure;
#[path = "../src/sybil/world.rs"]
mod world;

use std::time::Instant;

use measure::{Outcome, SCORERS, Scorer, bridge_report, census, evidence_check, outcome};
use prova_reputation::{Algorithm, DEFAULT_ALPHA};
use world::{Attack, Config, SHARES, Share, World, generate};

/// The seed when `PROVA_SYBIL_SEED` is not set.
const DEFAULT_SEED: u64 = 2026;

/// 200 honest agents, 404 honest reviewers; 606, 1150 and 3636 Sybils at 60%, 74% and 90%.
const CONFIG: Config = Config {
    honest_agents: 200,
    plain_clients: 200,
    seeds: 4,
    ratings_per_client: (4, 12),
    ratings_per_seed: 30,
    ratings_per_sybil: (3, 8),
    bridge_spread: 1,
};

/// How many agents the ring pours the bridged trust into, in the bridge section.
const SPREADS: [u32; 5] = [1, 2, 4, 8, 16];
/// The default `alpha` before 2026-12, next to today's in the bridge sections.
const OLD_ALPHA: f64 = 0.15;
/// Seeds in the robustness section: the seed and the next nineteen.
const SEEDS: u64 = 20;

const TRUST: Scorer = Scorer::Algorithm(Algorithm::Trust, false);

fn main() {
    let seed = match std::env::var("PROVA_SYBIL_SEED") {
        Ok(text) => text.trim().parse().expect("PROVA_SYBIL_SEED must be an unsigned 64-bit integer"),
        Err(_) => DEFAULT_SEED,
    };
    let started = Instant::now();
    let attacked: Vec<Share> = SHARES.into_iter().filter(|s| s.sybil_percent > 0).collect();
    // The 0% world is the honest world, the same whatever the attack; worlds[share][attack] for the others.
    let honest = generate(&CONFIG, SHARES[0], Attack::Stuffing, seed);
    let worlds: Vec<Vec<World>> = attacked
        .iter()
        .map(|&share| Attack::ALL.iter().map(|&attack| generate(&CONFIG, share, attack, seed)).collect())
        .collect();

    println!("# Sybil benchmark, seed {seed}");
    println!();
    println!(
        "{} honest agents, each run by an operator who also rates; {} plain honest clients; {} seeds rating {} agents \
         each; operators and plain clients rate {} to {} agents; each Sybil stuffs {} to {} ring agents. `trust` runs \
         with the defaults and the seeds.",
        CONFIG.honest_agents,
        CONFIG.plain_clients,
        CONFIG.seeds,
        CONFIG.ratings_per_seed,
        CONFIG.ratings_per_client.0,
        CONFIG.ratings_per_client.1,
        CONFIG.ratings_per_sybil.0,
        CONFIG.ratings_per_sybil.1,
    );

    println!();
    println!("## Worlds, against the field study");
    println!();
    println!(
        "| Sybil reviewers | rated agents | with no honest feedback | the study (chain) | records, fewest to most over \
         the attacks | of those agents, `trust` answers `insufficient_evidence` with counts, over every attack |"
    );
    println!("|---|---|---|---|---|---|");
    let census_row = |share: Share, worlds: &[World]| {
        let c = census(&worlds[0]);
        let records: Vec<usize> = worlds.iter().map(|w| census(w).records).collect();
        let (orphaned, explicit, inconsistent) = worlds
            .iter()
            .map(evidence_check)
            .fold((0, 0, 0), |acc, e| (acc.0 + e.orphaned, acc.1 + e.explicit, acc.2 + e.inconsistent));
        assert_eq!(inconsistent, 0, "a status that disagrees with its score");
        println!(
            "| {:.1}% ({} of {}) | {} | {:.1}% ({}) | {:.1}% ({}) | {} to {} | {} of {} |",
            percent(c.sybil_reviewers, c.reviewers),
            c.sybil_reviewers,
            c.reviewers,
            c.rated_agents,
            percent(c.orphaned_agents, c.rated_agents),
            c.orphaned_agents,
            f64::from(share.orphaned_per_mille) / 10.0,
            share.chain,
            records.iter().min().expect("worlds"),
            records.iter().max().expect("worlds"),
            explicit,
            orphaned,
        );
    };
    census_row(SHARES[0], std::slice::from_ref(&honest));
    for (share, worlds) in attacked.iter().zip(&worlds) {
        census_row(*share, worlds);
    }

    println!();
    println!("## No Sybils: pairwise accuracy · Sybil-backed agents in the top 10 · honest agents scored");
    println!();
    println!("| scorer | 0% Sybils |");
    println!("|---|---|");
    for scorer in SCORERS {
        println!("| {} | {} |", scorer.name(), cell(&outcome(&honest, scorer)));
    }

    println!();
    println!("## Attacks: pairwise accuracy · Sybil-backed agents in the top 10 · honest agents scored");
    println!();
    let header: Vec<String> = attacked.iter().map(|s| format!("{}% Sybils ({})", s.sybil_percent, s.chain)).collect();
    println!("| attack | scorer | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(header.len()));
    for (a, attack) in Attack::ALL.iter().enumerate() {
        for scorer in SCORERS {
            let cells: Vec<String> = worlds.iter().map(|w| cell(&outcome(&w[a], scorer))).collect();
            println!("| {} | {} | {} |", attack.name(), scorer.name(), cells.join(" | "));
        }
    }

    println!();
    println!("## The bridge under `trust`, by how many ring agents the ring pours the bridged trust into");
    println!();
    println!(
        "| alpha | Sybil reviewers | ring agents targeted | bridged client's trust (agents it rates) | the Sybils' \
         trust | minimum evidence | ring agents scored | of which in the top 10 | bound | accuracy · honest scored |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for alpha in [DEFAULT_ALPHA, OLD_ALPHA] {
        for share in &attacked {
            for spread in SPREADS {
                let world = bridged(*share, spread, alpha, seed);
                let r = bridge_report(&world).expect("a bridge");
                let o = outcome(&world, TRUST);
                println!(
                    "| {alpha} | {}% | {spread} | {:.5} ({}) | {:.5} | {:.5} | {} | {} | {} | {} · {}/{} |",
                    share.sybil_percent,
                    r.client_trust,
                    r.client_votes,
                    r.ring_trust,
                    r.min_trust_mass,
                    r.ring_scored,
                    o.sybil_top10,
                    r.bound,
                    accuracy(&o),
                    o.scored,
                    o.honest,
                );
            }
        }
    }

    println!();
    println!("## The bought token under `trust`, by which owner a rating's trust goes to");
    println!();
    println!("| Sybil reviewers | owner at feedback (prova) | owner now (the rule before) |");
    println!("|---|---|---|");
    let bought = Attack::ALL.iter().position(|&a| a == Attack::BoughtToken).expect("an attack");
    for (share, worlds) in attacked.iter().zip(&worlds) {
        let world = &worlds[bought];
        let (now, then) = (outcome(world, TRUST), outcome(&world.keyed_by_owner_now(), TRUST));
        println!("| {}% | {} | {} |", share.sybil_percent, cell(&now), cell(&then));
    }

    println!();
    println!(
        "## `trust` at 74% Sybils over seeds {seed} to {}: worst pairwise accuracy · most Sybil-backed agents in the top 10",
        seed + SEEDS - 1
    );
    println!();
    let share = SHARES.into_iter().find(|s| s.sybil_percent == 74).expect("the 74% share");
    let seeds: Vec<u64> = (seed..seed + SEEDS).collect();
    println!("| attack | alpha {DEFAULT_ALPHA} |");
    println!("|---|---|");
    for attack in Attack::ALL {
        let outcomes: Vec<Outcome> =
            seeds.iter().map(|&s| outcome(&generate(&CONFIG, share, attack, s), TRUST)).collect();
        println!("| {} | {} |", attack.name(), worst(&outcomes));
    }
    for alpha in [DEFAULT_ALPHA, OLD_ALPHA] {
        let outcomes: Vec<Outcome> = seeds
            .iter()
            .flat_map(|&s| SPREADS.map(|spread| outcome(&bridged(share, spread, alpha, s), TRUST)))
            .collect();
        println!("| bridge, the ring's best spread, alpha {alpha} | {} |", worst(&outcomes));
    }
    eprintln!("generated and scored in {:.1} s", started.elapsed().as_secs_f64());
}

/// The bridge world of `seed` at `share`, the ring pouring into `spread` agents, scored with `alpha`.
fn bridged(share: Share, spread: u32, alpha: f64, seed: u64) -> World {
    let config = Config { bridge_spread: spread, ..CONFIG };
    World { alpha, ..generate(&config, share, Attack::Bridge, seed) }
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

fn accuracy(o: &Outcome) -> String {
    o.accuracy.map_or("-".to_owned(), |a| format!("{a:.3}"))
}

fn cell(o: &Outcome) -> String {
    format!("{} · {} · {}/{}", accuracy(o), o.sybil_top10, o.scored, o.honest)
}

/// The lowest accuracy and the most Sybil-backed top-10 slots over `outcomes`.
fn worst(outcomes: &[Outcome]) -> String {
    let low = outcomes.iter().filter_map(|o| o.accuracy).fold(f64::INFINITY, f64::min);
    let most = outcomes.iter().map(|o| o.sybil_top10).max().unwrap_or(0);
    format!("{low:.3} · {most}")
}
