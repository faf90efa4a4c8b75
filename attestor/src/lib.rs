//! The attestor: a lab's side of prova. It signs model versions with an attestor key (EIP-712) and publishes them,
//! and it drives the publisher's admin operations (registering the publisher, adding and revoking keys).

pub mod admin;
pub mod error;
pub mod outputs;
pub mod publish;

pub use error::{Error, Result};
