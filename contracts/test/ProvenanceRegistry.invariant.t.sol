// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryHandler} from "./handlers/RegistryHandler.sol";

/// @notice Invariants of ProvenanceRegistry under random sequences of RegistryHandler actions.
contract ProvenanceRegistryInvariantTest is Test {
    ProvenanceRegistry internal registry;
    RegistryHandler internal handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        registry = new ProvenanceRegistry();
        handler = new RegistryHandler(registry);

        bytes4[] memory selectors = new bytes4[](9);
        selectors[0] = RegistryHandler.registerModelVersion.selector;
        selectors[1] = RegistryHandler.addAttestor.selector;
        selectors[2] = RegistryHandler.revokeAttestor.selector;
        selectors[3] = RegistryHandler.markAttestorCompromised.selector;
        selectors[4] = RegistryHandler.invalidateNonce.selector;
        selectors[5] = RegistryHandler.revokeModelVersion.selector;
        selectors[6] = RegistryHandler.transferPublisherAdmin.selector;
        selectors[7] = RegistryHandler.warp.selector;
        selectors[8] = RegistryHandler.attestOutputs.selector;
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// @notice No version exists without an authorized signer: every registered version was signed by a key that
    ///         was, at registration time, an active attestor key of the version's publisher.
    function invariant_NoVersionWithoutAuthorizedSigner() public view {
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            assertTrue(rec.signerWasActive, "registered by a key that was not active for the publisher");

            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(rec.versionHash);
            assertEq(v.attestor, rec.signer, "attestor");
            assertEq(v.publisher, rec.publisher, "publisher");
            assertEq(v.registeredAt, rec.registeredAt, "registeredAt");

            IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(v.attestor);
            assertEq(k.publisher, v.publisher, "key bound to another publisher");
            assertLe(k.addedAt, v.registeredAt, "key added after the registration");
            assertTrue(k.revokedAt == 0 || k.revokedAt >= v.registeredAt, "key revoked before the registration");
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

    /// @notice The set of registered versions is exactly the set of successful registrations; each version hash is
    ///         registered at most once, and the zero hash never.
    function invariant_RegisteredVersionsMatchRegistrations() public view {
        uint256 space = handler.VERSION_SPACE();
        uint256 count;
        for (uint256 h; h <= space; ++h) {
            bool isReg = registry.isRegistered(bytes32(h));
            assertEq(isReg, handler.registered(bytes32(h)));
            if (isReg) ++count;
        }
        assertFalse(registry.isRegistered(bytes32(0)));
        assertEq(count, handler.recordCount(), "a version hash was registered twice");
    }

    /// @notice Every call succeeded or reverted exactly as the handler's shadow model predicted.
    function invariant_MatchesShadowModel() public view {
        assertEq(handler.mismatches(), 0);
    }

    /// @notice The anchored batches are exactly the successful `attestOutputs` calls, each naming the key that signed
    ///         it; that key was, when the batch was anchored, an active attestor key of the version's publisher, and
    ///         the version was registered and not revoked.
    function invariant_BatchesMatchAttestations() public view {
        uint256 space = handler.ROOT_SPACE();
        for (uint256 r; r <= space; ++r) {
            IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(bytes32(r));
            assertEq(o.attestor, handler.batchAttestor(bytes32(r)), "batch attestor");
            if (o.attestor == address(0)) continue;

            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(o.versionHash);
            assertTrue(v.registeredAt != 0 && v.registeredAt <= o.anchoredAt, "batch of an unregistered version");
            assertTrue(v.revokedAt == 0 || v.revokedAt >= o.anchoredAt, "batch of a revoked version");
            IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(o.attestor);
            assertEq(k.publisher, v.publisher, "key bound to another publisher");
            assertLe(k.addedAt, o.anchoredAt, "key added after the batch");
            assertTrue(k.revokedAt == 0 || k.revokedAt >= o.anchoredAt, "key revoked before the batch");
        }
        assertEq(registry.getOutputBatch(bytes32(0)).anchoredAt, 0, "zero root anchored");
    }

    /// @notice Revoked versions stay registered and keep their history.
    function invariant_RevokedVersionsKeepHistory() public view {
        uint256 n = handler.recordCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Record memory rec = handler.record(i);
            IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(rec.versionHash);
            assertEq(v.revokedAt != 0, handler.versionRevoked(rec.versionHash));
            assertTrue(registry.isRegistered(rec.versionHash));
        }
    }
}
