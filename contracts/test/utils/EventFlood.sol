// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IProvenanceRegistry} from "../../src/interfaces/IProvenanceRegistry.sol";

/// @title EventFlood
/// @notice Test and benchmark helper: makes a ProvenanceRegistry emit many real `NonceInvalidated` events in one
///         transaction (about 25k gas each), so an indexer can be fed hundreds of thousands of events quickly.
contract EventFlood {
    /// @notice Invalidates this contract's nonces `first` to `first + count - 1` on `registry`.
    function invalidate(IProvenanceRegistry registry, uint256 first, uint256 count) external {
        for (uint256 i = first; i < first + count; ++i) {
            registry.invalidateNonce(i);
        }
    }
}
