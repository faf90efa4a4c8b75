// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice One representative call per function, so that
///         `forge test --match-contract ProvenanceRegistryGasTest --gas-report` gives clean per-call figures
///         for BENCHMARKS.md (the other suites mix in reverting and fuzzed calls).
contract ProvenanceRegistryGasTest is RegistryTestBase {
    /// @dev A typical registration: model id, metadata hash, and a 59-character CIDv1 metadata URI, no parent.
    function test_gas_registerModelVersion() public {
        Registration memory r = _registration(keccak256("v1"));
        r.metadataURI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";
        _registerSigned(r);
        assertTrue(registry.isRegistered(r.versionHash));
    }

    /// @dev A fine-tune: the same with a parent version.
    function test_gas_registerModelVersionWithParent() public {
        Registration memory base = _registerVersion(keccak256("v1"));
        Registration memory r = _registration(keccak256("v2"));
        r.parent = base.versionHash;
        r.metadataURI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";
        _registerSigned(r);
        assertEq(registry.getModelVersion(r.versionHash).parent, base.versionHash);
    }

    function test_gas_registerPublisher() public {
        vm.prank(stranger);
        registry.registerPublisher("Other Lab", "https://other.example/lab.json");
        assertEq(registry.getPublisher(stranger).admin, stranger);
    }

    function test_gas_addAndRevokeAttestor() public {
        address key = makeAddr("second key");
        vm.startPrank(lab);
        registry.addAttestor(lab, key);
        registry.revokeAttestor(lab, key);
        vm.stopPrank();
        assertFalse(registry.isActiveAttestor(lab, key));
    }
}
