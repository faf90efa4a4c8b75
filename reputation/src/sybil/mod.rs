//! The Sybil benchmark (test and benchmark code, never part of the library): a seeded generator of ERC-8004
//! ecosystems modelled on the field study arXiv:2606.26028, the attacks of issue 15, and the ranking measures.
//!
//! Compiled into the unit tests (`cfg(test)`, where `tests` asserts the targets on a small world) and included by
//! `benches/sybil.rs`, which prints the full table; both refer to the library as `prova_reputation`, so the code is
//! the same in both. `docs/sybil-benchmark.md` describes the model and the results.

mod measure;
mod world;

#[cfg(test)]
mod tests;

pub(crate) use measure::{
    BridgeReport, Census, EvidenceCheck, Outcome, SCORERS, Scorer, bridge_report, census, crate_scores, evidence_check,
    outcome, params,
};
pub(crate) use world::{Attack, Config, SHARES, Share, World, generate};
