//! A local devnet for `prova dev` and the end-to-end tests, so both start the same things the same way: the pinned
//! anvil and a private Postgres cluster (`local`), many transactions sent at once and accounts funded (`bulk`), the
//! ERC-8004 Sybil-ring demo (`demo`), and a guard that stops child processes (`child`).
//!
//! This crate may depend on `prova-core`, `prova-chain` and `prova-attestor` (the demo runs the lab's and the
//! agents' flows); nothing in the services (indexer, API) depends on it.

pub mod bulk;
pub mod child;
pub mod demo;
pub mod error;
pub mod local;

pub use bulk::{Bulk, fund};
pub use child::ChildGuard;
pub use error::{Error, Result};
