// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {console2} from "forge-std/console2.sol";

import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice One representative call per function, so that
///         `forge test --match-contract ProvenanceRegistryGasTest --gas-report` gives clean per-call figures
///         for BENCHMARKS.md (the other suites mix in reverting and fuzzed calls). Each test also logs the gas of
///         the call it measures: under `--gas-report` (isolation) `vm.lastCallGas()` is the whole transaction, as in
///         the report; without isolation it is the execution gas only.
contract ProvenanceRegistryGasTest is RegistryTestBase {
    /// @dev A 66-character CIDv1 URI, as a lab would typically give.
    string internal constant LONG_URI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";

    /// @dev The cheapest typical registration: model id, metadata hash and the fixture's 22-character URI.
    function test_Gas_RegisterModelVersionShortURI() public {
        IProvenanceRegistry.VersionClaim memory r = _registerVersion(keccak256("v1"));
        _logGas("registerModelVersion, 22-character URI, no parent, no commitment");
        assertTrue(registry.isRegistered(lab, r.versionHash));
    }

    /// @dev A typical registration: model id, metadata hash, and a 66-character CIDv1 metadata URI, no parent.
    function test_Gas_RegisterModelVersion() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(keccak256("v1"));
        r.metadataURI = LONG_URI;
        _registerSigned(r);
        _logGas("registerModelVersion, 66-character URI, no parent, no commitment");
        assertTrue(registry.isRegistered(lab, r.versionHash));
    }

    /// @dev A fine-tune: the same with a parent version.
    function test_Gas_RegisterModelVersionWithParent() public {
        IProvenanceRegistry.VersionClaim memory base = _registerVersion(keccak256("v1"));
        IProvenanceRegistry.VersionClaim memory r = _claim(keccak256("v2"));
        r.parent = base.versionHash;
        r.metadataURI = LONG_URI;
        _registerSigned(r);
        _logGas("registerModelVersion, 66-character URI, a parent, no commitment");
        assertEq(registry.getModelVersion(lab, r.versionHash).parent, base.versionHash);
    }

    /// @dev The commit step of commit-reveal: one fresh slot.
    function test_Gas_CommitModelVersion() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(keccak256("v1"));
        r.commitSalt = keccak256("salt");
        bytes32 commitment = _commit(r);
        _logGas("commitModelVersion");
        (, uint64 blockNumber) = registry.getCommitment(commitment);
        assertEq(blockNumber, block.number);
    }

    /// @dev The reveal step: the typical registration above, revealing a commitment of an earlier block.
    function test_Gas_RegisterModelVersionRevealingCommitment() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(keccak256("v1"));
        r.metadataURI = LONG_URI;
        uint256 committedBlock = _commitAndRegister(attestorPk, r, keccak256("salt"));
        _logGas("registerModelVersion, 66-character URI, no parent, revealing a commitment");
        assertEq(registry.getModelVersion(lab, r.versionHash).committedBlock, committedBlock);
    }

    /// @dev A second publisher's claim of a hash already claimed by another: the same as a first claim, minus the
    ///      write that marks the hash claimed.
    function test_Gas_RegisterModelVersionHashClaimedByOther() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        IProvenanceRegistry.VersionClaim memory r = _claim(keccak256("v1"));
        r.metadataURI = LONG_URI;
        _registerSigned(r);
        r.publisher = other;
        _submitAs(otherPk, r);
        _logGas("registerModelVersion, 66-character URI, hash already claimed by another publisher");
        assertTrue(registry.isRegistered(other, r.versionHash));
    }

    function test_Gas_RegisterPublisher() public {
        vm.prank(stranger);
        registry.registerPublisher("Other Lab", "https://other.example/lab.json");
        _logGas("registerPublisher");
        assertEq(registry.getPublisher(stranger).admin, stranger);
    }

    /// @dev A second key of the fixture's publisher (the fixture added the deployment's first key in `setUp`).
    function test_Gas_AddAndRevokeAttestor() public {
        (address key, uint256 keyPk) = makeAddrAndKey("second key");
        _addAttestor(lab, lab, keyPk);
        _logGas("addAttestor, second key of the deployment");
        vm.prank(lab);
        registry.revokeAttestor(lab, key);
        _logGas("revokeAttestor");
        assertFalse(registry.isActiveAttestor(lab, key));
    }

    /// @dev One batch of 4096 outputs with a 66-character `ipfs://bafy...` batch URI, signed by the key that
    ///      registered the version. The target is at most 50 gas per output, 204,800 for the transaction. Under
    ///      `--gas-report` (isolation) `vm.lastCallGas()` is the whole transaction, as in the report and as
    ///      EasGas.t.sol logs its peer; without isolation it is the execution gas only, so the bound holds either way.
    function test_Gas_AttestOutputs4096() public {
        IProvenanceRegistry.VersionClaim memory r = _registerVersion(keccak256("v1"));
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
        IProvenanceRegistry.VersionClaim memory r = _registerVersion(keccak256("v1"));
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
        _logGas("verifyOutput, 12-hash proof");
    }

    function test_Gas_RevokeOutputBatch() public {
        IProvenanceRegistry.VersionClaim memory r = _registerVersion(keccak256("v1"));
        Batch memory b = _batch(r.versionHash, keccak256("outputs root"));
        _attestSigned(b);
        vm.prank(lab);
        registry.revokeOutputBatch(b.root, "leaked salts");
        _logGas("revokeOutputBatch");
        assertTrue(registry.getOutputBatch(b.root).revokedAt != 0);
    }

    function _logGas(string memory call) internal view {
        console2.log(call, vm.lastCallGas().gasTotalUsed);
    }
}
