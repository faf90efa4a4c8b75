//! What an auditor runs, checked against the chain alone:
//! - `model`: is a version hash registered, and by whom (`prova verify model`);
//! - `outputs`: does an output receipt prove a response (`prova verify output`);
//! - `evidence`: distillation evidence bundles, every receipt and stated similarity rechecked
//!   (`prova verify evidence`); `similarity`: the text similarity those bundles state;
//! - `feedback`: a reputation registry's feedback and the identity registry's owners, read from raw logs;
//! - `reputation`: an agent's scores recomputed from those logs and compared with a prova API's answer
//!   (`prova verify reputation`, and the reputation checks of `prova verify api`);
//! - `api`: the whole-API audit (`prova verify api`): every fact an API states, read as the `prova-views` type it
//!   serializes, checked against its event and the contracts' views, returned as a typed report;
//! - `audit`: its primitives: the event at a stated chain pointer, random samples;
//! - `endpoints`: verdicts from several RPC endpoints, which must agree (else "could not check").
//!
//! This crate may depend on `prova-core`, `prova-chain`, `prova-reputation` and `prova-views` (the API's answer
//! types, which it reads but never trusts); never on the database, the indexer or the API server, so that what it
//! checks cannot lean on what it is checking, and never on command-line parsing or terminal output (`prova-cli`
//! renders the reports).

pub mod api;
pub mod audit;
pub mod endpoints;
pub mod error;
pub mod evidence;
pub mod feedback;
pub mod model;
pub mod outputs;
pub mod reputation;
pub mod similarity;

pub use error::{Error, Result};
