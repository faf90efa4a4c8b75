//! The end-to-end tests, on a real anvil chain and a real Postgres, in one test binary so that the workspace links
//! it once (nextest still runs every test in its own process). Each module is one area; the shared helpers (the
//! stack, the chaos proxy) are the `prova_e2e` library.

mod agent0;
mod api_fuzz;
mod api_protection;
mod cache;
mod dev;
mod errors;
mod evidence;
mod evidence_bundle;
mod explorer;
mod indexer_chaos;
mod indexer_crash;
mod lying_rpc;
mod outputs;
mod provenance;
mod publish_index_serve_verify;
mod readme;
mod reorg;
mod replica;
mod secrets;
mod sybil;
mod verify_api;
