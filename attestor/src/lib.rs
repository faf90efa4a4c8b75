//! The sending side of prova: everything that signs. A lab's model versions signed with an attestor key (EIP-712)
//! and published; the publisher's admin operations (registering the publisher, adding and revoking keys); sampled
//! outputs stored durably, sealed into batches and anchored, with receipts (`outputs`); and ERC-8004 agents
//! registered, rated and validated (`agents`).
//!
//! This crate may depend on `prova-core`, `prova-chain` and `prova-db` (the attestor's private store); it parses no
//! command line and serves nothing.

pub mod admin;
pub mod agents;
pub mod error;
pub mod outputs;
pub mod publish;

pub use error::{Error, Result};
