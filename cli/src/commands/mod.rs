//! One module per `prova` subcommand.

pub mod agent;
pub mod api_client;
pub mod db;
pub mod deploy;
pub mod dev;
pub mod hashing;
pub mod index;
pub mod key;
pub mod model;
pub mod outputs;
pub mod publisher;
pub mod serve;
pub mod shell;
pub mod verify;
pub mod verify_api;
pub mod verify_evidence;
pub mod verify_reputation;

use alloy::primitives::B256;

/// Parses `0x` + 64 hex digits, or the empty string / `0x0` as zero.
pub fn parse_b256(text: &str) -> Result<B256, String> {
    if text.is_empty() || text == "0" || text == "0x0" {
        return Ok(B256::ZERO);
    }
    let ok = text.len() == 66 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(format!("expected 0x followed by 64 hex digits, got {text:?}"));
    }
    text.parse().map_err(|e| format!("{e}"))
}
