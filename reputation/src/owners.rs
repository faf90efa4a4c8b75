//! [`owner_at`]: who owned an agent when a feedback record was given, from the agent's ERC-721 transfers. The API
//! (from the indexed `agent_transferred` rows) and the auditor (from raw `Transfer` logs) fill
//! [`crate::Feedback::owner_at_feedback`] with it, so both apply one rule.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// Where a log sits on its chain: block number, then the log's index in the block (which orders logs of different
/// contracts in one block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPosition {
    /// The block number.
    pub block: u64,
    /// The log index within the block.
    pub log_index: u64,
}

/// One ERC-721 `Transfer` of an agent's token (a mint has `from` zero, a burn `to` zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerChange {
    /// Where the `Transfer` log is.
    pub at: LogPosition,
    /// The previous owner.
    pub from: Address,
    /// The new owner.
    pub to: Address,
}

/// The owner of an agent at `at`, from its transfers sorted by position: the `to` of the last transfer logged
/// before `at`. When none is (the logs read start after the mint), the `from` of the first transfer after it, if
/// not zero. `None` when the transfers do not say; the caller then takes the owner at scoring time.
pub fn owner_at(transfers: &[OwnerChange], at: LogPosition) -> Option<Address> {
    let before = transfers.partition_point(|t| t.at < at);
    match before.checked_sub(1) {
        Some(last) => Some(transfers[last].to),
        None => transfers.first().map(|t| t.from).filter(|from| !from.is_zero()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::addr;

    #[test]
    fn the_owner_at_a_log_is_the_recipient_of_the_last_transfer_before_it() {
        let at = |block, log_index| LogPosition { block, log_index };
        let (h, m, n) = (addr(1), addr(2), addr(3));
        let transfers = [
            OwnerChange { at: at(10, 0), from: Address::ZERO, to: h },
            OwnerChange { at: at(20, 5), from: h, to: m },
            OwnerChange { at: at(30, 0), from: m, to: n },
        ];
        assert_eq!(owner_at(&transfers, at(10, 1)), Some(h));
        assert_eq!(owner_at(&transfers, at(20, 4)), Some(h), "same block, earlier log");
        assert_eq!(owner_at(&transfers, at(20, 6)), Some(m), "same block, later log");
        assert_eq!(owner_at(&transfers, at(99, 0)), Some(n));
        // Before the mint (logs read from later on): the mint names no owner.
        assert_eq!(owner_at(&transfers, at(9, 0)), None);
        // Logs read from after the mint: the first transfer's sender owned it before.
        assert_eq!(owner_at(&transfers[1..], at(15, 0)), Some(h));
        assert_eq!(owner_at(&[], at(15, 0)), None);
    }
}
