// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Test-only port of `StandardMerkleTree.of(values, types)` from the npm package openzeppelin/merkle-tree
///         1.0.x, written independently of the registry so it can check it. Two leaf types are supported:
///         manifest entries `["string","uint64","bytes32"]` and output leaves
///         `["bytes32","bytes32","bytes32","uint64","bytes32"]`.
///         - leaf = keccak256(bytes.concat(keccak256(abi.encode(...values))));
///         - leaves are sorted by hash, ascending (a stable sort, as JavaScript's, so equal leaves keep their input
///           order), and stored at the end of the tree array in reverse;
///         - node i = hash of the sorted pair (tree[2i+1], tree[2i+2]); the root is tree[0].
library StandardMerkleTree {
    struct Entry {
        string path;
        uint64 size;
        bytes32 sha256Digest;
    }

    struct OutputLeaf {
        bytes32 versionHash;
        bytes32 requestHash;
        bytes32 responseHash;
        uint64 timestamp;
        bytes32 salt;
    }

    function leafHash(Entry memory e) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(e.path, e.size, e.sha256Digest))));
    }

    function leafHash(OutputLeaf memory l) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(keccak256(abi.encode(l.versionHash, l.requestHash, l.responseHash, l.timestamp, l.salt)))
        );
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// @return tree The flat tree, root first.
    /// @return treeIndex For each entry (in input order), the index of its leaf in `tree`.
    function build(Entry[] memory entries) internal pure returns (bytes32[] memory tree, uint256[] memory treeIndex) {
        bytes32[] memory hashes = new bytes32[](entries.length);
        for (uint256 i; i < entries.length; ++i) {
            hashes[i] = leafHash(entries[i]);
        }
        return buildFromLeafHashes(hashes);
    }

    /// @return tree The flat tree, root first.
    /// @return treeIndex For each leaf (in input order), the index of its leaf in `tree`.
    function build(OutputLeaf[] memory leaves)
        internal
        pure
        returns (bytes32[] memory tree, uint256[] memory treeIndex)
    {
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            hashes[i] = leafHash(leaves[i]);
        }
        return buildFromLeafHashes(hashes);
    }

    /// @notice The tree over leaf hashes given in input order.
    function buildFromLeafHashes(bytes32[] memory hashes)
        internal
        pure
        returns (bytes32[] memory tree, uint256[] memory treeIndex)
    {
        uint256 n = hashes.length; // zero leaves underflow below, as the JS library refuses an empty tree
        uint256[] memory order = _sortedOrder(hashes);
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

    /// @dev Input positions sorted by (hash, position): the order a stable sort by hash gives. Heapsort, so that
    ///      trees of thousands of leaves build quickly.
    function _sortedOrder(bytes32[] memory hashes) private pure returns (uint256[] memory order) {
        uint256 n = hashes.length;
        order = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            order[i] = i;
        }
        for (uint256 i = n / 2; i > 0; --i) {
            _siftDown(hashes, order, i - 1, n);
        }
        for (uint256 end = n; end > 1; --end) {
            (order[0], order[end - 1]) = (order[end - 1], order[0]);
            _siftDown(hashes, order, 0, end - 1);
        }
    }

    function _siftDown(bytes32[] memory hashes, uint256[] memory order, uint256 root, uint256 end) private pure {
        while (true) {
            uint256 child = 2 * root + 1;
            if (child >= end) return;
            if (child + 1 < end && _less(hashes, order[child], order[child + 1])) ++child;
            if (!_less(hashes, order[root], order[child])) return;
            (order[root], order[child]) = (order[child], order[root]);
            root = child;
        }
    }

    function _less(bytes32[] memory hashes, uint256 a, uint256 b) private pure returns (bool) {
        return hashes[a] < hashes[b] || (hashes[a] == hashes[b] && a < b);
    }
}
