//! The Sybil benchmark: every algorithm and two peers over seeded ecosystems with 0%, 60%, 74% and 90% Sybil
//! reviewers under each attack of issue 15, printed as markdown tables (see `docs/sybil-benchmark.md`).
//!
//! `cargo bench -p prova-reputation --bench sybil`; `PROVA_SYBIL_SEED=<u64>` changes the seed. The tables depend on
//! the seed only; the run time goes to stderr.

// The generator and the measures: the same files the crate's unit tests compile (`src/sybil/`).
#[path = "../src/sybil/measure.rs"]
mod measure;
#[path = "../src/sybil/world.rs"]
mod world;

use std::time::Instant;

use measure::{Outcome, SCORERS, Scorer, bridge_report, census, evidence_check, outcome};
use prova_reputation::Algorithm;
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

/// The spreads the bridge section tries: how many ring agents the ring pours the bridged trust into.
const SPREADS: [u32; 5] = [1, 2, 4, 8, 16];

fn main() {
    let seed = match std::env::var("PROVA_SYBIL_SEED") {
        Ok(text) => text.trim().parse().expect("PROVA_SYBIL_SEED must be an unsigned 64-bit integer"),
        Err(_) => DEFAULT_SEED,
    };
    let started = Instant::now();
    let attacked: Vec<Share> = SHARES.into_iter().filter(|s| s.sybil_percent > 0).collect();
    // worlds[share][attack]; the 0% world is the honest world, the same whatever the attack.
    let honest = generate(&CONFIG, SHARES[0], Attack::Stuffing, seed);
    let worlds: Vec<Vec<World>> = attacked
        .iter()
        .map(|&share| Attack::ALL.iter().map(|&attack| generate(&CONFIG, share, attack, seed)).collect())
        .collect();

    println!("# Sybil benchmark, seed {seed}");
    println!();
    println!(
        "{} honest agents, each run by an operator who also rates; {} plain honest clients; {} seeds rating {} agents \
         each; operators and plain clients rate {} to {} agents; each Sybil stuffs {} to {} ring agents.",
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
    println!("## Worlds (ballot stuffing), against the field study");
    println!();
    println!(
        "| Sybil reviewers | rated agents | with no honest feedback | the study (chain) | records, fewest to most over \
         the attacks | of those, `trust` says `insufficient_evidence` with counts, over every attack |"
    );
    println!("|---|---|---|---|---|---|");
    let row = |share: Share, worlds: &[World]| {
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
    row(SHARES[0], std::slice::from_ref(&honest));
    for (share, worlds) in attacked.iter().zip(&worlds) {
        row(*share, worlds);
    }

    println!();
    println!("## No Sybils");
    println!();
    println!("| scorer | accuracy | Sybil-backed in top 10 | honest agents scored |");
    println!("|---|---|---|---|");
    for scorer in SCORERS {
        let o = outcome(&honest, scorer);
        println!("| {} | {} | {} | {}/{} |", scorer.name(), accuracy(&o), o.sybil_top10, o.scored, o.honest);
    }

    println!();
    println!("## Attacks: pairwise accuracy · Sybil-backed agents in the top 10 · honest agents scored");
    println!();
    let header: Vec<String> = attacked.iter().map(|s| format!("{}% Sybils ({})", s.sybil_percent, s.chain)).collect();
    println!("| attack | scorer | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(header.len()));
    for (a, attack) in Attack::ALL.iter().enumerate() {
        for scorer in SCORERS {
            let cells: Vec<String> = worlds
                .iter()
                .map(|w| {
                    let o = outcome(&w[a], scorer);
                    format!("{} · {} · {}/{}", accuracy(&o), o.sybil_top10, o.scored, o.honest)
                })
                .collect();
            println!("| {} | {} | {} |", attack.name(), scorer.name(), cells.join(" | "));
        }
    }

    println!();
    println!("## The bridge under `trust`, by how many agents the ring pours the bridged trust into");
    println!();
    println!(
        "| Sybil reviewers | ring agents targeted | bridged client's trust | the Sybils' trust | minimum evidence \
         | ring agents scored | of which in the top 10 | bound | accuracy |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for share in &attacked {
        for spread in SPREADS {
            let config = Config { bridge_spread: spread, ..CONFIG };
            let world = generate(&config, *share, Attack::Bridge, seed);
            let r = bridge_report(&world).expect("a bridge");
            let o = outcome(&world, Scorer::Algorithm(Algorithm::Trust, false));
            println!(
                "| {}% | {spread} | {:.5} | {:.5} | {:.5} | {} | {} | {} | {} |",
                share.sybil_percent,
                r.client_trust,
                r.ring_trust,
                r.min_trust_mass,
                r.ring_scored,
                o.sybil_top10,
                r.bound,
                accuracy(&o),
            );
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
        let trust = Scorer::Algorithm(Algorithm::Trust, false);
        let (now, then) = (outcome(world, trust), outcome(&world.keyed_by_owner_now(), trust));
        println!(
            "| {}% | {} · {} | {} · {} |",
            share.sybil_percent,
            accuracy(&now),
            now.sybil_top10,
            accuracy(&then),
            then.sybil_top10
        );
    }
    eprintln!(
        "generated and scored {} worlds in {:.1} s",
        1 + attacked.len() * Attack::ALL.len(),
        started.elapsed().as_secs_f64()
    );
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

fn accuracy(o: &Outcome) -> String {
    o.accuracy.map_or("-".to_owned(), |a| format!("{a:.3}"))
}
