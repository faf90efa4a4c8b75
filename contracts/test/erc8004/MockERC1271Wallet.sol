// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A minimal contract wallet for the tests: it accepts (ERC-1271) any digest its `signer` key signed, and
///         nothing at all once `rejectAll` is set.
contract MockERC1271Wallet is IERC1271 {
    address public immutable signer;
    bool public rejectAll;

    constructor(address signer_) {
        signer = signer_;
    }

    function setRejectAll(bool reject) external {
        rejectAll = reject;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (rejectAll) return 0xffffffff;
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer ? IERC1271.isValidSignature.selector : bytes4(0);
    }
}
