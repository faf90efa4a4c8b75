//! What an auditor runs, checked against the chain alone: a model version (`model`), an output receipt
//! (`outputs`), a reputation registry's feedback read from raw logs for recomputing scores (`feedback`), and the
//! primitives of the whole-API audit (`audit`: reading the event at a stated chain pointer, random samples).
//!
//! This crate may depend on `prova-core`, `prova-chain` and `prova-reputation`; never on the database, the indexer
//! or the API server, so that what it checks cannot lean on what it is checking.

pub mod audit;
pub mod error;
pub mod feedback;
pub mod model;
pub mod outputs;

pub use error::{Error, Result};
