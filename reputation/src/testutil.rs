//! Helpers shared by the unit tests of every module.

use alloy::primitives::{Address, U256};

use crate::{Feedback, Score};

/// The address `0x00..00nn`, with `n` in the last two bytes.
pub(crate) fn addr(n: u16) -> Address {
    let mut bytes = [0u8; 20];
    bytes[18..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

pub(crate) fn fb(agent: u64, owner: Address, client: Address, index: u64, value: i128, decimals: u8) -> Feedback {
    Feedback {
        agent_id: U256::from(agent),
        agent_owner: owner,
        owner_at_feedback: owner,
        client,
        feedback_index: index,
        value,
        decimals,
        tag1: String::new(),
        tag2: String::new(),
        revoked: false,
        verified: false,
        timestamp: 0,
    }
}

pub(crate) fn summary(score: &Score) -> (u64, i128, u8) {
    let s = score.summary.expect("mean has a summary");
    (s.count, s.summary_value, s.summary_decimals)
}

pub(crate) fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
}

pub(crate) const OWNER: u16 = 0xff;
