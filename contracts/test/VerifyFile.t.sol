// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";
import {StandardMerkleTree} from "./utils/StandardMerkleTree.sol";

/// @notice `verifyFile` against a fixed vector from `@openzeppelin/merkle-tree`, and against trees built in Solidity.
contract VerifyFileTest is RegistryTestBase {
    // Test vector. Produced with @openzeppelin/merkle-tree 1.0.8 (node_modules) by:
    //   node -e 'const {StandardMerkleTree} = require("@openzeppelin/merkle-tree"); const c = require("crypto");
    //     const e = [["a.txt","hello"],["dir/b.bin","prova weights"],["README.md",""]].map(([p, s]) =>
    //       [p, String(Buffer.byteLength(s)), "0x" + c.createHash("sha256").update(s).digest("hex")]);
    //     const t = StandardMerkleTree.of(e, ["string","uint64","bytes32"]);
    //     console.log(t.root); for (const [i] of t.entries()) console.log(i, t.getProof(i));'
    // The digests are the SHA-256 of the file contents "hello", "prova weights" and "" (empty file).
    bytes32 internal constant ROOT = 0x11838c6f1d0324f5e88cc20bc904a32001651b87873e230e19978eb4cea71f66;
    bytes32 internal constant SHA_A = 0x2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824;
    bytes32 internal constant SHA_B = 0x38df4b2ddaa6a6cecef39317ec00a50288067cff94d2993cc6c0d9c6a04d1ffb;
    bytes32 internal constant SHA_C = 0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;
    bytes32 internal constant LEAF_A = 0x16a55b36699b11aa61f1a8e8d825b63a765800f46568d4d43e4bba7c635a649a;
    bytes32 internal constant LEAF_B = 0x7cd8ccb26a5ca86948179f57d3ebd30e0bb9a4a88a8937d3b01c872b12d13ddf;
    bytes32 internal constant LEAF_C = 0xf85e8fcd929f1892b68b70062eee3a75d20b9886ff9711f99118cedac5146d8a;
    bytes32 internal constant NODE_AB = 0x67fec1ac9acecc7ea1a0b5febc4a95c53ea1637b9fc64a358d3946295f394018;

    function _fixtureEntries() internal pure returns (StandardMerkleTree.Entry[] memory e) {
        e = new StandardMerkleTree.Entry[](3);
        e[0] = StandardMerkleTree.Entry("a.txt", 5, SHA_A);
        e[1] = StandardMerkleTree.Entry("dir/b.bin", 13, SHA_B);
        e[2] = StandardMerkleTree.Entry("README.md", 0, SHA_C);
    }

    function _fixtureProofs() internal pure returns (bytes32[][] memory p) {
        p = new bytes32[][](3);
        p[0] = new bytes32[](2);
        p[0][0] = LEAF_B;
        p[0][1] = LEAF_C;
        p[1] = new bytes32[](2);
        p[1][0] = LEAF_A;
        p[1][1] = LEAF_C;
        p[2] = new bytes32[](1);
        p[2][0] = NODE_AB;
    }

    function _registerRoot(bytes32 root) internal {
        IProvenanceRegistry.VersionClaim memory r = _claim(root);
        _registerSigned(r);
    }

    function test_VerifyFile_Vector() public {
        _registerRoot(ROOT);
        StandardMerkleTree.Entry[] memory e = _fixtureEntries();
        bytes32[][] memory p = _fixtureProofs();
        for (uint256 i; i < e.length; ++i) {
            assertTrue(registry.verifyFile(lab, ROOT, e[i].path, e[i].size, e[i].sha256Digest, p[i]), e[i].path);
        }
    }

    /// @dev The Solidity port gives the same leaves, root and proofs as the JS library.
    function test_StandardMerkleTree_MatchesVector() public pure {
        StandardMerkleTree.Entry[] memory e = _fixtureEntries();
        assertEq(StandardMerkleTree.leafHash(e[0]), LEAF_A);
        assertEq(StandardMerkleTree.leafHash(e[1]), LEAF_B);
        assertEq(StandardMerkleTree.leafHash(e[2]), LEAF_C);
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(e);
        assertEq(tree[0], ROOT);
        bytes32[][] memory p = _fixtureProofs();
        for (uint256 i; i < e.length; ++i) {
            assertEq(StandardMerkleTree.getProof(tree, at[i]), p[i]);
        }
    }

    function test_VerifyFile_RejectsWrongEntry() public {
        _registerRoot(ROOT);
        bytes32[][] memory p = _fixtureProofs();
        assertFalse(registry.verifyFile(lab, ROOT, "a.txt", 6, SHA_A, p[0]), "size");
        assertFalse(registry.verifyFile(lab, ROOT, "a.txt", 5, SHA_B, p[0]), "digest");
        assertFalse(registry.verifyFile(lab, ROOT, "A.txt", 5, SHA_A, p[0]), "path");
        assertFalse(registry.verifyFile(lab, ROOT, "./a.txt", 5, SHA_A, p[0]), "path not normalized");
        assertFalse(registry.verifyFile(lab, ROOT, "a.txt", 5, SHA_A, p[1]), "proof of another file");
        assertFalse(registry.verifyFile(lab, ROOT, "a.txt", 5, SHA_A, new bytes32[](0)), "empty proof");
    }

    /// @dev Inner nodes are not files. `NODE_AB` with proof [LEAF_C] is a valid path to the root, but `verifyFile`
    ///      only takes entry fields and double-hashes them, so the node cannot be passed in as a leaf.
    function test_VerifyFile_RejectsInnerNodeAsLeaf() public {
        _registerRoot(ROOT);
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = LEAF_C;
        assertTrue(MerkleProof.verify(proof, ROOT, NODE_AB));
        assertFalse(registry.verifyFile(lab, ROOT, "", 0, NODE_AB, proof));
    }

    function test_VerifyFile_UnregisteredVersion() public view {
        bytes32[][] memory p = _fixtureProofs();
        assertFalse(registry.verifyFile(lab, ROOT, "a.txt", 5, SHA_A, p[0]));
    }

    /// @dev `verifyFile` answers for one publisher's claim: a publisher that does not claim the root gets false for
    ///      every file, and a publisher that claims the same root gets the same answers as `lab`.
    function test_VerifyFile_PerPublisher() public {
        _registerRoot(ROOT);
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        StandardMerkleTree.Entry[] memory e = _fixtureEntries();
        bytes32[][] memory p = _fixtureProofs();
        for (uint256 i; i < e.length; ++i) {
            assertFalse(registry.verifyFile(other, ROOT, e[i].path, e[i].size, e[i].sha256Digest, p[i]), e[i].path);
            assertFalse(registry.verifyFile(stranger, ROOT, e[i].path, e[i].size, e[i].sha256Digest, p[i]));
        }
        IProvenanceRegistry.VersionClaim memory theirs = _claim(ROOT);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);
        for (uint256 i; i < e.length; ++i) {
            assertTrue(registry.verifyFile(other, ROOT, e[i].path, e[i].size, e[i].sha256Digest, p[i]), e[i].path);
        }
    }

    function test_VerifyFile_RevokedVersion() public {
        _registerRoot(ROOT);
        vm.prank(lab);
        registry.revokeModelVersion(lab, ROOT, "superseded");
        bytes32[][] memory p = _fixtureProofs();
        assertTrue(registry.verifyFile(lab, ROOT, "a.txt", 5, SHA_A, p[0]));
    }

    /// @dev A one-file version: the root is the leaf and the proof is empty.
    function test_VerifyFile_SingleFile() public {
        StandardMerkleTree.Entry[] memory e = new StandardMerkleTree.Entry[](1);
        e[0] = StandardMerkleTree.Entry("model.safetensors", 1 << 40, SHA_A);
        (bytes32[] memory tree,) = StandardMerkleTree.build(e);
        assertEq(tree.length, 1);
        _registerRoot(tree[0]);
        assertTrue(registry.verifyFile(lab, tree[0], e[0].path, e[0].size, e[0].sha256Digest, new bytes32[](0)));
    }

    function testFuzz_VerifyFile(uint256 n, uint256 seed, uint256 pick) public {
        n = bound(n, 1, 24);
        StandardMerkleTree.Entry[] memory e = new StandardMerkleTree.Entry[](n);
        for (uint256 i; i < n; ++i) {
            bytes32 h = keccak256(abi.encode(seed, i));
            e[i] = StandardMerkleTree.Entry(
                string.concat("shard-", vm.toString(i), ".bin"), uint64(uint256(h)), keccak256(abi.encode(h))
            );
        }
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(e);
        _registerRoot(tree[0]);

        for (uint256 i; i < n; ++i) {
            bytes32[] memory proof = StandardMerkleTree.getProof(tree, at[i]);
            assertTrue(registry.verifyFile(lab, tree[0], e[i].path, e[i].size, e[i].sha256Digest, proof));
        }

        pick = bound(pick, 0, n - 1);
        bytes32[] memory picked = StandardMerkleTree.getProof(tree, at[pick]);
        StandardMerkleTree.Entry memory x = e[pick];
        assertFalse(registry.verifyFile(lab, tree[0], x.path, x.size ^ 1, x.sha256Digest, picked));
        assertFalse(registry.verifyFile(lab, tree[0], x.path, x.size, ~x.sha256Digest, picked));
        assertFalse(registry.verifyFile(lab, tree[0], string.concat(x.path, "x"), x.size, x.sha256Digest, picked));
    }

    function testFuzz_VerifyFile_AnyEntry(string calldata path, uint64 size, bytes32 digest, uint8 position) public {
        StandardMerkleTree.Entry[] memory e = _fixtureEntries();
        StandardMerkleTree.Entry[] memory all = new StandardMerkleTree.Entry[](4);
        position = uint8(bound(position, 0, 3));
        for (uint256 i; i < 4; ++i) {
            if (i < position) all[i] = e[i];
            else if (i == position) all[i] = StandardMerkleTree.Entry(path, size, digest);
            else all[i] = e[i - 1];
        }
        (bytes32[] memory tree, uint256[] memory at) = StandardMerkleTree.build(all);
        _registerRoot(tree[0]);
        bytes32[] memory proof = StandardMerkleTree.getProof(tree, at[position]);
        assertTrue(registry.verifyFile(lab, tree[0], path, size, digest, proof));
    }
}
