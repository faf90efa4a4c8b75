// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {console2} from "forge-std/console2.sol";

import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice One representative call per function, so that
///         `forge test --match-contract ProvenanceRegistryGasTest --gas-report` gives clean per-call figures
///         for BENCHMARKS.md (the other suites mix in reverting and fuzzed calls).
contract ProvenanceRegistryGasTest is RegistryTestBase {
    /// @dev A typical registration: model id, metadata hash, and a 59-character CIDv1 metadata URI, no parent.
    function test_Gas_RegisterModelVersion() public {
        Registration memory r = _registration(keccak256("v1"));
        r.metadataURI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";
        _registerSigned(r);
        assertTrue(registry.isRegistered(r.versionHash));
    }

    /// @dev A fine-tune: the same with a parent version.
    function test_Gas_RegisterModelVersionWithParent() public {
        Registration memory base = _registerVersion(keccak256("v1"));
        Registration memory r = _registration(keccak256("v2"));
        r.parent = base.versionHash;
        r.metadataURI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";
        _registerSigned(r);
        assertEq(registry.getModelVersion(r.versionHash).parent, base.versionHash);
    }

    function test_Gas_RegisterPublisher() public {
        vm.prank(stranger);
        registry.registerPublisher("Other Lab", "https://other.example/lab.json");
        assertEq(registry.getPublisher(stranger).admin, stranger);
    }

    function test_Gas_AddAndRevokeAttestor() public {
        address key = makeAddr("second key");
        vm.startPrank(lab);
        registry.addAttestor(lab, key);
        registry.revokeAttestor(lab, key);
        vm.stopPrank();
        assertFalse(registry.isActiveAttestor(lab, key));
    }

    /// @dev One batch of 4096 outputs with a 66-character `ipfs://bafy...` batch URI, signed by the key that
    ///      registered the version. The target is at most 50 gas per output, 204,800 for the transaction. Under
    ///      `--gas-report` (isolation) `vm.lastCallGas()` is the whole transaction, as in the report and as
    ///      EasGas.t.sol logs its peer; without isolation it is the execution gas only, so the bound holds either way.
    function test_Gas_AttestOutputs4096() public {
        Registration memory r = _registerVersion(keccak256("v1"));
        Batch memory b = _batch(r.versionHash, keccak256("outputs root"));
        _attestSigned(b);
        uint256 gas = vm.lastCallGas().gasTotalUsed;
        console2.log("attestOutputs, outputs:", b.leafCount);
        console2.log("  gas of the call (whole transaction under --gas-report):", gas);
        console2.log("  gas per 1000 outputs:", gas * 1000 / b.leafCount);
        assertLe(gas, 50 * b.leafCount, "more than 50 gas per output");
        assertEq(registry.getOutputBatch(b.root).leafCount, 4096);
    }

    /// @dev Checking one output on-chain against a batch of 4096: a 12-hash proof.
    function test_Gas_VerifyOutput4096() public {
        Registration memory r = _registerVersion(keccak256("v1"));
        bytes32[] memory proof = new bytes32[](12);
        for (uint256 i; i < proof.length; ++i) {
            proof[i] = keccak256(abi.encode("sibling", i));
        }
        (bytes32 request, bytes32 response, uint64 timestamp, bytes32 salt) =
            (keccak256("request"), keccak256("response"), uint64(block.timestamp), keccak256("salt"));
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(r.versionHash, request, response, timestamp, salt))));
        Batch memory b = _batch(r.versionHash, MerkleProof.processProof(proof, leaf));
        _attestSigned(b);
        assertTrue(registry.verifyOutput(b.root, r.versionHash, request, response, timestamp, salt, proof));
    }

    function test_Gas_RevokeOutputBatch() public {
        Registration memory r = _registerVersion(keccak256("v1"));
        Batch memory b = _batch(r.versionHash, keccak256("outputs root"));
        _attestSigned(b);
        vm.prank(lab);
        registry.revokeOutputBatch(b.root, "leaked salts");
        assertTrue(registry.getOutputBatch(b.root).revokedAt != 0);
    }
}
