//! The formats of prova: contract bindings, EIP-712 types, Merkle trees, model manifests (prova's and sigstore
//! model_signing's), the hash cache, output leaves and receipts, and ERC-8004 interaction receipts.
//!
//! This crate is formats only: it may depend on alloy's types and bindings, hashing and serde, and on nothing that
//! runs a process, opens a database, parses a command line or needs an async runtime. Every other prova crate
//! depends on it. The formats are specified in `docs/format.md`.

pub mod bindings;
pub mod error;
pub mod hash_cache;
pub mod interaction;
pub mod manifest;
pub mod merkle;
pub mod outputs;
pub mod time;

pub use error::{Error, Result};
