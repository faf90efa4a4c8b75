//! Shared core of prova: manifests and hashing, Merkle trees, EIP-712 types, contract bindings, shared
//! command-line arguments and the local stack (anvil, Postgres) used by `prova dev` and the tests.

pub mod agents;
pub mod args;
pub mod audit;
pub mod bindings;
pub mod chain;
pub mod error;
pub mod hash_cache;
pub mod local;
pub mod manifest;
pub mod merkle;
pub mod model_signing;
pub mod outputs;
pub mod reputation;
pub mod signer;
pub mod verify;

pub use error::{Error, Result};
