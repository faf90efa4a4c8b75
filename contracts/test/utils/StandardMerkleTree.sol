// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Test-only port of `StandardMerkleTree.of(entries, ["string","uint64","bytes32"])` from
///         the npm package openzeppelin/merkle-tree 1.0.x, written independently of the registry so it can check it:
///         - leaf = keccak256(bytes.concat(keccak256(abi.encode(path, size, sha256))));
///         - leaves are sorted by hash, ascending, and stored at the end of the tree array in reverse;
///         - node i = hash of the sorted pair (tree[2i+1], tree[2i+2]); the root is tree[0].
library StandardMerkleTree {
    struct Entry {
        string path;
        uint64 size;
        bytes32 sha256Digest;
    }

    function leafHash(Entry memory e) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(e.path, e.size, e.sha256Digest))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// @return tree The flat tree, root first.
    /// @return treeIndex For each entry (in input order), the index of its leaf in `tree`.
    function build(Entry[] memory entries) internal pure returns (bytes32[] memory tree, uint256[] memory treeIndex) {
        uint256 n = entries.length; // zero entries underflow below, as the JS library refuses an empty tree
        bytes32[] memory hashes = new bytes32[](n);
        uint256[] memory order = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = leafHash(entries[i]);
            order[i] = i;
        }
        // Insertion sort of `order` by leaf hash (trees in tests are small).
        for (uint256 i = 1; i < n; ++i) {
            uint256 cur = order[i];
            uint256 j = i;
            while (j > 0 && hashes[order[j - 1]] > hashes[cur]) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = cur;
        }
        tree = new bytes32[](2 * n - 1);
        treeIndex = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 at = tree.length - 1 - i;
            tree[at] = hashes[order[i]];
            treeIndex[order[i]] = at;
        }
        for (uint256 i = tree.length - n; i > 0; --i) {
            tree[i - 1] = hashPair(tree[2 * i - 1], tree[2 * i]);
        }
    }

    /// @return proof The sibling path from the leaf at `index` to the root, as `getProof` returns it.
    function getProof(bytes32[] memory tree, uint256 index) internal pure returns (bytes32[] memory proof) {
        uint256 depth;
        for (uint256 i = index; i > 0; i = (i - 1) / 2) {
            ++depth;
        }
        proof = new bytes32[](depth);
        for (uint256 d; index > 0; ++d) {
            proof[d] = tree[index % 2 == 1 ? index + 1 : index - 1];
            index = (index - 1) / 2;
        }
    }
}
