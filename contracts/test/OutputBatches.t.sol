// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice Unit and fuzz tests for output batches: `attestOutputs`, `revokeOutputBatch`, `getOutputBatch` and
///         `hashAttestOutputs`, with every event and error. `verifyOutput` is in VerifyOutput.t.sol, replays in
///         OutputReplay.t.sol.
contract OutputBatchesTest is RegistryTestBase {
    bytes32 internal constant V1 = keccak256("version 1");
    bytes32 internal constant V2 = keccak256("version 2");
    bytes32 internal constant ROOT = keccak256("outputs root");
    bytes32 internal constant ROOT2 = keccak256("outputs root 2");

    /// @dev secp256k1 group order; private keys live in [1, N).
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    string internal constant OUTPUTS_TYPE =
        "AttestOutputs(bytes32 versionHash,bytes32 root,uint64 leafCount,uint64 windowStart,uint64 windowEnd,string batchURI,uint256 nonce,uint256 deadline)";

    function setUp() public override {
        super.setUp();
        _registerVersion(V1);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-712
    // ---------------------------------------------------------------------------------------------

    function test_OutputsTypehash() public view {
        assertEq(registry.ATTEST_OUTPUTS_TYPEHASH(), OUTPUTS_TYPEHASH);
        assertEq(OUTPUTS_TYPEHASH, vm.eip712HashType(OUTPUTS_TYPE));
    }

    /// @dev Cross-checks the digest against forge's own EIP-712 implementation (alloy), fed with JSON typed data.
    function test_HashAttestOutputs_MatchesTypedDataJson() public view {
        Batch memory b = _batch(V1, ROOT);
        bytes32 expected = vm.eip712HashTypedData(_typedDataJson(b));
        assertEq(_digest(address(registry), b), expected);
        assertEq(_hashOnChain(b), expected);
    }

    /// @dev The same for every field value, with the struct hash checked against `vm.eip712HashStruct`.
    function testFuzz_HashAttestOutputs(
        bytes32 versionHash,
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline
    ) public view {
        Batch memory b = Batch(versionHash, root, leafCount, windowStart, windowEnd, batchURI, nonce, deadline);
        // The cheatcode takes the struct ABI-encoded as one tuple.
        assertEq(_structHash(b), vm.eip712HashStruct(OUTPUTS_TYPE, abi.encode(b)));
        assertEq(_hashOnChain(b), _digest(address(registry), b));
    }

    /// @dev Different primary types never share a digest: a registration signature cannot authorize a batch.
    function test_HashAttestOutputs_DiffersFromRegistration() public view {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        Batch memory b = _batch(V1, ROOT);
        b.nonce = r.nonce;
        b.deadline = r.deadline;
        assertTrue(_hashOnChain(b) != _digest(address(registry), r));
    }

    // ---------------------------------------------------------------------------------------------
    // attestOutputs
    // ---------------------------------------------------------------------------------------------

    function test_AttestOutputs() public {
        Batch memory b = _batch(V1, ROOT);
        vm.warp(block.timestamp + 10);
        vm.roll(block.number + 1);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(
            ROOT, V1, lab, attestor, b.leafCount, b.windowStart, b.windowEnd, b.batchURI
        );
        _attestSigned(b);

        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.versionHash, V1);
        assertEq(o.attestor, attestor);
        assertEq(o.leafCount, b.leafCount);
        assertEq(o.windowStart, b.windowStart);
        assertEq(o.windowEnd, b.windowEnd);
        assertEq(o.anchoredAt, block.timestamp);
        assertEq(o.anchoredBlock, block.number);
        assertEq(o.revokedAt, 0);
        assertTrue(registry.isNonceUsed(attestor, b.nonce));
        assertFalse(registry.isNonceUsed(relayer, b.nonce), "nonces belong to the signer, not the sender");
    }

    /// @dev The batch is two fresh slots and the nonce one: the batch URI is only in the event.
    function test_AttestOutputs_WritesThreeSlots() public {
        Batch memory b = _batch(V1, ROOT);
        vm.record();
        _attestSigned(b);
        (, bytes32[] memory writes) = vm.accesses(address(registry));
        assertEq(writes.length, 3);
    }

    /// @dev Any active key of the version's publisher may anchor, not only the key that registered the version;
    ///      the batch records its own signer, and each key's compact id maps back to the right address.
    function test_AttestOutputs_ByOtherKeysOfPublisher() public {
        (address second, uint256 secondPk) = makeAddrAndKey("second key");
        (address third, uint256 thirdPk) = makeAddrAndKey("third key");
        _addAttestor(lab, lab, secondPk);
        _addAttestor(lab, lab, thirdPk);

        Batch memory b = _batch(V1, ROOT);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(
            ROOT, V1, lab, third, b.leafCount, b.windowStart, b.windowEnd, b.batchURI
        );
        _submitAs(thirdPk, b);
        _submitAs(secondPk, _batch(V1, ROOT2));

        assertEq(registry.getOutputBatch(ROOT).attestor, third);
        assertEq(registry.getOutputBatch(ROOT2).attestor, second);
        assertTrue(registry.isNonceUsed(third, b.nonce));
        assertFalse(registry.isNonceUsed(attestor, b.nonce));
    }

    function test_AttestOutputs_AtDeadline() public {
        Batch memory b = _batch(V1, ROOT);
        b.deadline = block.timestamp;
        _attestSigned(b);
        assertEq(registry.getOutputBatch(ROOT).versionHash, V1);
    }

    /// @dev One output, at one instant (an empty window is not inverted); time zero is a valid timestamp.
    function test_AttestOutputs_SingleLeafPointWindow() public {
        Batch memory b = _batch(V1, ROOT);
        b.leafCount = 1;
        b.windowStart = 0;
        b.windowEnd = 0;
        _attestSigned(b);
        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.leafCount, 1);
        assertEq(o.windowStart, 0);
        assertEq(o.windowEnd, 0);
        assertEq(o.anchoredAt, block.timestamp);
    }

    /// @dev The widest values storage takes come back unchanged from the view (at a block time that far away, as
    ///      a window cannot end after its block).
    function test_AttestOutputs_MaxWidths() public {
        vm.warp(type(uint40).max);
        Batch memory b = _batch(V1, ROOT);
        b.leafCount = type(uint32).max;
        b.windowStart = type(uint40).max;
        b.windowEnd = type(uint40).max;
        _attestSigned(b);
        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.leafCount, type(uint32).max);
        assertEq(o.windowStart, type(uint40).max);
        assertEq(o.windowEnd, type(uint40).max);
    }

    /// @dev Outputs may be anchored long after they were produced: the window may lie anywhere in the past. The
    ///      anchoring time is the only trusted upper bound; the window is the attestor's claim.
    function test_AttestOutputs_WindowLongBefore() public {
        Batch memory b = _batch(V1, ROOT);
        b.windowStart = uint64(block.timestamp - 365 days);
        b.windowEnd = uint64(block.timestamp - 300 days);
        _attestSigned(b);
        assertEq(registry.getOutputBatch(ROOT).windowEnd, block.timestamp - 300 days);
    }

    /// @dev A window may end in the anchoring block itself.
    function test_AttestOutputs_WindowEndsAtBlockTime() public {
        Batch memory b = _batch(V1, ROOT);
        b.windowStart = uint64(block.timestamp);
        b.windowEnd = uint64(block.timestamp);
        _attestSigned(b);
        assertEq(registry.getOutputBatch(ROOT).windowEnd, registry.getOutputBatch(ROOT).anchoredAt);
    }

    /// @dev The batch belongs to the signer's publisher, and to its own claim of the version: when two publishers
    ///      claim V1, each one's key anchors batches of its own claim, and the event names that publisher.
    function test_AttestOutputs_AttributedToSignersPublisher() public {
        (address other, address otherKey, uint256 otherPk) = _newPublisher("other lab", "Acme AI");
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);

        Batch memory b = _batch(V1, ROOT2);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(
            ROOT2, V1, other, otherKey, b.leafCount, b.windowStart, b.windowEnd, b.batchURI
        );
        _submitAs(otherPk, b);
        _attestSigned(_batch(V1, ROOT));

        assertEq(registry.getAttestorKey(registry.getOutputBatch(ROOT2).attestor).publisher, other);
        assertEq(registry.getAttestorKey(registry.getOutputBatch(ROOT).attestor).publisher, lab);
        // Each admin revokes only its own publisher's batch.
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, other, lab));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT2, "");
    }

    function test_AttestOutputs_EmptyBatchURI() public {
        Batch memory b = _batch(V1, ROOT);
        b.batchURI = "";
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(ROOT, V1, lab, attestor, b.leafCount, b.windowStart, b.windowEnd, "");
        _attestSigned(b);
    }

    /// @dev A key revoked after anchoring does not undo its batches; the record keeps naming it.
    function test_AttestOutputs_KeyRevokedLater() public {
        _attestSigned(_batch(V1, ROOT));
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.attestor, attestor);
        assertEq(o.revokedAt, 0);
    }

    function test_AttestOutputs_SentBySigner() public {
        Batch memory b = _batch(V1, ROOT);
        _submitFrom(attestor, registry, b, _sign(attestorPk, b));
        assertEq(registry.getOutputBatch(ROOT).attestor, attestor);
    }

    function test_GetOutputBatch_Unknown() public view {
        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.versionHash, bytes32(0));
        assertEq(o.attestor, address(0));
        assertEq(o.leafCount, 0);
        assertEq(o.windowStart, 0);
        assertEq(o.windowEnd, 0);
        assertEq(o.anchoredAt, 0);
        assertEq(o.anchoredBlock, 0);
        assertEq(o.revokedAt, 0);
    }

    function testFuzz_AttestOutputs(
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline,
        uint256 elapsed
    ) public {
        root = bytes32(bound(uint256(root), 1, type(uint256).max));
        leafCount = uint64(bound(leafCount, 1, type(uint32).max));
        elapsed = bound(elapsed, 0, 365 days);
        windowEnd = uint64(bound(windowEnd, 0, block.timestamp + elapsed)); // not after the anchoring block
        windowStart = uint64(bound(windowStart, 0, windowEnd));
        deadline = bound(deadline, block.timestamp + elapsed, type(uint256).max);
        if (nonce == uint256(V1)) nonce = ~nonce; // the registration of V1 used that one
        Batch memory b = Batch(V1, root, leafCount, windowStart, windowEnd, batchURI, nonce, deadline);

        vm.warp(block.timestamp + elapsed);
        vm.roll(block.number + elapsed / 12);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(root, V1, lab, attestor, leafCount, windowStart, windowEnd, batchURI);
        _attestSigned(b);

        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(root);
        assertEq(o.versionHash, V1);
        assertEq(o.attestor, attestor);
        assertEq(o.leafCount, leafCount);
        assertEq(o.windowStart, windowStart);
        assertEq(o.windowEnd, windowEnd);
        assertEq(o.anchoredAt, block.timestamp);
        assertEq(o.anchoredBlock, block.number);
        assertEq(o.revokedAt, 0);
        assertTrue(registry.isNonceUsed(attestor, nonce));
    }

    // ---------------------------------------------------------------------------------------------
    // attestOutputs: reverts, one per check
    // ---------------------------------------------------------------------------------------------

    function test_RevertWhen_AttestOutputs_Expired() public {
        Batch memory b = _batch(V1, ROOT);
        vm.warp(b.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, b.deadline));
        _attestSigned(b);
    }

    function testFuzz_RevertWhen_AttestOutputs_Expired(uint256 deadline, uint256 late) public {
        deadline = bound(deadline, 0, block.timestamp + 10 * 365 days);
        late = bound(late, 1, 365 days);
        Batch memory b = _batch(V1, ROOT);
        b.deadline = deadline;
        vm.warp(deadline + late);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, deadline));
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_ZeroRoot() public {
        _expectInvalidBatch(_batch(V1, bytes32(0)));
    }

    function test_RevertWhen_AttestOutputs_ZeroLeafCount() public {
        Batch memory b = _batch(V1, ROOT);
        b.leafCount = 0;
        _expectInvalidBatch(b);
    }

    function test_RevertWhen_AttestOutputs_InvertedWindow() public {
        Batch memory b = _batch(V1, ROOT);
        (b.windowStart, b.windowEnd) = (b.windowEnd, b.windowStart);
        _expectInvalidBatch(b);
    }

    /// @dev One more leaf than the 32-bit field holds.
    function test_RevertWhen_AttestOutputs_LeafCountTooWide() public {
        Batch memory b = _batch(V1, ROOT);
        b.leafCount = uint64(type(uint32).max) + 1;
        _expectInvalidBatch(b);
    }

    /// @dev One second past the 40-bit field (the year 36812).
    function test_RevertWhen_AttestOutputs_WindowTooWide() public {
        Batch memory b = _batch(V1, ROOT);
        b.windowEnd = uint64(type(uint40).max) + 1;
        _expectInvalidBatch(b);
        b.windowStart = b.windowEnd;
        _expectInvalidBatch(b);
    }

    /// @dev A window ending after the anchoring block would claim outputs not yet produced.
    function test_RevertWhen_AttestOutputs_WindowInFuture() public {
        Batch memory b = _batch(V1, ROOT);
        b.windowEnd = uint64(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryWindowInFuture.selector, b.windowEnd));
        _attestSigned(b);
    }

    function testFuzz_RevertWhen_AttestOutputs_WindowInFuture(uint64 windowStart, uint64 windowEnd) public {
        windowEnd = uint64(bound(windowEnd, block.timestamp + 1, type(uint40).max));
        windowStart = uint64(bound(windowStart, 0, windowEnd));
        Batch memory b = _batch(V1, ROOT);
        (b.windowStart, b.windowEnd) = (windowStart, windowEnd);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryWindowInFuture.selector, windowEnd));
        _attestSigned(b);
    }

    /// @dev The typical mistake the width catches: a window in milliseconds.
    function test_RevertWhen_AttestOutputs_WindowInMilliseconds() public {
        Batch memory b = _batch(V1, ROOT);
        b.windowStart *= 1000;
        b.windowEnd *= 1000;
        _expectInvalidBatch(b);
    }

    /// @dev Each way a batch can be malformed, with any values, is refused before the signature is looked at.
    function testFuzz_RevertWhen_AttestOutputs_InvalidBatch(uint8 problem, uint64 a, uint64 c) public {
        Batch memory b = _batch(V1, ROOT);
        problem = uint8(bound(problem, 0, 4));
        if (problem == 0) {
            b.root = bytes32(0);
        } else if (problem == 1) {
            b.leafCount = 0;
        } else if (problem == 2) {
            b.leafCount = uint64(bound(a, uint64(type(uint32).max) + 1, type(uint64).max));
        } else if (problem == 3) {
            b.windowEnd = uint64(bound(a, uint64(type(uint40).max) + 1, type(uint64).max));
        } else {
            b.windowEnd = uint64(bound(a, 0, type(uint64).max - 1));
            b.windowStart = uint64(bound(c, uint256(b.windowEnd) + 1, type(uint64).max));
        }
        _expectInvalidBatch(b);
    }

    function test_RevertWhen_AttestOutputs_BatchExists() public {
        _attestSigned(_batch(V1, ROOT));
        Batch memory b = _batch(V1, ROOT);
        b.nonce = 999; // a fresh nonce: the duplicate root alone is refused
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchExists.selector, ROOT));
        _attestSigned(b);
    }

    /// @dev A root belongs to one version: the same root cannot be anchored again for another.
    function test_RevertWhen_AttestOutputs_BatchExistsForOtherVersion() public {
        _registerVersion(V2);
        _attestSigned(_batch(V1, ROOT));
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchExists.selector, ROOT));
        Batch memory b = _batch(V2, ROOT);
        b.nonce = 999;
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_UnknownVersion() public {
        Batch memory b = _batch(V2, ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, lab, V2));
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_ZeroVersion() public {
        Batch memory b = _batch(bytes32(0), ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, lab, bytes32(0)));
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_VersionRevoked() public {
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "weights leaked");
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionRevoked.selector, lab, V1));
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_SignatureWrongLength() public {
        Batch memory b = _batch(V1, ROOT);
        bytes memory signature = _sign(attestorPk, b);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, bytes.concat(signature, hex"00"));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, "");
    }

    function test_RevertWhen_AttestOutputs_SignatureInvalidV() public {
        Batch memory b = _batch(V1, ROOT);
        (bytes32 rr, bytes32 s,) = _split(_sign(attestorPk, b));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, abi.encodePacked(rr, s, uint8(29)));
    }

    function test_RevertWhen_AttestOutputs_SignatureZeroed() public {
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, abi.encodePacked(bytes32(0), bytes32(0), uint8(27)));
    }

    /// @dev The high-s twin of a valid signature recovers the same key, but is refused (no malleability).
    function test_RevertWhen_AttestOutputs_SignatureMalleable() public {
        Batch memory b = _batch(V1, ROOT);
        (bytes32 rr, bytes32 s, uint8 v) = _split(_sign(attestorPk, b));
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        assertEq(ecrecover(_digest(address(registry), b), flippedV, rr, highS), attestor);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, abi.encodePacked(rr, highS, flippedV));
    }

    function test_RevertWhen_AttestOutputs_SignerNeverAdded() public {
        (address rogue, uint256 roguePk) = makeAddrAndKey("rogue");
        Batch memory b = _batch(V1, ROOT);
        // A key never added has no publisher.
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), rogue)
        );
        _submitAs(roguePk, b);
    }

    /// @dev An active key of another publisher cannot anchor outputs of `lab`'s claim: the batch would belong to
    ///      its own publisher, which does not claim V1.
    function test_RevertWhen_AttestOutputs_SignerOfOtherPublisher() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, other, V1));
        _submitAs(otherPk, b);
    }

    /// @dev The same when `other` claimed V1 and revoked its claim: `lab`'s unrevoked claim does not help.
    function test_RevertWhen_AttestOutputs_SignersPublisherRevokedItsClaim() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);
        vm.prank(other);
        registry.revokeModelVersion(other, V1, "");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionRevoked.selector, other, V1));
        _submitAs(otherPk, _batch(V1, ROOT));
    }

    function test_RevertWhen_AttestOutputs_SignerRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _attestSigned(b);
    }

    function test_RevertWhen_AttestOutputs_SignerCompromised() public {
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp - 1 days));
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _attestSigned(b);
    }

    /// @dev The admin key is not an attestor key unless added as one.
    function test_RevertWhen_AttestOutputs_SignedByAdmin() public {
        (address admin, uint256 adminPk) = makeAddrAndKey("admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, admin);
        vm.prank(admin);
        registry.acceptPublisherAdmin(lab);
        Batch memory b = _batch(V1, ROOT);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), admin)
        );
        _submitAs(adminPk, b);
    }

    function testFuzz_RevertWhen_AttestOutputs_UnauthorizedKey(uint256 pk) public {
        pk = bound(pk, 1, SECP256K1_N - 1);
        address signer = vm.addr(pk);
        Batch memory b = _batch(V1, ROOT);
        if (signer == attestor) {
            _submitAs(pk, b);
            return;
        }
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), signer)
        );
        _submitAs(pk, b);
    }

    /// @dev Changing any signed field after signing recovers another address, which is not an attestor.
    function testFuzz_RevertWhen_AttestOutputs_FieldTampered(uint8 field, bytes32 value) public {
        _registerVersion(V2); // a registered version of the same publisher to redirect the batch to
        Batch memory b = _batch(V1, ROOT);
        b.windowEnd -= 1; // so that a window one second longer still ends by this block
        bytes memory signature = _sign(attestorPk, b);

        field = uint8(bound(field, 0, 7));
        value = bytes32(bound(uint256(value), 1, type(uint256).max));
        if (field == 0) b.versionHash = V2;
        // (A zero root is refused earlier, as an invalid batch: flip every bit instead.)
        else if (field == 1) b.root = b.root ^ value == bytes32(0) ? ~b.root : b.root ^ value;
        else if (field == 2) b.leafCount = b.leafCount + 1;
        else if (field == 3) b.windowStart = b.windowStart - 1;
        else if (field == 4) b.windowEnd = b.windowEnd + 1;
        else if (field == 5) b.batchURI = string.concat(b.batchURI, "#");
        else if (field == 6) b.nonce = b.nonce ^ uint256(value);
        else b.deadline = b.deadline + 1;

        address recovered = _recoverOn(registry, b, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(b, signature);
    }

    function test_RevertWhen_AttestOutputs_NonceInvalidated() public {
        Batch memory b = _batch(V1, ROOT);
        vm.prank(attestor);
        registry.invalidateNonce(b.nonce);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, b.nonce));
        _attestSigned(b);
    }

    /// @dev Registrations and batches share a signer's nonces.
    function test_RevertWhen_AttestOutputs_NonceUsedByRegistration() public {
        Batch memory b = _batch(V1, ROOT);
        b.nonce = uint256(V1); // the nonce `_registerVersion(V1)` used
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, b.nonce));
        _attestSigned(b);
    }

    /// @dev Errors come in the documented order: deadline, batch fields, window in the future, duplicate root,
    ///      signature, signer (an active key), the signer's publisher's claim (unknown, then revoked), nonce. Each
    ///      step below fixes one problem and expects the next error.
    function test_AttestOutputs_CheckOrder() public {
        _attestSigned(_batch(V1, ROOT2));
        _registerVersion(V2);
        vm.prank(lab);
        registry.revokeModelVersion(lab, V2, "");
        vm.prank(attestor);
        registry.invalidateNonce(7);

        bytes32 unknown = keccak256("unknown version");
        Batch memory b = _batch(unknown, ROOT2); // duplicate root
        b.leafCount = 0;
        b.windowEnd = uint64(block.timestamp + 1);
        b.nonce = 7;
        b.deadline = block.timestamp - 1;
        bytes memory badSig = hex"1234";

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, b.deadline));
        _submit(b, badSig);
        b.deadline = block.timestamp;

        vm.expectRevert(IProvenanceRegistry.RegistryInvalidBatch.selector);
        _submit(b, badSig);
        b.leafCount = 10;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryWindowInFuture.selector, b.windowEnd));
        _submit(b, badSig);
        b.windowEnd = uint64(block.timestamp);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchExists.selector, ROOT2));
        _submit(b, badSig);
        b.root = ROOT;

        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(b, badSig);

        (, uint256 roguePk) = makeAddrAndKey("rogue");
        vm.expectRevert(
            abi.encodeWithSelector(
                IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), vm.addr(roguePk)
            )
        );
        _submitAs(roguePk, b);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, lab, unknown));
        _attestSigned(b);
        b.versionHash = V2;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionRevoked.selector, lab, V2));
        _attestSigned(b);
        b.versionHash = V1;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, 7));
        _attestSigned(b);

        b.nonce = 8;
        _attestSigned(b);
        assertEq(registry.getOutputBatch(ROOT).versionHash, V1);
    }

    // ---------------------------------------------------------------------------------------------
    // revokeOutputBatch
    // ---------------------------------------------------------------------------------------------

    function test_RevokeOutputBatch() public {
        Batch memory b = _batch(V1, ROOT);
        _attestSigned(b);
        uint256 anchoredAt = block.timestamp;
        vm.warp(block.timestamp + 1 days);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputBatchRevoked(ROOT, lab, "salts leaked");
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT, "salts leaked");

        IProvenanceRegistry.OutputBatch memory o = registry.getOutputBatch(ROOT);
        assertEq(o.revokedAt, block.timestamp);
        assertEq(o.versionHash, V1, "history is kept");
        assertEq(o.attestor, attestor);
        assertEq(o.leafCount, b.leafCount);
        assertEq(o.anchoredAt, anchoredAt);
    }

    function test_RevokeOutputBatch_ByNewAdmin() public {
        _attestSigned(_batch(V1, ROOT));
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);
        vm.prank(newAdmin);
        registry.revokeOutputBatch(ROOT, "");
        assertTrue(registry.getOutputBatch(ROOT).revokedAt != 0);
    }

    /// @dev The publisher can still revoke a batch after the key that anchored it was revoked, or after the
    ///      version itself was.
    function test_RevokeOutputBatch_AfterKeyAndVersionRevoked() public {
        _attestSigned(_batch(V1, ROOT));
        vm.startPrank(lab);
        registry.revokeAttestor(lab, attestor);
        registry.revokeModelVersion(lab, V1, "");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputBatchRevoked(ROOT, lab, "key leaked");
        registry.revokeOutputBatch(ROOT, "key leaked");
        vm.stopPrank();
    }

    /// @dev A revoked root stays taken: it cannot be anchored again.
    function test_RevertWhen_AttestOutputs_RevokedRoot() public {
        _attestSigned(_batch(V1, ROOT));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT, "");
        Batch memory b = _batch(V1, ROOT);
        b.nonce = 999;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchExists.selector, ROOT));
        _attestSigned(b);
    }

    function test_RevertWhen_RevokeOutputBatch_UnknownBatch() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownBatch.selector, ROOT));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT, "");
    }

    function test_RevertWhen_RevokeOutputBatch_NotAdmin() public {
        _attestSigned(_batch(V1, ROOT));
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        vm.prank(attestor); // the signing key is not the admin
        registry.revokeOutputBatch(ROOT, "");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, stranger));
        vm.prank(stranger);
        registry.revokeOutputBatch(ROOT, "");
    }

    /// @dev The admin of another publisher cannot revoke `lab`'s batch.
    function test_RevertWhen_RevokeOutputBatch_AdminOfOtherPublisher() public {
        _attestSigned(_batch(V1, ROOT));
        address other = makeAddr("other lab");
        vm.prank(other);
        registry.registerPublisher("Other Lab", "");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, other));
        vm.prank(other);
        registry.revokeOutputBatch(ROOT, "");
    }

    function test_RevertWhen_RevokeOutputBatch_AlreadyRevoked() public {
        _attestSigned(_batch(V1, ROOT));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT, "first");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchAlreadyRevoked.selector, ROOT));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT, "second");
    }

    // ---------------------------------------------------------------------------------------------
    // Attestor keys (the compact ids that batches store)
    // ---------------------------------------------------------------------------------------------

    /// @dev Moving `addedAt` to the key's second slot to make room for the id changes nothing visible.
    function test_GetAttestorKey_FieldsAroundId() public {
        (address key, uint256 keyPk) = makeAddrAndKey("second key");
        _addAttestor(lab, lab, keyPk);
        uint256 addedAt = block.timestamp;
        vm.warp(block.timestamp + 1 days);
        vm.prank(lab);
        registry.markAttestorCompromised(lab, key, uint64(block.timestamp - 1 hours));

        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(key);
        assertEq(k.publisher, lab);
        assertEq(k.addedAt, addedAt);
        assertEq(k.revokedAt, block.timestamp);
        assertEq(k.compromisedSince, block.timestamp - 1 hours);
    }

    /// @dev Keys of several publishers, added in any order: every batch names the key that signed it.
    function testFuzz_GetOutputBatch_AttestorOfEachKey(uint8 keyCount, uint256 seed) public {
        keyCount = uint8(bound(keyCount, 1, 12));
        address other = makeAddr("other lab");
        vm.prank(other);
        registry.registerPublisher("Other Lab", "");
        for (uint256 i; i < keyCount; ++i) {
            (address key, uint256 pk) = makeAddrAndKey(string.concat("key ", vm.toString(i)));
            bool ours = uint256(keccak256(abi.encode(seed, i))) % 2 == 0;
            _addAttestor(ours ? lab : other, ours ? lab : other, pk);
            if (!ours) continue;
            Batch memory b = _batch(V1, keccak256(abi.encode("root", i)));
            _submitAs(pk, b);
            assertEq(registry.getOutputBatch(b.root).attestor, key);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    function _expectInvalidBatch(Batch memory b) internal {
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidBatch.selector);
        _attestSigned(b);
    }

    function _hashOnChain(Batch memory b) internal view returns (bytes32) {
        return registry.hashAttestOutputs(
            b.versionHash, b.root, b.leafCount, b.windowStart, b.windowEnd, b.batchURI, b.nonce, b.deadline
        );
    }

    function _typedDataJson(Batch memory b) internal view returns (string memory) {
        string memory fields = string.concat(
            '{"name":"versionHash","type":"bytes32"},{"name":"root","type":"bytes32"},',
            '{"name":"leafCount","type":"uint64"},{"name":"windowStart","type":"uint64"},',
            '{"name":"windowEnd","type":"uint64"},{"name":"batchURI","type":"string"},',
            '{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}'
        );
        string memory message = string.concat(
            '"versionHash":"',
            vm.toString(b.versionHash),
            '","root":"',
            vm.toString(b.root),
            '","leafCount":',
            vm.toString(b.leafCount),
            ',"windowStart":',
            vm.toString(b.windowStart),
            ',"windowEnd":',
            vm.toString(b.windowEnd),
            ',"batchURI":"',
            b.batchURI,
            '","nonce":"',
            vm.toString(b.nonce),
            '","deadline":"',
            vm.toString(b.deadline),
            '"'
        );
        return _typedDataJson("AttestOutputs", fields, message);
    }
}
