// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";
import {StandardMerkleTree} from "./utils/StandardMerkleTree.sol";

/// @notice The attacks of the 2026-12 security review against ProvenanceRegistry (findings 5, 6, 7 and 15), each
///         performed against the contract and shown to fail: version squatting and front-running (7), backdated and
///         future-dated outputs (6), batches anchored with a stolen key (5), attestor-key squatting (15), and
///         descendant claims of someone else's version.
contract ProvenanceAttacksTest is RegistryTestBase {
    /// @dev The version hash of the lab's weights (the root of their manifest, built in `setUp`).
    bytes32 internal weights;
    StandardMerkleTree.Entry[] internal files;
    bytes32[] internal tree;
    uint256[] internal treeIndex;

    address internal attacker;
    address internal attackerKey;
    uint256 internal attackerPk;

    function setUp() public override {
        super.setUp();
        files.push(StandardMerkleTree.Entry("config.json", 612, sha256("config")));
        files.push(StandardMerkleTree.Entry("model-00001-of-00002.safetensors", 4_943_000_000, sha256("shard 1")));
        files.push(StandardMerkleTree.Entry("model-00002-of-00002.safetensors", 2_100_000_000, sha256("shard 2")));
        files.push(StandardMerkleTree.Entry("tokenizer.json", 1_842_000, sha256("tokenizer")));
        (bytes32[] memory t, uint256[] memory at) = StandardMerkleTree.build(files);
        (tree, treeIndex, weights) = (t, at, t[0]);
        // Publisher names are not unique: the attacker registers as "Acme AI" too.
        (attacker, attackerKey, attackerPk) = _newPublisher("attacker", "Acme AI");
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 7: version squatting
    // ---------------------------------------------------------------------------------------------

    /// @dev The attacker, named "Acme AI" like the lab, pre-registers the lab's public weights. The lab can still
    ///      register its own claim; both claims exist side by side, `verifyFile` answers for the publisher asked
    ///      about, and revoking either claim leaves the other as it was.
    function test_Attack_VersionSquatting() public {
        assertEq(registry.getPublisher(attacker).name, registry.getPublisher(lab).name, "same display name");
        IProvenanceRegistry.VersionClaim memory squat = _attackerClaim(weights);
        squat.metadataURI = "ipfs://fake-model-card";
        _submitAs(attackerPk, squat);
        _nextBlock();

        // Before, the lab's transaction reverted with RegistryVersionExists; now it registers the lab's own claim.
        IProvenanceRegistry.VersionClaim memory ours = _claim(weights);
        _registerSigned(ours);

        IProvenanceRegistry.ModelVersion memory labClaim = registry.getModelVersion(lab, weights);
        IProvenanceRegistry.ModelVersion memory squatClaim = registry.getModelVersion(attacker, weights);
        assertEq(labClaim.publisher, lab);
        assertEq(labClaim.attestor, attestor);
        assertEq(labClaim.metadataURI, ours.metadataURI);
        assertEq(squatClaim.publisher, attacker);
        assertEq(squatClaim.attestor, attackerKey);
        assertEq(squatClaim.metadataURI, "ipfs://fake-model-card");

        // Each file proves against the lab's claim; the attacker's answers concern the attacker's claim only.
        for (uint256 i; i < files.length; ++i) {
            assertTrue(_verifyFile(lab, weights, i), "file of the lab's claim");
            assertTrue(_verifyFile(attacker, weights, i), "the attacker's own claim of the same files");
        }
        // A version only the lab claims: the attacker's claims say nothing about it.
        StandardMerkleTree.Entry memory only = StandardMerkleTree.Entry("weights.bin", 7, sha256("lab only"));
        bytes32 labOnly = keccak256(bytes.concat(keccak256(abi.encode(only.path, only.size, only.sha256Digest))));
        _registerVersion(labOnly);
        bytes32[] memory none = new bytes32[](0);
        assertTrue(registry.verifyFile(lab, labOnly, only.path, only.size, only.sha256Digest, none));
        assertFalse(registry.verifyFile(attacker, labOnly, only.path, only.size, only.sha256Digest, none));

        // The attacker cannot revoke the lab's claim, and revoking its own leaves the lab's as it was.
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attacker));
        vm.prank(attacker);
        registry.revokeModelVersion(lab, weights, "mine");
        vm.prank(attacker);
        registry.revokeModelVersion(attacker, weights, "caught");
        _assertSameClaim(registry.getModelVersion(lab, weights), labClaim);
        assertTrue(_verifyFile(lab, weights, 0));
        _attestSigned(_batch(weights, keccak256("lab outputs"))); // the lab's claim is still active

        // And the lab revoking its claim leaves the attacker's (revoked earlier) untouched.
        uint64 squatRevokedAt = registry.getModelVersion(attacker, weights).revokedAt;
        vm.warp(block.timestamp + 1 days);
        vm.prank(lab);
        registry.revokeModelVersion(lab, weights, "superseded");
        assertEq(registry.getModelVersion(attacker, weights).revokedAt, squatRevokedAt);
        assertTrue(registry.isRegistered(attacker, weights) && registry.isRegistered(lab, weights));
    }

    /// @dev The squatter's key can anchor outputs under the lab's version hash, but only as the squatter's: the
    ///      batch belongs to the squatter's claim and names the squatter, and the lab's outputs stay the lab's.
    ///      (`verifyOutput` takes no publisher: a caller must look up whose key anchored the batch.)
    function test_Attack_VersionSquatting_OutputsAttributedToSquatter() public {
        _registerVersion(weights);
        Batch memory b = _batch(weights, keccak256("squatter outputs"));
        // Without its own claim, the attacker's key cannot anchor anything for the hash.
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, attacker, weights));
        _submitAs(attackerPk, b);

        _submitAs(attackerPk, _attackerClaim(weights));
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.OutputsAttested(
            b.root, weights, attacker, attackerKey, b.leafCount, b.windowStart, b.windowEnd, b.batchURI
        );
        _submitAs(attackerPk, b);
        assertEq(registry.getAttestorKey(registry.getOutputBatch(b.root).attestor).publisher, attacker);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, attacker, lab));
        vm.prank(lab);
        registry.revokeOutputBatch(b.root, "not ours");
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 7: front-running a relayed registration
    // ---------------------------------------------------------------------------------------------

    /// @dev The attacker copies the lab's signed claim from the mempool and submits it first, from its own
    ///      address: it only relays the lab's claim. Pointing the copy at itself breaks the signature.
    function test_Attack_FrontRun_CopiedClaimOnlyRelaysLabsClaim() public {
        IProvenanceRegistry.VersionClaim memory c = _claim(weights);
        bytes memory signature = _sign(attestorPk, c);

        IProvenanceRegistry.VersionClaim memory redirected = _claim(weights);
        redirected.publisher = attacker;
        address recovered = _recoverOn(registry, redirected, signature);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, attacker, recovered)
        );
        _submitFrom(attacker, registry, redirected, signature);

        _submitFrom(attacker, registry, c, signature);
        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, weights);
        assertEq(v.publisher, lab, "the copy registered the lab's claim");
        assertEq(v.attestor, attestor);
        assertFalse(registry.isRegistered(attacker, weights), "and nothing for the attacker");

        // The lab's own relayer then finds its claim already there.
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, weights));
        _submit(c, signature);
    }

    /// @dev The lab commits at block N and reveals at N + k. The attacker, seeing the version hash in the reveal,
    ///      claims it in the same block (with no commitment, or committing and revealing at once, which reverts)
    ///      or commits then and reveals later: each claim's priority is strictly later than the lab's commitment.
    function test_Attack_FrontRun_CopiedHashCannotGetAheadOfCommitment() public {
        IProvenanceRegistry.VersionClaim memory ours = _claim(weights);
        ours.commitSalt = keccak256("lab's secret salt");
        _commit(ours);
        uint256 n = block.number;
        vm.roll(n + 5);
        vm.warp(block.timestamp + 60);
        bytes memory ourSignature = _sign(attestorPk, ours); // the reveal, now in the mempool

        // Same block, ahead of the lab's transaction: commit and reveal at once is refused...
        IProvenanceRegistry.VersionClaim memory copy = _attackerClaim(weights);
        copy.commitSalt = keccak256("attacker salt");
        bytes32 copyCommitment = _commitment(attacker, weights, copy.commitSalt);
        vm.prank(attacker);
        registry.commitModelVersion(copyCommitment);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryCommitmentTooRecent.selector, copyCommitment)
        );
        _submitAs(attackerPk, copy);
        // ...and a claim without a commitment gets this block as its priority.
        (address rival,, uint256 rivalPk) = _newPublisher("second attacker", "Acme AI");
        IProvenanceRegistry.VersionClaim memory plain = _claim(weights);
        plain.publisher = rival;
        _submitAs(rivalPk, plain);
        // The lab's reveal lands after both, in the same block.
        _submit(ours, ourSignature);
        // A block later, the attacker reveals the commitment it made after seeing the hash.
        _nextBlock();
        _submitAs(attackerPk, copy);

        IProvenanceRegistry.ModelVersion memory labClaim = registry.getModelVersion(lab, weights);
        assertEq(labClaim.committedBlock, n);
        assertEq(labClaim.registeredBlock, n + 5);
        assertGt(_priority(registry.getModelVersion(rival, weights)), labClaim.committedBlock, "same-block claim");
        assertEq(_priority(registry.getModelVersion(rival, weights)), n + 5);
        assertGt(_priority(registry.getModelVersion(attacker, weights)), labClaim.committedBlock, "later reveal");
        assertEq(registry.getModelVersion(attacker, weights).committedBlock, n + 5);
    }

    /// @dev A commitment must come from an earlier block: one recorded in the revealing block is refused.
    function test_Attack_FrontRun_RevealInCommitBlockReverts() public {
        IProvenanceRegistry.VersionClaim memory c = _attackerClaim(weights);
        c.commitSalt = keccak256("salt");
        bytes32 commitment = _commit(c);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryCommitmentTooRecent.selector, commitment));
        _submitAs(attackerPk, c);
    }

    /// @dev The attacker reuses the lab's revealed salt (or guesses one) in its own claim: the commitment binds the
    ///      publisher, so no commitment of the attacker's is found.
    function test_Attack_FrontRun_WrongSaltUnknownCommitment() public {
        IProvenanceRegistry.VersionClaim memory ours = _claim(weights);
        ours.commitSalt = keccak256("lab's secret salt");
        _commit(ours);
        _nextBlock();

        IProvenanceRegistry.VersionClaim memory copy = _attackerClaim(weights);
        copy.commitSalt = ours.commitSalt;
        bytes32 wanted = _commitment(attacker, weights, ours.commitSalt);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownCommitment.selector, wanted));
        _submitAs(attackerPk, copy);

        copy.commitSalt = keccak256("guess");
        wanted = _commitment(attacker, weights, copy.commitSalt);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownCommitment.selector, wanted));
        _submitAs(attackerPk, copy);

        // The lab's salt with the lab's claim is the only match.
        _registerSigned(ours);
        assertEq(registry.getModelVersion(lab, weights).committedBlock, block.number - 1);
    }

    /// @dev A relayer or front-runner that strips the lab's commitment salt (to drop its priority) or changes it
    ///      breaks the signature: the salt is signed.
    function test_Attack_FrontRun_StrippedOrChangedSaltInvalidatesSignature() public {
        IProvenanceRegistry.VersionClaim memory ours = _claim(weights);
        ours.commitSalt = keccak256("lab's secret salt");
        _commit(ours);
        _nextBlock();
        bytes memory signature = _sign(attestorPk, ours);

        IProvenanceRegistry.VersionClaim memory stripped = _claim(weights);
        address recovered = _recoverOn(registry, stripped, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submitFrom(attacker, registry, stripped, signature);

        IProvenanceRegistry.VersionClaim memory changed = _claim(weights);
        changed.commitSalt = keccak256("another salt");
        vm.prank(attacker);
        registry.commitModelVersion(_commitment(lab, weights, changed.commitSalt)); // a later commitment
        _nextBlock();
        recovered = _recoverOn(registry, changed, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submitFrom(attacker, registry, changed, signature);

        // The claim as signed still goes through, with its own commitment's block.
        uint256 committedBlock = block.number - 2;
        _submit(ours, signature);
        assertEq(registry.getModelVersion(lab, weights).committedBlock, committedBlock);
    }

    /// @dev Re-sending the lab's commitment later (to make it look recent) changes nothing: the first block stays.
    function test_Attack_FrontRun_ResentCommitmentKeepsFirstBlock() public {
        IProvenanceRegistry.VersionClaim memory ours = _claim(weights);
        ours.commitSalt = keccak256("lab's secret salt");
        bytes32 commitment = _commit(ours);
        (uint64 at, uint64 n) = (uint64(block.timestamp), uint64(block.number));

        vm.roll(n + 10);
        vm.warp(block.timestamp + 120);
        vm.prank(attacker);
        registry.commitModelVersion(commitment);
        (uint64 at2, uint64 n2) = registry.getCommitment(commitment);
        assertEq(at2, at);
        assertEq(n2, n);

        _registerSigned(ours);
        assertEq(registry.getModelVersion(lab, weights).committedBlock, n);
        assertEq(registry.getModelVersion(lab, weights).committedAt, at);
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 6: backdated and future-dated outputs
    // ---------------------------------------------------------------------------------------------

    /// @dev A batch cannot claim outputs from the future: its window must end by the anchoring block.
    function test_Attack_FutureDatedBatchReverts() public {
        _registerVersion(weights);
        Batch memory b = _batch(weights, keccak256("outputs"));
        b.windowEnd = uint64(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryWindowInFuture.selector, b.windowEnd));
        _attestSigned(b);

        b.windowStart = 4_102_444_800; // 2100-01-01
        b.windowEnd = 4_102_444_800;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryWindowInFuture.selector, b.windowEnd));
        _attestSigned(b);
    }

    /// @dev Leaves really in the anchored tree, dated before the window ("we produced this in 2017") or after it,
    ///      do not verify; the leaves inside the window do.
    function test_Attack_BackdatedOrLateLeafDoesNotVerify() public {
        _registerVersion(weights);
        uint64 windowStart = uint64(block.timestamp - 1 hours);
        uint64 windowEnd = uint64(block.timestamp - 10 minutes);
        StandardMerkleTree.OutputLeaf[] memory leaves = new StandardMerkleTree.OutputLeaf[](4);
        leaves[0] = _outputLeaf(0, 1_483_228_800); // 2017-01-01
        leaves[1] = _outputLeaf(1, windowStart);
        leaves[2] = _outputLeaf(2, windowEnd);
        leaves[3] = _outputLeaf(3, windowEnd + 1); // still before the anchoring, but outside the window
        (bytes32[] memory t, uint256[] memory at) = StandardMerkleTree.build(leaves);
        Batch memory b = _batch(weights, t[0]);
        (b.leafCount, b.windowStart, b.windowEnd) = (4, windowStart, windowEnd);
        _attestSigned(b);

        bool[4] memory expected = [false, true, true, false];
        for (uint256 i; i < 4; ++i) {
            bytes32[] memory proof = StandardMerkleTree.getProof(t, at[i]);
            assertTrue(MerkleProof.verify(proof, t[0], StandardMerkleTree.leafHash(leaves[i])), "leaf in the tree");
            StandardMerkleTree.OutputLeaf memory l = leaves[i];
            assertEq(
                registry.verifyOutput(t[0], weights, l.requestHash, l.responseHash, l.timestamp, l.salt, proof),
                expected[i],
                vm.toString(i)
            );
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 5: a stolen attestor key
    // ---------------------------------------------------------------------------------------------

    /// @dev A thief anchors fabricated, backdated outputs with the lab's stolen key. Once the lab flags the key as
    ///      compromised since before the theft, the thief's batch no longer verifies and is reported as signed by
    ///      a compromised key, while a batch the lab anchored before that time still verifies.
    function test_Attack_StolenKeyBatch() public {
        _registerVersion(weights);
        StandardMerkleTree.OutputLeaf memory honest = _outputLeaf(1, uint64(block.timestamp));
        bytes32 honestRoot = StandardMerkleTree.leafHash(honest);
        Batch memory b = _batch(weights, honestRoot);
        b.leafCount = 1;
        _attestSigned(b);

        // Theft a day later; the thief anchors a batch dated before the theft.
        vm.warp(block.timestamp + 1 days);
        uint64 theft = uint64(block.timestamp);
        vm.warp(block.timestamp + 1 hours);
        StandardMerkleTree.OutputLeaf memory forged = _outputLeaf(666, theft - 2 days);
        bytes32 forgedRoot = StandardMerkleTree.leafHash(forged);
        Batch memory f = _batch(weights, forgedRoot);
        (f.leafCount, f.windowStart, f.windowEnd) = (1, theft - 2 days, theft - 2 days);
        _submitFrom(makeAddr("thief"), registry, f, _sign(attestorPk, f));
        IProvenanceRegistry.VersionClaim memory forgedVersion = _claim(keccak256("thief's weights"));
        _submitFrom(makeAddr("thief"), registry, forgedVersion, _sign(attestorPk, forgedVersion));
        assertTrue(_verifyLeaf(forgedRoot, forged), "the attack works until the key is flagged");

        vm.warp(block.timestamp + 1 hours);
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, theft - 1 hours);

        assertFalse(_verifyLeaf(forgedRoot, forged), "thief's batch");
        assertTrue(registry.isBatchSignedByCompromisedKey(forgedRoot));
        assertTrue(registry.isSignedByCompromisedKey(lab, forgedVersion.versionHash));
        assertTrue(_verifyLeaf(honestRoot, honest), "batch anchored before the compromise time");
        assertFalse(registry.isBatchSignedByCompromisedKey(honestRoot));
        assertFalse(registry.isSignedByCompromisedKey(lab, weights));

        // The flagged key is revoked: the thief anchors nothing more.
        Batch memory more = _batch(weights, keccak256("more forged outputs"));
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _attestSigned(more);
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 15: attestor-key squatting
    // ---------------------------------------------------------------------------------------------

    /// @dev The attacker's admin tries to bind the lab's new key to its own publisher, to make it unusable for the
    ///      lab: with a signature by another key, with the key's signature for the lab (copied from the lab's
    ///      pending transaction), with an expired signature, or by sending the lab's transaction itself. All revert,
    ///      and the lab then adds its key.
    function test_Attack_AttestorKeySquat() public {
        (address key, uint256 keyPk) = makeAddrAndKey("lab's new key");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory labsProof = _signAddAttestor(keyPk, lab, deadline); // in the mempool

        bytes memory attackersOwn = _signAddAttestor(attackerPk, attacker, deadline);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, attackerKey));
        vm.prank(attacker);
        registry.addAttestor(attacker, key, deadline, attackersOwn);

        (bytes32 rr, bytes32 s, uint8 v) = _split(labsProof);
        address recovered = ecrecover(_addAttestorDigest(address(registry), attacker, deadline), v, rr, s);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, recovered));
        vm.prank(attacker);
        registry.addAttestor(attacker, key, deadline, labsProof);

        // A signature the key once made for the attacker's publisher (say, tricked), now expired.
        bytes memory stale = _signAddAttestor(keyPk, attacker, block.timestamp - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, block.timestamp - 1)
        );
        vm.prank(attacker);
        registry.addAttestor(attacker, key, block.timestamp - 1, stale);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attacker));
        vm.prank(attacker);
        registry.addAttestor(lab, key, deadline, labsProof);

        assertEq(registry.getAttestorKey(key).publisher, address(0), "the key is still free");
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, labsProof);
        assertTrue(registry.isActiveAttestor(lab, key));
        assertFalse(registry.isActiveAttestor(attacker, key));
    }

    // ---------------------------------------------------------------------------------------------
    // Descendant claims
    // ---------------------------------------------------------------------------------------------

    /// @dev Anyone may claim a version derived from someone else's (a fine-tune of public weights): the claim is
    ///      the attacker's, and the parent's claim and publisher are unaffected. A parent nobody claimed reverts.
    function test_Attack_DescendantClaims() public {
        _registerVersion(weights);
        IProvenanceRegistry.ModelVersion memory before = registry.getModelVersion(lab, weights);

        bytes32 unclaimed = keccak256("weights nobody claimed");
        IProvenanceRegistry.VersionClaim memory orphan = _attackerClaim(keccak256("orphan fine-tune"));
        orphan.parent = unclaimed;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownParent.selector, unclaimed));
        _submitAs(attackerPk, orphan);

        bytes32 fineTune = keccak256("attacker's fine-tune");
        IProvenanceRegistry.VersionClaim memory child = _attackerClaim(fineTune);
        child.parent = weights;
        _submitAs(attackerPk, child);

        assertEq(registry.getModelVersion(attacker, fineTune).parent, weights);
        assertEq(registry.getModelVersion(attacker, fineTune).publisher, attacker);
        assertFalse(registry.isRegistered(lab, fineTune), "the lab claims no descendant it did not sign");
        _assertSameClaim(registry.getModelVersion(lab, weights), before);
        // The lab keeps full use of its claim.
        _attestSigned(_batch(weights, keccak256("lab outputs")));
        vm.prank(lab);
        registry.revokeModelVersion(lab, weights, "superseded");
        assertEq(registry.getModelVersion(attacker, fineTune).revokedAt, 0, "the descendant claim is its owner's");
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    /// @dev A claim of `versionHash` by the attacker, signed (when submitted) with the attacker's key.
    function _attackerClaim(bytes32 versionHash) internal view returns (IProvenanceRegistry.VersionClaim memory c) {
        c = _claim(versionHash);
        c.publisher = attacker;
        c.nonce = uint256(keccak256(abi.encode("attacker", versionHash)));
    }

    /// @dev A claim's priority: the block of the commitment it revealed, or else its registration block.
    function _priority(IProvenanceRegistry.ModelVersion memory v) internal pure returns (uint256) {
        return v.committedBlock != 0 ? v.committedBlock : v.registeredBlock;
    }

    function _verifyFile(address publisher, bytes32 versionHash, uint256 i) internal view returns (bool) {
        StandardMerkleTree.Entry memory e = files[i];
        bytes32[] memory proof = StandardMerkleTree.getProof(tree, treeIndex[i]);
        return registry.verifyFile(publisher, versionHash, e.path, e.size, e.sha256Digest, proof);
    }

    function _outputLeaf(uint256 i, uint64 timestamp) internal view returns (StandardMerkleTree.OutputLeaf memory) {
        return StandardMerkleTree.OutputLeaf(
            weights,
            keccak256(abi.encode("request", i)),
            keccak256(abi.encode("response", i)),
            timestamp,
            keccak256(abi.encode("salt", i))
        );
    }

    /// @dev Verifies a one-leaf batch (its root is the leaf, its proof empty).
    function _verifyLeaf(bytes32 root, StandardMerkleTree.OutputLeaf memory l) internal view returns (bool) {
        return registry.verifyOutput(
            root, l.versionHash, l.requestHash, l.responseHash, l.timestamp, l.salt, new bytes32[](0)
        );
    }

    function _assertSameClaim(IProvenanceRegistry.ModelVersion memory a, IProvenanceRegistry.ModelVersion memory b)
        internal
        pure
    {
        assertEq(a.modelId, b.modelId, "modelId");
        assertEq(a.parent, b.parent, "parent");
        assertEq(a.metadataHash, b.metadataHash, "metadataHash");
        assertEq(a.publisher, b.publisher, "publisher");
        assertEq(a.registeredAt, b.registeredAt, "registeredAt");
        assertEq(a.attestor, b.attestor, "attestor");
        assertEq(a.registeredBlock, b.registeredBlock, "registeredBlock");
        assertEq(a.revokedAt, b.revokedAt, "revokedAt");
        assertEq(a.committedAt, b.committedAt, "committedAt");
        assertEq(a.committedBlock, b.committedBlock, "committedBlock");
        assertEq(a.metadataURI, b.metadataURI, "metadataURI");
    }
}
