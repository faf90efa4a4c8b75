//! Pinning a contract's code: a configured address is not trusted because it holds *some* code. A pin is either a
//! hash (`keccak256` of what `eth_getCode` returns) or "the code this prova ships" ([`Shipped`]): the runtime part
//! of the creation bytecode in `prova-core`'s artifacts, with the contract's immutables (32-byte `PUSH32`
//! operands that the creation bytecode leaves zero and the constructor fills in) allowed to differ.

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::providers::{DynProvider, Provider};
use prova_core::bindings;

use crate::error::{Error, Result};

/// A contract prova ships the bytecode of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    /// `ProvenanceRegistry`.
    Provenance,
    /// The ERC-8004 `IdentityRegistry`.
    Identity,
    /// The ERC-8004 `ReputationRegistry`.
    Reputation,
    /// The ERC-8004 `ValidationRegistry`.
    Validation,
}

impl Shipped {
    /// The contract's name.
    pub fn name(self) -> &'static str {
        match self {
            Shipped::Provenance => "ProvenanceRegistry",
            Shipped::Identity => "IdentityRegistry",
            Shipped::Reputation => "ReputationRegistry",
            Shipped::Validation => "ValidationRegistry",
        }
    }

    /// Its creation bytecode, as shipped (without constructor arguments).
    pub fn creation_code(self) -> Bytes {
        match self {
            Shipped::Provenance => bindings::registry_bytecode(),
            Shipped::Identity => bindings::identity_bytecode(),
            Shipped::Reputation => bindings::reputation_bytecode(),
            Shipped::Validation => bindings::validation_bytecode(),
        }
    }
}

/// What the code at an address must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePin {
    /// `keccak256(eth_getCode)` must be this hash.
    Hash(B256),
    /// The code must be the runtime code of this shipped contract (immutables aside).
    Shipped(Shipped),
}

impl std::fmt::Display for CodePin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodePin::Hash(hash) => write!(f, "code hash {hash}"),
            CodePin::Shipped(contract) => write!(f, "the {} bytecode this prova ships", contract.name()),
        }
    }
}

/// `keccak256` of the code at `address`.
pub async fn code_hash(provider: &DynProvider, address: Address) -> Result<B256> {
    Ok(keccak256(code(provider, address).await?))
}

async fn code(provider: &DynProvider, address: Address) -> Result<Bytes> {
    provider
        .get_code_at(address)
        .await
        .map_err(|source| Error::Rpc { what: format!("reading the code at {address}"), source })
}

/// Checks that the code at `address` (on `chain_id`, for messages) is what `pin` says; returns its hash.
pub async fn check_code(provider: &DynProvider, address: Address, chain_id: u64, pin: CodePin) -> Result<B256> {
    let code = code(provider, address).await?;
    let actual = keccak256(&code);
    let matches = match pin {
        CodePin::Hash(expected) => actual == expected,
        CodePin::Shipped(contract) => is_runtime_of(&contract.creation_code(), &code),
    };
    if matches { Ok(actual) } else { Err(Error::CodeMismatch { address, chain_id, actual, pin }) }
}

/// Whether `deployed` is the runtime code embedded at the end of `creation` (solc's legacy layout: init code, then
/// the runtime code with its metadata), byte for byte but for the operands of `PUSH32` instructions that are zero
/// in `creation`: the immutables, which the constructor fills in.
pub fn is_runtime_of(creation: &[u8], deployed: &[u8]) -> bool {
    let Some(start) = creation.len().checked_sub(deployed.len()) else { return false };
    let runtime = &creation[start..];
    if deployed.is_empty() {
        return false;
    }
    let immutables = immutable_spans(runtime);
    let mut next = immutables.iter().peekable();
    let mut i = 0;
    while i < runtime.len() {
        if let Some(&&(at, len)) = next.peek()
            && i == at
        {
            next.next();
            i += len;
            continue;
        }
        if runtime[i] != deployed[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `(offset, 32)` of every `PUSH32` operand that is all zero, walking the code instruction by instruction.
fn immutable_spans(code: &[u8]) -> Vec<(usize, usize)> {
    const PUSH1: u8 = 0x60;
    const PUSH32: u8 = 0x7f;
    let mut spans = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if (PUSH1..=PUSH32).contains(&op) {
            let len = usize::from(op - PUSH1) + 1;
            if op == PUSH32 && code.get(i + 1..i + 1 + len).is_some_and(|operand| operand.iter().all(|b| *b == 0)) {
                spans.push((i + 1, len));
            }
            i += len;
        }
        i += 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_runtime_code_matches_with_its_immutables_filled_in() {
        // A toy creation code: init (PUSH1 0 PUSH1 0 RETURN), then runtime: PUSH32 <immutable> POP PUSH1 1 STOP.
        let runtime: Vec<u8> = [&[0x7f][..], &[0u8; 32], &[0x50, 0x60, 0x01, 0x00]].concat();
        let creation: Vec<u8> = [&[0x60, 0x00, 0x60, 0x00, 0xf3][..], &runtime].concat();
        let mut deployed = runtime.clone();
        deployed[1..33].copy_from_slice(&[0xab; 32]);
        assert!(is_runtime_of(&creation, &runtime));
        assert!(is_runtime_of(&creation, &deployed), "an immutable may differ");
        let mut tampered = deployed.clone();
        tampered[35] = 0x02;
        assert!(!is_runtime_of(&creation, &tampered), "any other byte may not");
        assert!(!is_runtime_of(&creation, &deployed[1..]), "nor the length");
        assert!(!is_runtime_of(&creation, &[]), "no code is no contract");
        let longer = [&deployed[..], &[0x00]].concat();
        assert!(!is_runtime_of(&creation, &[&creation[..], &longer].concat()));
    }
}
