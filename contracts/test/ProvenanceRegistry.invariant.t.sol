// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryHandler} from "./handlers/RegistryHandler.sol";

/// @notice Invariants of ProvenanceRegistry under random sequences of RegistryHandler actions: several publishers
///         claiming the same hashes, with and without commitments, output batches anchored and revoked, keys added
///         (with and without a valid proof of possession), revoked and flagged compromised.
contract ProvenanceRegistryInvariantTest is Test {
    ProvenanceRegistry internal registry;
    RegistryHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(100);
        registry = new ProvenanceRegistry();
        handler = new RegistryHandler(registry);

        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = RegistryHandler.registerModelVersion.selector;
        selectors[1] = RegistryHandler.addAttestor.selector;
        selectors[2] = RegistryHandler.revokeAttestor.selector;
        selectors[3] = RegistryHandler.markAttestorCompromised.selector;
        selectors[4] = RegistryHandler.invalidateNonce.selector;
        selectors[5] = RegistryHandler.revokeModelVersion.selector;
        selectors[6] = RegistryHandler.transferPublisherAdmin.selector;
        selectors[7] = RegistryHandler.warp.selector;
        selectors[8] = RegistryHandler.attestOutputs.selector;
        selectors[9] = RegistryHandler.commitModelVersion.selector;
        selectors[10] = RegistryHandler.revokeOutputBatch.selector;
        // A selector listed again is picked more often: claims and batches are where most of the state is.
        selectors[11] = RegistryHandler.registerModelVersion.selector;
        selectors[12] = RegistryHandler.registerModelVersion.selector;
        selectors[13] = RegistryHandler.attestOutputs.selector;
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice No claim exists without an authorized signer: every claim was signed by a key that was, at
    ///         registration time, an active attestor key of the claim's publisher.
    function invariant_NoClaimWithoutAuthorizedSigner() public view {
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            assertTrue(rec.signerWasActive, "registered by a key that was not active for the publisher");

            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(rec.publisher, rec.versionHash);
            assertEq(v.attestor, rec.signer, "attestor");
            assertEq(v.publisher, rec.publisher, "publisher");

            IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(v.attestor);
            assertEq(k.publisher, v.publisher, "key bound to another publisher");
            assertLe(k.addedAt, v.registeredAt, "key added after the registration");
            assertTrue(k.revokedAt == 0 || k.revokedAt >= v.registeredAt, "key revoked before the registration");
        }
    }

    /// @notice A claim is only ever changed by its own publisher: every field is what its registration wrote, and
    ///         it is revoked exactly when, and at the time, its own publisher's admin revoked it. Publishers claim
    ///         the same hashes with different model ids and metadata, so an overwrite by another would show.
    function invariant_ClaimsChangedOnlyByTheirPublisher() public view {
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(rec.publisher, rec.versionHash);
            assertEq(v.modelId, rec.modelId, "modelId");
            assertEq(v.parent, rec.parent, "parent");
            assertEq(v.metadataHash, rec.metadataHash, "metadataHash");
            assertEq(v.metadataURI, handler.metadataURIOf(rec.publisher), "metadataURI");
            assertEq(v.registeredAt, rec.registeredAt, "registeredAt");
            assertEq(v.registeredBlock, rec.registeredBlock, "registeredBlock");
            assertEq(v.committedAt, rec.committedAt, "committedAt");
            assertEq(v.committedBlock, rec.committedBlock, "committedBlock");
            assertEq(v.revokedAt, handler.versionRevokedAt(rec.publisher, rec.versionHash), "revokedAt");
            assertTrue(registry.isRegistered(rec.publisher, rec.versionHash), "revoked claims stay registered");
        }
    }

    /// @notice A claim's priority is never later than its registration: a revealed commitment comes from a strictly
    ///         earlier block (and no later time), and is the commitment's first block.
    function invariant_CommitmentPrecedesClaim() public view {
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(rec.publisher, rec.versionHash);
            if (v.committedBlock == 0) {
                assertEq(v.committedAt, 0, "a commitment time without a block");
                continue;
            }
            assertLt(v.committedBlock, v.registeredBlock, "commitment not from an earlier block");
            assertLe(v.committedAt, v.registeredAt, "commitment later than the claim");
        }
    }

    /// @notice Every commitment sent keeps the block and time of its first sending, whoever sent it again.
    function invariant_CommitmentsKeepFirstBlock() public view {
        uint256 n = handler.commitmentCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Commitment memory c = handler.committed(i);
            bytes32 commitment = registry.commitmentOf(c.publisher, c.versionHash, c.salt);
            (uint64 at, uint64 blockNumber) = registry.getCommitment(commitment);
            assertEq(at, handler.commitmentTime(commitment), "commitment time");
            assertEq(blockNumber, handler.commitmentBlock(commitment), "commitment block");
        }
    }

    /// @notice Every used nonce was consumed by exactly one successful registration, batch or invalidation, and
    ///         every registration's nonce is marked used.
    function invariant_EachNonceUsedOnce() public view {
        uint256 keyCount = handler.KEY_COUNT();
        uint256 nonceSpace = handler.NONCE_SPACE();
        for (uint256 k; k < keyCount; ++k) {
            address signer = handler.keys(k);
            for (uint256 nonce; nonce < nonceSpace; ++nonce) {
                uint256 uses = handler.nonceUses(signer, nonce);
                assertLe(uses, 1, "nonce consumed twice");
                assertEq(registry.isNonceUsed(signer, nonce), uses == 1, "isNonceUsed disagrees with the calls made");
            }
        }
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            assertTrue(registry.isNonceUsed(rec.signer, rec.nonce));
        }
    }

    /// @notice The set of claims is exactly the set of successful registrations: each (publisher, hash) at most
    ///         once, the zero hash and the unregistered publisher never; a hash is claimed exactly when some
    ///         publisher claims it.
    function invariant_ClaimsMatchRegistrations() public view {
        uint256 space = handler.VERSION_SPACE();
        uint256 publisherCount = handler.PUBLISHER_COUNT();
        uint256 count;
        for (uint256 h; h <= space; ++h) {
            bool any;
            for (uint256 p; p < publisherCount; ++p) {
                address publisher = handler.publishers(p);
                bool isReg = registry.isRegistered(publisher, bytes32(h));
                assertEq(isReg, handler.registered(publisher, bytes32(h)), "isRegistered");
                if (isReg) ++count;
                any = any || isReg;
            }
            assertFalse(registry.isRegistered(handler.unknownPublisher(), bytes32(h)), "unregistered publisher");
            assertEq(registry.isClaimed(bytes32(h)), any, "isClaimed");
        }
        assertFalse(registry.isClaimed(bytes32(0)), "zero hash claimed");
        assertEq(count, handler.recordCount(), "a claim was registered twice");
    }

    /// @notice Every call succeeded or reverted exactly as the handler's shadow model predicted.
    function invariant_MatchesShadowModel() public view {
        assertEq(handler.mismatches(), 0);
    }

    /// @notice The anchored batches are exactly the successful `attestOutputs` calls, each naming the key that signed
    ///         it; that key was, when the batch was anchored, an active key of the batch's publisher, whose own claim
    ///         of the version was registered and not revoked; the window ended no later than the anchoring.
    function invariant_BatchesMatchAttestations() public view {
        uint256 n = handler.batchCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.AnchoredBatch memory b = handler.batch(i);
            IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(b.root);
            assertEq(o.attestor, b.signer, "batch attestor");
            assertEq(o.versionHash, b.versionHash, "batch version");
            assertEq(o.windowStart, b.windowStart, "windowStart");
            assertEq(o.windowEnd, b.windowEnd, "windowEnd");
            assertEq(o.anchoredAt, b.anchoredAt, "anchoredAt");
            assertEq(o.revokedAt != 0, handler.batchRevoked(b.root), "batch revoked by someone else");
            assertLe(o.windowEnd, o.anchoredAt, "window ends after the anchoring");

            IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(o.attestor);
            assertEq(k.publisher, b.publisher, "batch of another publisher's key");
            assertLe(k.addedAt, o.anchoredAt, "key added after the batch");
            assertTrue(k.revokedAt == 0 || k.revokedAt >= o.anchoredAt, "key revoked before the batch");

            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(k.publisher, o.versionHash);
            assertTrue(v.registeredAt != 0 && v.registeredAt <= o.anchoredAt, "batch of an unclaimed version");
            assertTrue(v.revokedAt == 0 || v.revokedAt >= o.anchoredAt, "batch of a revoked claim");
        }
        assertEq(registry.getOutputBatch(bytes32(0)).anchoredAt, 0, "zero root anchored");
    }

    /// @notice An output verifies only if its batch is unrevoked, its time lies in the batch's window, which ended
    ///         no later than the anchoring, and the batch was anchored before its key's compromise time; and every
    ///         leaf that meets these conditions does verify.
    function invariant_VerifiedOutputsPredateCompromise() public view {
        uint256 n = handler.batchCount();
        bytes32[] memory proof = new bytes32[](0); // one-leaf trees: the root is the leaf
        for (uint256 i; i < n; ++i) {
            RegistryHandler.AnchoredBatch memory b = handler.batch(i);
            bool ok =
                registry.verifyOutput(b.root, b.versionHash, b.requestHash, b.responseHash, b.timestamp, b.salt, proof);
            IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(b.root);
            uint64 since = registry.getAttestorKey(o.attestor).compromisedSince;
            bool compromised = since != 0 && o.anchoredAt >= since;
            assertEq(registry.isBatchSignedByCompromisedKey(b.root), compromised, "isBatchSignedByCompromisedKey");

            bool inWindow = o.windowStart <= b.timestamp && b.timestamp <= o.windowEnd;
            assertEq(ok, o.revokedAt == 0 && inWindow && !compromised, "verifyOutput");
            if (!ok) continue;
            assertTrue(since == 0 || o.anchoredAt < since, "verified after its key's compromise time");
            assertLe(o.windowEnd, o.anchoredAt, "verified with a window ending after its anchoring");
            assertLe(b.timestamp, o.anchoredAt, "verified an output dated after its anchoring");
        }
    }
}
