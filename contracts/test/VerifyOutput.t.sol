// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {RegistryTestBase} from "./utils/RegistryTestBase.sol";
import {StandardMerkleTree} from "./utils/StandardMerkleTree.sol";

/// @notice `verifyOutput` against trees built by `@openzeppelin/merkle-tree` (fixed vectors), and against random
///         trees of 1 to 5000 leaves, odd sizes and duplicate leaves included, built by the Solidity port.
contract VerifyOutputTest is RegistryTestBase {
    // Test vectors. Produced with @openzeppelin/merkle-tree 1.0.8 (node_modules), from the repository root, by:
    //   node -e 'const {StandardMerkleTree} = require("@openzeppelin/merkle-tree");
    //     const {keccak256} = require("ethereum-cryptography/keccak");
    //     const hex = (b) => "0x" + Buffer.from(b).toString("hex");
    //     const h = (i, tag) => hex(keccak256(Buffer.from(BigInt(i).toString(16).padStart(64, "0") + tag, "hex")));
    //     const V = hex(keccak256(Buffer.from("version 1")));
    //     const leaf = (i) => i % 5 == 4 ? leaf(i - 3) : [V, h(i, "01"), h(i, "02"), String(1700000000 + i), h(i, "03")];
    //     for (const n of [1, 2, 3, 5, 4095, 4096, 4097, 5000]) {
    //       const t = StandardMerkleTree.of(Array.from({length: n}, (_, i) => leaf(i)),
    //         ["bytes32", "bytes32", "bytes32", "uint64", "bytes32"]);
    //       console.log(n, t.root);
    //       if (n == 5) for (const [i] of t.entries()) console.log(i, t.leafHash(leaf(i)), t.getProof(i)); }'
    // Every fifth leaf repeats the leaf three places before it (`_vectorLeaf`), so leaf 4 of the 5-leaf tree
    // duplicates leaf 1: the library keeps both, and gives each its own proof.
    bytes32 internal constant ROOT_1 = 0x795b318a3cab7e22e67749cdb2b415a61b4ee6aa6fad401ca64dcf564db0009d;
    bytes32 internal constant ROOT_2 = 0xbb0e7cb600dafcbeaac76afdc52f32e5f56035ddae724a15dfae91ef66c53369;
    bytes32 internal constant ROOT_3 = 0xa63649f92cf57d267709a050e75ca6ba58934d3832a9ac260d8502e6d72e0aa5;
    bytes32 internal constant ROOT_5 = 0xd6823b48adc9f1d65a4843e260ed89c957f591fcef0f9689ac5fc0775df18aae;
    bytes32 internal constant ROOT_4095 = 0xe79e214f67e9c39016e1723b3366f3e65009bbec381b7ec51f1aa0660e0cfd99;
    bytes32 internal constant ROOT_4096 = 0x27574abb4a83a3eb93b7b77d6705dec133b90b872cf875851bc009c82262a316;
    bytes32 internal constant ROOT_4097 = 0x8163c3a979089493ac56cd1d8563601a223add9236a6fba427716827f43551ce;
    bytes32 internal constant ROOT_5000 = 0x3164db3057f21d7c9b00fc5580c55799f0208a1c06b85ca17d24e8d04baf4d09;
    bytes32 internal constant LEAF_0 = 0x795b318a3cab7e22e67749cdb2b415a61b4ee6aa6fad401ca64dcf564db0009d;
    bytes32 internal constant LEAF_1 = 0xc7b12e207f8d4216757c10a7a8ef3b4899ab4a1a4ab83d68a62314243c8bf13a;
    bytes32 internal constant LEAF_2 = 0x81ebf8f558d6dcfdef4398cb62914dce2c2c74fe993aae75401d7e1e4e9a4a5f;
    bytes32 internal constant LEAF_3 = 0x270556a82c32c3ac775d0a60f69f2b120aa024cca6d022eb95dd62d186e92ef9;
    // Inner nodes of the 5-leaf tree, named after the leaves below them: root = hash(NODE_12, NODE_034).
    bytes32 internal constant NODE_12 = 0x0ec0c07c3c39ddd43a1a8736a90deff6071afed41ac451c75b6a9b3f459410ed;
    bytes32 internal constant NODE_034 = 0x26cbfee6a0b8becc9c9675efc3d493f826c41554f432fe00c683919cd0d0442d;
    bytes32 internal constant NODE_03 = 0x755be6d99ba159cae674fe6f808509f24f0834cb285103f1132396bf2e839f1d;

    /// @dev The version of the vector leaves.
    bytes32 internal constant V1 = keccak256("version 1");
    bytes32 internal constant V2 = keccak256("version 2");

    /// @dev The time of the anchoring blocks: after every vector leaf (the last, of 5000, is at 1_700_004_999), as a
    ///      batch's window cannot end after its block. Random leaves lie in the 30 days before it.
    uint256 internal constant NOW = 1_700_010_000;

    function setUp() public override {
        super.setUp();
        _registerVersion(V1);
        _registerVersion(V2);
        vm.warp(NOW);
    }

    // ---------------------------------------------------------------------------------------------
    // Fixed vectors from @openzeppelin/merkle-tree
    // ---------------------------------------------------------------------------------------------

    function _vectorLeaf(uint256 i) internal pure returns (StandardMerkleTree.OutputLeaf memory) {
        if (i % 5 == 4) return _vectorLeaf(i - 3);
        // forge-lint: disable-next-line(unsafe-typecast)
        return StandardMerkleTree.OutputLeaf(V1, _h(i, 1), _h(i, 2), uint64(1_700_000_000 + i), _h(i, 3));
    }

    function _h(uint256 i, uint8 tag) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(i, tag));
    }

    function _vectorLeaves(uint256 n) internal pure returns (StandardMerkleTree.OutputLeaf[] memory leaves) {
        leaves = new StandardMerkleTree.OutputLeaf[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = _vectorLeaf(i);
        }
    }

    /// @dev The proofs `getProof(i)` of the 5-leaf tree.
    function _vectorProofs() internal pure returns (bytes32[][] memory p) {
        p = new bytes32[][](5);
        p[0] = _proof3(LEAF_3, LEAF_1, NODE_12); // this LEAF_1 is leaf 4, the duplicate
        p[1] = _proof2(LEAF_2, NODE_034);
        p[2] = _proof2(LEAF_1, NODE_034);
        p[3] = _proof3(LEAF_0, LEAF_1, NODE_12);
        p[4] = _proof2(NODE_03, NODE_12);
    }

    function _proof2(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        (p[0], p[1]) = (a, b);
    }

    function _proof3(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](3);
        (p[0], p[1], p[2]) = (a, b, c);
    }

    function test_VerifyOutput_Vector() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        bytes32[][] memory p = _vectorProofs();
        for (uint256 i; i < 5; ++i) {
            assertTrue(_verify(ROOT_5, _vectorLeaf(i), p[i]), vm.toString(i));
        }
    }

    /// @dev The Solidity port gives the same leaf hashes, root and proofs as the JS library, duplicate included.
    function test_StandardMerkleTree_MatchesOutputVector() public pure {
        StandardMerkleTree.OutputLeaf[] memory leaves = _vectorLeaves(5);
        assertEq(StandardMerkleTree.leafHash(leaves[0]), LEAF_0);
        assertEq(StandardMerkleTree.leafHash(leaves[1]), LEAF_1);
        assertEq(StandardMerkleTree.leafHash(leaves[2]), LEAF_2);
        assertEq(StandardMerkleTree.leafHash(leaves[3]), LEAF_3);
        assertEq(StandardMerkleTree.leafHash(leaves[4]), LEAF_1);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        assertEq(tree[0], ROOT_5);
        bytes32[][] memory p = _vectorProofs();
        for (uint256 i; i < 5; ++i) {
            assertEq(StandardMerkleTree.getProof(tree, at[i]), p[i]);
        }
    }

    function _vectorRoot(uint256 n) internal pure returns (bytes32) {
        if (n == 1) return ROOT_1;
        if (n == 2) return ROOT_2;
        if (n == 3) return ROOT_3;
        if (n == 5) return ROOT_5;
        if (n == 4095) return ROOT_4095;
        if (n == 4096) return ROOT_4096;
        if (n == 4097) return ROOT_4097;
        if (n == 5000) return ROOT_5000;
        revert("no vector");
    }

    /// @dev Anchors the JS tree of `n` vector leaves, then checks every leaf's proof on-chain, and that tampering
    ///      with a leaf, its proof or the claimed version is refused.
    function _checkVectorTree(uint256 n) internal {
        StandardMerkleTree.OutputLeaf[] memory leaves = _vectorLeaves(n);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        assertEq(tree[0], _vectorRoot(n), "port and JS library disagree");
        _anchor(V1, tree[0], leaves);
        _checkTree(tree, at, leaves, 1, uint256(keccak256(abi.encode(n))));
    }

    function test_VerifyOutput_Size1() public {
        _checkVectorTree(1);
    }

    function test_VerifyOutput_Size2() public {
        _checkVectorTree(2);
    }

    function test_VerifyOutput_Size3() public {
        _checkVectorTree(3);
    }

    function test_VerifyOutput_Size5() public {
        _checkVectorTree(5);
    }

    function test_VerifyOutput_Size4095() public {
        _checkVectorTree(4095);
    }

    function test_VerifyOutput_Size4096() public {
        _checkVectorTree(4096);
    }

    function test_VerifyOutput_Size4097() public {
        _checkVectorTree(4097);
    }

    function test_VerifyOutput_Size5000() public {
        _checkVectorTree(5000);
    }

    // ---------------------------------------------------------------------------------------------
    // Random trees
    // ---------------------------------------------------------------------------------------------

    /// @dev `n` random leaves of `version`; about one in eight repeats an earlier leaf exactly, salt included.
    function _randomLeaves(uint256 n, uint256 seed, bytes32 version)
        internal
        pure
        returns (StandardMerkleTree.OutputLeaf[] memory leaves)
    {
        leaves = new StandardMerkleTree.OutputLeaf[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            if (i > 0 && r % 8 == 0) {
                leaves[i] = leaves[(r >> 8) % i];
            } else {
                leaves[i] = StandardMerkleTree.OutputLeaf(
                    version,
                    keccak256(abi.encode(r, "request")),
                    keccak256(abi.encode(r, "response")),
                    // forge-lint: disable-next-line(unsafe-typecast)
                    uint64(NOW - (r >> 192) % 30 days), // any second of the last 30 days
                    keccak256(abi.encode(r, "salt"))
                );
            }
        }
    }

    /// @dev Small random trees: every leaf verifies, tampering fails.
    function testFuzz_VerifyOutput_RandomTree(uint256 n, uint256 seed) public {
        n = bound(n, 1, 64);
        StandardMerkleTree.OutputLeaf[] memory leaves = _randomLeaves(n, seed, V1);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        _anchor(V1, tree[0], leaves);
        _checkTree(tree, at, leaves, 1, seed);
    }

    /// @dev Random trees of any size up to 5000. Fewer runs, and a sample of about 64 leaves per tree (the first,
    ///      the last and evenly spaced ones between), to keep the suite fast; the fixed sizes above check every leaf.
    /// forge-config: default.fuzz.runs = 16
    function testFuzz_VerifyOutput_LargeRandomTree(uint256 n, uint256 seed) public {
        n = bound(n, 1, 5000);
        StandardMerkleTree.OutputLeaf[] memory leaves = _randomLeaves(n, seed, V1);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        _anchor(V1, tree[0], leaves);
        _checkTree(tree, at, leaves, n / 64 + 1, seed);
        _checkLeaf(tree, at, leaves, n - 1, seed);
    }

    /// @dev Leaves of one version in a batch anchored for another do not verify, under either version.
    function testFuzz_VerifyOutput_LeavesOfOtherVersion(uint256 n, uint256 seed) public {
        n = bound(n, 1, 32);
        StandardMerkleTree.OutputLeaf[] memory leaves = _randomLeaves(n, seed, V2);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        _anchor(V1, tree[0], leaves);
        uint256 i = seed % n;
        bytes32[] memory proof = StandardMerkleTree.getProof(tree, at[i]);
        assertFalse(_verify(tree[0], leaves[i], proof), "leaf claims V2, batch is V1");
        StandardMerkleTree.OutputLeaf memory relabelled = leaves[i];
        relabelled.versionHash = V1;
        assertFalse(_verify(tree[0], relabelled, proof), "leaf relabelled V1 is not in the tree");
    }

    /// @dev An arbitrary proof for an arbitrary leaf does not verify against an anchored root.
    function testFuzz_VerifyOutput_ArbitraryProof(
        bytes32 requestHash,
        bytes32 responseHash,
        uint64 timestamp,
        bytes32 salt,
        bytes32[] calldata proof
    ) public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        StandardMerkleTree.OutputLeaf memory leaf =
            StandardMerkleTree.OutputLeaf(V1, requestHash, responseHash, timestamp, salt);
        bool offChain = MerkleProof.verify(proof, ROOT_5, StandardMerkleTree.leafHash(leaf));
        assertEq(_verify(ROOT_5, leaf, proof), offChain);
        assertFalse(offChain);
    }

    /// @dev A valid proof with one element changed, or one element dropped or added, does not verify.
    function testFuzz_VerifyOutput_ProofTampered(uint256 n, uint256 seed, uint256 position, bytes32 mask) public {
        n = bound(n, 2, 100);
        mask = bytes32(bound(uint256(mask), 1, type(uint256).max));
        StandardMerkleTree.OutputLeaf[] memory leaves = _randomLeaves(n, seed, V1);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(leaves);
        _anchor(V1, tree[0], leaves);
        uint256 i = seed % n;
        bytes32[] memory proof = StandardMerkleTree.getProof(tree, at[i]);
        assertTrue(_verify(tree[0], leaves[i], proof));

        position = bound(position, 0, proof.length - 1);
        proof[position] ^= mask;
        assertFalse(_verify(tree[0], leaves[i], proof), "element changed");
        proof[position] ^= mask;

        bytes32[] memory shorter = new bytes32[](proof.length - 1);
        for (uint256 k; k < shorter.length; ++k) {
            shorter[k] = proof[k];
        }
        assertFalse(_verify(tree[0], leaves[i], shorter), "element dropped");

        bytes32[] memory longer = new bytes32[](proof.length + 1);
        for (uint256 k; k < proof.length; ++k) {
            longer[k] = proof[k];
        }
        longer[proof.length] = mask;
        assertFalse(_verify(tree[0], leaves[i], longer), "element added");
    }

    // ---------------------------------------------------------------------------------------------
    // Batch state
    // ---------------------------------------------------------------------------------------------

    function test_VerifyOutput_UnknownBatch() public view {
        bytes32[][] memory p = _vectorProofs();
        assertFalse(_verify(ROOT_5, _vectorLeaf(0), p[0]));
    }

    /// @dev A zero version never matches, not even the zero slot of a batch that does not exist.
    function test_VerifyOutput_ZeroVersion() public view {
        StandardMerkleTree.OutputLeaf memory leaf = _vectorLeaf(0);
        leaf.versionHash = bytes32(0);
        (bytes32[] memory tree,) = StandardMerkleTree.build(_single(leaf));
        assertFalse(_verify(tree[0], leaf, new bytes32[](0)));
    }

    function test_VerifyOutput_RevokedBatch() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        bytes32[][] memory p = _vectorProofs();
        assertTrue(_verify(ROOT_5, _vectorLeaf(2), p[2]));
        vm.prank(lab);
        registry.revokeOutputBatch(ROOT_5, "salts leaked");
        assertFalse(_verify(ROOT_5, _vectorLeaf(2), p[2]));
    }

    /// @dev Revoking the version does not unsay what it produced: the batch still verifies (the receipt checker
    ///      reports the version's revocation separately).
    function test_VerifyOutput_RevokedVersion() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "superseded");
        bytes32[][] memory p = _vectorProofs();
        assertTrue(_verify(ROOT_5, _vectorLeaf(2), p[2]));
    }

    /// @dev The window's bounds are inclusive: the earliest and the latest leaf of a batch verify, and a leaf of the
    ///      tree outside a narrower window does not.
    function test_VerifyOutput_LeafTimeOutsideWindow() public {
        StandardMerkleTree.OutputLeaf[] memory leaves = _vectorLeaves(5); // times 1_700_000_000 + 0..3
        Batch memory b = _batch(V1, ROOT_5);
        b.leafCount = 5;
        b.windowStart = 1_700_000_001;
        b.windowEnd = 1_700_000_002;
        _attestSigned(b);
        bytes32[][] memory p = _vectorProofs();
        assertFalse(_verify(ROOT_5, leaves[0], p[0]), "before the window");
        assertTrue(_verify(ROOT_5, leaves[1], p[1]), "at the window's start");
        assertTrue(_verify(ROOT_5, leaves[2], p[2]), "at the window's end");
        assertFalse(_verify(ROOT_5, leaves[3], p[3]), "after the window");
    }

    /// @dev A batch anchored before its key's compromise time keeps verifying; flagging the key from the batch's
    ///      anchoring time on (or earlier) stops it.
    function test_VerifyOutput_CompromisedKey() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        uint64 anchoredAt = uint64(block.timestamp);
        bytes32[][] memory p = _vectorProofs();
        vm.warp(block.timestamp + 1 days);

        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, anchoredAt + 1);
        assertTrue(_verify(ROOT_5, _vectorLeaf(2), p[2]), "anchored before the compromise");
        assertFalse(registry.isBatchSignedByCompromisedKey(ROOT_5));

        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, anchoredAt);
        assertFalse(_verify(ROOT_5, _vectorLeaf(2), p[2]), "anchored at the compromise time");
        assertTrue(registry.isBatchSignedByCompromisedKey(ROOT_5));
    }

    function test_IsBatchSignedByCompromisedKey_UnknownBatch() public view {
        assertFalse(registry.isBatchSignedByCompromisedKey(ROOT_5));
    }

    /// @dev The leaves name V1; the same root anchored for V2 verifies neither claim.
    function test_VerifyOutput_BatchOfOtherVersion() public {
        _anchor(V2, ROOT_5, _vectorLeaves(5));
        bytes32[][] memory p = _vectorProofs();
        StandardMerkleTree.OutputLeaf memory leaf = _vectorLeaf(2);
        assertFalse(_verify(ROOT_5, leaf, p[2]), "leaf says V1");
        leaf.versionHash = V2;
        assertFalse(_verify(ROOT_5, leaf, p[2]), "leaf relabelled V2");
    }

    /// @dev A proof for one anchored batch does not verify against another anchored batch.
    function test_VerifyOutput_OtherBatchRoot() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        _anchor(V1, ROOT_3, _vectorLeaves(3));
        bytes32[][] memory p = _vectorProofs();
        assertFalse(_verify(ROOT_3, _vectorLeaf(0), p[0]));
    }

    /// @dev Inner nodes are not outputs. `NODE_12` with proof [NODE_034] is a valid path to the 5-leaf root, but
    ///      `verifyOutput` double-hashes leaf fields, so a node cannot be passed in as a leaf.
    function test_VerifyOutput_RejectsInnerNodeAsLeaf() public {
        _anchor(V1, ROOT_5, _vectorLeaves(5));
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = NODE_034;
        assertTrue(MerkleProof.verify(proof, ROOT_5, NODE_12));
        // A time inside the batch's window, so that only the leaf hashing refuses.
        uint64 t = 1_700_000_002;
        assertFalse(registry.verifyOutput(ROOT_5, V1, NODE_12, bytes32(0), t, bytes32(0), proof));
        assertFalse(registry.verifyOutput(ROOT_5, V1, bytes32(0), bytes32(0), t, NODE_12, proof));
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    function _single(StandardMerkleTree.OutputLeaf memory leaf)
        internal
        pure
        returns (StandardMerkleTree.OutputLeaf[] memory leaves)
    {
        leaves = new StandardMerkleTree.OutputLeaf[](1);
        leaves[0] = leaf;
    }

    /// @dev Anchors `root`, the tree of `leaves`, with the window from the earliest to the latest leaf time.
    function _anchor(bytes32 versionHash, bytes32 root, StandardMerkleTree.OutputLeaf[] memory leaves) internal {
        Batch memory b = _batch(versionHash, root);
        // forge-lint: disable-next-line(unsafe-typecast)
        b.leafCount = uint64(leaves.length); // at most 5000
        (b.windowStart, b.windowEnd) = _window(leaves);
        _attestSigned(b);
    }

    function _window(StandardMerkleTree.OutputLeaf[] memory leaves)
        internal
        pure
        returns (uint64 windowStart, uint64 windowEnd)
    {
        windowStart = type(uint64).max;
        for (uint256 i; i < leaves.length; ++i) {
            if (leaves[i].timestamp < windowStart) windowStart = leaves[i].timestamp;
            if (leaves[i].timestamp > windowEnd) windowEnd = leaves[i].timestamp;
        }
    }

    function _verify(bytes32 root, StandardMerkleTree.OutputLeaf memory l, bytes32[] memory proof)
        internal
        view
        returns (bool)
    {
        return registry.verifyOutput(root, l.versionHash, l.requestHash, l.responseHash, l.timestamp, l.salt, proof);
    }

    /// @dev Checks leaves 0, step, 2 * step, ... of an anchored tree.
    function _checkTree(
        bytes32[] memory tree,
        uint256[] memory at,
        StandardMerkleTree.OutputLeaf[] memory leaves,
        uint256 step,
        uint256 seed
    ) internal view {
        for (uint256 i; i < leaves.length; i += step) {
            // Nothing `_checkLeaf` allocates outlives it: free its memory, or the expansion cost of thousands of
            // proofs and calls would dominate the large trees.
            uint256 freeMemory;
            assembly ("memory-safe") {
                freeMemory := mload(0x40)
            }
            _checkLeaf(tree, at, leaves, i, seed);
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
    }

    /// @dev Leaf `i` verifies with its proof, and its off-chain check agrees; a changed field, proof or version
    ///      does not verify.
    function _checkLeaf(
        bytes32[] memory tree,
        uint256[] memory at,
        StandardMerkleTree.OutputLeaf[] memory leaves,
        uint256 i,
        uint256 seed
    ) internal view {
        StandardMerkleTree.OutputLeaf memory l = leaves[i];
        bytes32[] memory proof = StandardMerkleTree.getProof(tree, at[i]);
        assertTrue(MerkleProof.verify(proof, tree[0], StandardMerkleTree.leafHash(l)), "off-chain proof");
        assertTrue(_verify(tree[0], l, proof), "on-chain proof");

        // One tampering per leaf, chosen by the seed, so that every kind is exercised across leaves and runs.
        uint256 kind = uint256(keccak256(abi.encode(seed, i))) % 6;
        StandardMerkleTree.OutputLeaf memory t =
            StandardMerkleTree.OutputLeaf(l.versionHash, l.requestHash, l.responseHash, l.timestamp, l.salt);
        if (kind == 0) t.requestHash ^= bytes32(uint256(1));
        else if (kind == 1) t.responseHash ^= bytes32(uint256(1) << 255);
        else if (kind == 2) t.timestamp ^= 1;
        else if (kind == 3) t.salt = ~t.salt;
        else if (kind == 4) t.versionHash = V2;
        if (kind < 5) {
            assertFalse(_verify(tree[0], t, proof), "tampered leaf");
        } else if (proof.length != 0) {
            proof[proof.length - 1] ^= bytes32(uint256(1));
            assertFalse(_verify(tree[0], l, proof), "tampered proof");
        } else {
            // A one-leaf tree: the root is the leaf, so any non-empty proof fails.
            bytes32[] memory extra = new bytes32[](1);
            extra[0] = tree[0];
            assertFalse(_verify(tree[0], l, extra), "proof for a one-leaf tree");
        }
    }
}
