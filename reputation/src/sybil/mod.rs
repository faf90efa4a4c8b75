//! The Sybil benchmark (test and benchmark code, never part of the library): a seeded generator of ERC-8004
//! ecosystems modelled on the field study arXiv:2606.26028, the attacks of issue 15, and the ranking measures.
//!
//! `world` (the generator) and `measure` (the scorers and measures) are compiled into the unit tests (`cfg(test)`,
//! where `tests` asserts the targets on a small world) and included by `benches/sybil.rs`, which prints the full
//! table; both refer to the library as `prova_reputation`, so the code is the same in both.
//! `docs/sybil-benchmark.md` describes the model and the results.

pub(crate) mod measure;
pub(crate) mod world;

#[cfg(test)]
mod tests;
