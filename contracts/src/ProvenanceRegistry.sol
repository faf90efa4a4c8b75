// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IProvenanceRegistry} from "./interfaces/IProvenanceRegistry.sol";

/// @title ProvenanceRegistry
/// @notice Registry of AI model versions and of batches of their outputs, each authorized by an EIP-712 signature of
///         an attestor key of the publisher.
/// @dev Storage is packed more tightly than the interface structs so that `registerModelVersion` and `attestOutputs`
///      touch as few slots as possible: times and block numbers are kept as uint48 (enough for millions of years) and
///      widened to uint64 by the views, and neither a version nor a batch stores its publisher, which is its attestor
///      key's publisher (keys are bound to one publisher forever). Each key also gets a 32-bit id when it is added,
///      so that an output batch fits in two fresh slots (see `BatchRecord`). Nonces are unordered: any unused nonce of
///      a signer may be used once.
contract ProvenanceRegistry is IProvenanceRegistry, EIP712 {
    /// @dev keccak256("RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)")
    bytes32 public constant REGISTER_MODEL_VERSION_TYPEHASH = keccak256(
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );

    /// @dev keccak256("AttestOutputs(bytes32 versionHash,bytes32 root,uint64 leafCount,uint64 windowStart,uint64 windowEnd,string batchURI,uint256 nonce,uint256 deadline)")
    bytes32 public constant ATTEST_OUTPUTS_TYPEHASH = keccak256(
        "AttestOutputs(bytes32 versionHash,bytes32 root,uint64 leafCount,uint64 windowStart,uint64 windowEnd,string batchURI,uint256 nonce,uint256 deadline)"
    );

    /// @dev Publisher record. Slot 0: admin | registeredAt.
    struct PublisherRecord {
        address admin;
        uint64 registeredAt;
        address pendingAdmin;
        string name;
        string metadataURI;
    }

    /// @dev Attestor key record. Slot 0 (read on every registration and batch): publisher | revokedAt | id.
    ///      Slot 1: addedAt | compromisedSince. The id (1, 2, ... in order of addition, never zero for a key) is what
    ///      an output batch stores instead of the key's 20-byte address; `_keyById` maps it back.
    struct KeyRecord {
        address publisher;
        uint48 revokedAt;
        uint32 id;
        uint48 addedAt;
        uint64 compromisedSince;
    }

    /// @dev Model version record. Slot 3 (the only fixed-size slot written at registration besides the hashes):
    ///      attestor | registeredAt | registeredBlock. The publisher is `_keys[attestor].publisher`.
    struct VersionRecord {
        bytes32 modelId;
        bytes32 parent;
        bytes32 metadataHash;
        address attestor;
        uint48 registeredAt;
        uint48 registeredBlock;
        uint64 revokedAt;
        string metadataURI;
    }

    /// @dev Output batch record: two slots written by `attestOutputs`, a third only by `revokeOutputBatch`.
    ///      Slot 0: versionHash. Non-zero exactly when the batch exists, as a version hash is never zero.
    ///      Slot 1 (240 bits): attestorId | leafCount | windowStart | windowEnd | anchoredAt | anchoredBlock.
    ///      Widths: leafCount uint32 (up to 4,294,967,295 leaves); windowStart and windowEnd uint40 (unix seconds up
    ///      to the year 36812, so a timestamp in milliseconds by mistake is refused); anchoredAt and anchoredBlock
    ///      uint48, as elsewhere. `attestOutputs` refuses values that do not fit with `RegistryInvalidBatch`, and the
    ///      view widens them to uint64. Slot 2: revokedAt.
    struct BatchRecord {
        bytes32 versionHash;
        BatchInfo info;
        uint64 revokedAt;
    }

    /// @dev Slot 1 of a batch record, a struct of its own so that `attestOutputs` writes it with one SSTORE.
    struct BatchInfo {
        uint32 attestorId;
        uint32 leafCount;
        uint40 windowStart;
        uint40 windowEnd;
        uint48 anchoredAt;
        uint48 anchoredBlock;
    }

    mapping(address publisher => PublisherRecord) private _publishers;
    mapping(address key => KeyRecord) private _keys;
    mapping(bytes32 versionHash => VersionRecord) private _versions;
    mapping(address signer => mapping(uint256 nonce => bool used)) private _usedNonces;
    mapping(bytes32 root => BatchRecord) private _batches;
    mapping(uint32 id => address key) private _keyById;
    /// @dev Number of keys ever added; the last key's id.
    uint32 private _keyCount;

    constructor() EIP712("ProvaProvenanceRegistry", "1") {}

    // ---------------------------------------------------------------------------------------------
    // Publishers and keys
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceRegistry
    function registerPublisher(string calldata name, string calldata metadataURI) external {
        PublisherRecord storage p = _publishers[msg.sender];
        if (p.registeredAt != 0) revert RegistryPublisherExists(msg.sender);
        p.admin = msg.sender;
        p.registeredAt = uint64(block.timestamp);
        p.name = name;
        p.metadataURI = metadataURI;
        emit PublisherRegistered(msg.sender, msg.sender, name, metadataURI);
    }

    /// @inheritdoc IProvenanceRegistry
    function transferPublisherAdmin(address publisher, address newAdmin) external {
        PublisherRecord storage p = _onlyAdmin(publisher);
        p.pendingAdmin = newAdmin;
        emit PublisherAdminTransferStarted(publisher, msg.sender, newAdmin);
    }

    /// @inheritdoc IProvenanceRegistry
    function acceptPublisherAdmin(address publisher) external {
        PublisherRecord storage p = _publishers[publisher];
        // A zero pendingAdmin never matches: msg.sender is never zero.
        if (p.pendingAdmin != msg.sender) revert RegistryNotPendingAdmin(publisher, msg.sender);
        address previousAdmin = p.admin;
        p.admin = msg.sender;
        p.pendingAdmin = address(0);
        emit PublisherAdminTransferred(publisher, previousAdmin, msg.sender);
    }

    /// @inheritdoc IProvenanceRegistry
    function addAttestor(address publisher, address key) external {
        _onlyAdmin(publisher);
        if (key == address(0)) revert RegistryZeroAddress();
        KeyRecord storage k = _keys[key];
        // Keys are bound forever: a revoked key cannot be re-added, to this or any other publisher.
        if (k.publisher != address(0)) revert RegistryAttestorExists(key);
        k.publisher = publisher;
        k.addedAt = uint48(block.timestamp);
        // Checked: after 2**32 - 1 keys (billions of transactions) adding keys reverts.
        uint32 id = ++_keyCount;
        k.id = id;
        _keyById[id] = key;
        emit AttestorAdded(publisher, key);
    }

    /// @inheritdoc IProvenanceRegistry
    function revokeAttestor(address publisher, address key) external {
        _onlyAdmin(publisher);
        KeyRecord storage k = _keyOf(publisher, key);
        if (k.revokedAt != 0) revert RegistryAttestorAlreadyRevoked(key);
        k.revokedAt = uint48(block.timestamp);
        emit AttestorRevoked(publisher, key);
    }

    /// @inheritdoc IProvenanceRegistry
    function markAttestorCompromised(address publisher, address key, uint64 since) external {
        _onlyAdmin(publisher);
        KeyRecord storage k = _keyOf(publisher, key);
        uint64 current = k.compromisedSince;
        // Zero means "never flagged", so it cannot be a compromise time.
        // forge-lint: disable-next-line(block-timestamp)
        if (since == 0 || since > block.timestamp || (current != 0 && since > current)) {
            revert RegistryInvalidCompromiseTime(since);
        }
        k.compromisedSince = since;
        if (k.revokedAt == 0) {
            k.revokedAt = uint48(block.timestamp);
            emit AttestorRevoked(publisher, key);
        }
        emit AttestorCompromised(publisher, key, since);
    }

    // ---------------------------------------------------------------------------------------------
    // Model versions
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceRegistry
    function registerModelVersion(
        address publisher,
        bytes32 versionHash,
        bytes32 modelId,
        bytes32 parent,
        string calldata metadataURI,
        bytes32 metadataHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RegistrySignatureExpired(deadline);
        if (versionHash == bytes32(0)) revert RegistryInvalidVersionHash();
        VersionRecord storage v = _versions[versionHash];
        if (v.registeredAt != 0) revert RegistryVersionExists(versionHash);
        if (parent != bytes32(0) && _versions[parent].registeredAt == 0) revert RegistryUnknownParent(parent);
        if (_publishers[publisher].registeredAt == 0) revert RegistryUnknownPublisher(publisher);

        address signer = _recoverSigner(
            _hashRegisterModelVersion(
                publisher, versionHash, modelId, parent, metadataURI, metadataHash, nonce, deadline
            ),
            signature
        );
        if (!_isActiveAttestor(publisher, signer)) revert RegistryUnauthorizedSigner(publisher, signer);
        _useNonce(signer, nonce);

        // Zero-valued fields are left unwritten: the slot already reads as zero.
        if (modelId != bytes32(0)) v.modelId = modelId;
        if (parent != bytes32(0)) v.parent = parent;
        if (metadataHash != bytes32(0)) v.metadataHash = metadataHash;
        v.attestor = signer;
        v.registeredAt = uint48(block.timestamp);
        v.registeredBlock = uint48(block.number);
        if (bytes(metadataURI).length != 0) v.metadataURI = metadataURI;
        emit ModelVersionRegistered(versionHash, modelId, publisher, parent, signer, metadataURI, metadataHash);
    }

    /// @inheritdoc IProvenanceRegistry
    function revokeModelVersion(bytes32 versionHash, string calldata reason) external {
        VersionRecord storage v = _versions[versionHash];
        if (v.registeredAt == 0) revert RegistryUnknownVersion(versionHash);
        address publisher = _keys[v.attestor].publisher;
        if (_publishers[publisher].admin != msg.sender) revert RegistryNotPublisherAdmin(publisher, msg.sender);
        if (v.revokedAt != 0) revert RegistryVersionAlreadyRevoked(versionHash);
        v.revokedAt = uint64(block.timestamp);
        emit ModelVersionRevoked(versionHash, publisher, reason);
    }

    /// @inheritdoc IProvenanceRegistry
    function invalidateNonce(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit NonceInvalidated(msg.sender, nonce);
    }

    // ---------------------------------------------------------------------------------------------
    // Output batches
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceRegistry
    /// @dev Checks, in order: deadline, batch fields (including the storage widths of `BatchRecord`), root not yet
    ///      anchored, version registered and not revoked, signature, signer active for the version's publisher,
    ///      nonce. Writes two fresh slots (the batch) and one nonce slot.
    function attestOutputs(
        bytes32 versionHash,
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RegistrySignatureExpired(deadline);
        _checkNewBatch(root, leafCount, windowStart, windowEnd);
        address publisher = _activeVersionPublisher(versionHash);

        address signer = _recoverSigner(
            _hashAttestOutputs(versionHash, root, leafCount, windowStart, windowEnd, batchURI, nonce, deadline),
            signature
        );
        if (!_isActiveAttestor(publisher, signer)) revert RegistryUnauthorizedSigner(publisher, signer);
        _useNonce(signer, nonce);
        _anchorBatch(root, versionHash, publisher, signer, leafCount, windowStart, windowEnd, batchURI);
    }

    /// @inheritdoc IProvenanceRegistry
    function revokeOutputBatch(bytes32 root, string calldata reason) external {
        BatchRecord storage b = _batches[root];
        if (b.versionHash == bytes32(0)) revert RegistryUnknownBatch(root);
        // The batch's key was an attestor of the version's publisher when it signed, and keys never move.
        address publisher = _keys[_keyById[b.info.attestorId]].publisher;
        if (_publishers[publisher].admin != msg.sender) revert RegistryNotPublisherAdmin(publisher, msg.sender);
        if (b.revokedAt != 0) revert RegistryBatchAlreadyRevoked(root);
        b.revokedAt = uint64(block.timestamp);
        emit OutputBatchRevoked(root, publisher, reason);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IProvenanceRegistry
    function getOutputBatch(bytes32 root) external view returns (OutputBatch memory) {
        BatchRecord storage b = _batches[root];
        return OutputBatch({
            versionHash: b.versionHash,
            attestor: _keyById[b.info.attestorId], // id 0 (no batch) maps to the zero address
            leafCount: b.info.leafCount,
            windowStart: b.info.windowStart,
            windowEnd: b.info.windowEnd,
            anchoredAt: b.info.anchoredAt,
            anchoredBlock: b.info.anchoredBlock,
            revokedAt: b.revokedAt
        });
    }

    /// @inheritdoc IProvenanceRegistry
    function hashAttestOutputs(
        bytes32 versionHash,
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashAttestOutputs(versionHash, root, leafCount, windowStart, windowEnd, batchURI, nonce, deadline);
    }

    /// @inheritdoc IProvenanceRegistry
    /// @dev False for an unknown or revoked batch, or one anchored for another version. The version's own
    ///      revocation does not change the answer: the outputs were still produced by it.
    function verifyOutput(
        bytes32 root,
        bytes32 versionHash,
        bytes32 requestHash,
        bytes32 responseHash,
        uint64 timestamp,
        bytes32 salt,
        bytes32[] calldata proof
    ) external view returns (bool) {
        BatchRecord storage b = _batches[root];
        // A stored version hash is never zero, so this also refuses a batch that does not exist.
        if (versionHash == bytes32(0) || b.versionHash != versionHash || b.revokedAt != 0) return false;
        // StandardMerkleTree leaf for types ["bytes32","bytes32","bytes32","uint64","bytes32"].
        bytes32 leaf =
            keccak256(bytes.concat(keccak256(abi.encode(versionHash, requestHash, responseHash, timestamp, salt))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IProvenanceRegistry
    function getPublisher(address publisher) external view returns (Publisher memory) {
        PublisherRecord storage p = _publishers[publisher];
        return Publisher({
            admin: p.admin,
            registeredAt: p.registeredAt,
            pendingAdmin: p.pendingAdmin,
            name: p.name,
            metadataURI: p.metadataURI
        });
    }

    /// @inheritdoc IProvenanceRegistry
    function getAttestorKey(address key) external view returns (AttestorKey memory) {
        KeyRecord storage k = _keys[key];
        return AttestorKey({
            publisher: k.publisher, addedAt: k.addedAt, revokedAt: k.revokedAt, compromisedSince: k.compromisedSince
        });
    }

    /// @inheritdoc IProvenanceRegistry
    function isActiveAttestor(address publisher, address key) external view returns (bool) {
        return _isActiveAttestor(publisher, key);
    }

    /// @inheritdoc IProvenanceRegistry
    function getModelVersion(bytes32 versionHash) external view returns (ModelVersion memory) {
        VersionRecord storage v = _versions[versionHash];
        return ModelVersion({
            modelId: v.modelId,
            parent: v.parent,
            metadataHash: v.metadataHash,
            publisher: _keys[v.attestor].publisher,
            registeredAt: v.registeredAt,
            attestor: v.attestor,
            registeredBlock: v.registeredBlock,
            revokedAt: v.revokedAt,
            metadataURI: v.metadataURI
        });
    }

    /// @inheritdoc IProvenanceRegistry
    function isRegistered(bytes32 versionHash) public view returns (bool) {
        return _versions[versionHash].registeredAt != 0;
    }

    /// @inheritdoc IProvenanceRegistry
    function isSignedByCompromisedKey(bytes32 versionHash) external view returns (bool) {
        VersionRecord storage v = _versions[versionHash];
        uint64 since = _keys[v.attestor].compromisedSince;
        // An unknown version has no attestor, and the zero address is never a key, so `since` is zero.
        return since != 0 && v.registeredAt >= since;
    }

    /// @inheritdoc IProvenanceRegistry
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _usedNonces[signer][nonce];
    }

    /// @inheritdoc IProvenanceRegistry
    function hashRegisterModelVersion(
        address publisher,
        bytes32 versionHash,
        bytes32 modelId,
        bytes32 parent,
        string calldata metadataURI,
        bytes32 metadataHash,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32) {
        return _hashRegisterModelVersion(
            publisher, versionHash, modelId, parent, metadataURI, metadataHash, nonce, deadline
        );
    }

    /// @inheritdoc IProvenanceRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IProvenanceRegistry
    /// @dev False for an unregistered version. A revoked version still answers: its files did not change.
    function verifyFile(
        bytes32 versionHash,
        string calldata path,
        uint64 size,
        bytes32 sha256Digest,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (!isRegistered(versionHash)) return false;
        // StandardMerkleTree leaf for types ["string","uint64","bytes32"]: double keccak of the ABI encoding.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(path, size, sha256Digest))));
        return MerkleProof.verifyCalldata(proof, versionHash, leaf);
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev Reverts unless `publisher` exists and the caller is its admin.
    function _onlyAdmin(address publisher) private view returns (PublisherRecord storage p) {
        p = _publishers[publisher];
        if (p.registeredAt == 0) revert RegistryUnknownPublisher(publisher);
        if (p.admin != msg.sender) revert RegistryNotPublisherAdmin(publisher, msg.sender);
    }

    /// @dev Returns the record of `key`, reverting unless it is bound to `publisher`.
    function _keyOf(address publisher, address key) private view returns (KeyRecord storage k) {
        k = _keys[key];
        if (k.publisher != publisher) revert RegistryUnknownAttestor(publisher, key);
    }

    /// @dev True if `key` is bound to `publisher` (never the zero address) and not revoked.
    function _isActiveAttestor(address publisher, address key) private view returns (bool) {
        KeyRecord storage k = _keys[key];
        return publisher != address(0) && k.publisher == publisher && k.revokedAt == 0;
    }

    /// @dev The publisher of `versionHash`, reverting unless the version is registered and not revoked.
    function _activeVersionPublisher(bytes32 versionHash) private view returns (address) {
        VersionRecord storage v = _versions[versionHash];
        if (v.registeredAt == 0) revert RegistryUnknownVersion(versionHash);
        if (v.revokedAt != 0) revert RegistryVersionRevoked(versionHash);
        return _keys[v.attestor].publisher;
    }

    /// @dev Reverts unless the batch fields are valid and fit the widths of `BatchRecord`, and `root` is new.
    function _checkNewBatch(bytes32 root, uint64 leafCount, uint64 windowStart, uint64 windowEnd) private view {
        if (
            root == bytes32(0) || leafCount == 0 || leafCount > type(uint32).max || windowStart > windowEnd
                || windowEnd > type(uint40).max
        ) revert RegistryInvalidBatch();
        if (_batches[root].versionHash != bytes32(0)) revert RegistryBatchExists(root);
    }

    /// @dev Stores a checked, authorized batch and emits `OutputsAttested` (a separate frame for the stack's sake).
    function _anchorBatch(
        bytes32 root,
        bytes32 versionHash,
        address publisher,
        address signer,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI
    ) private {
        BatchRecord storage b = _batches[root];
        b.versionHash = versionHash;
        // The narrowing casts are safe: `_checkNewBatch` refused values wider than the fields.
        b.info = BatchInfo({
            attestorId: _keys[signer].id,
            // forge-lint: disable-next-line(unsafe-typecast)
            leafCount: uint32(leafCount),
            // forge-lint: disable-next-line(unsafe-typecast)
            windowStart: uint40(windowStart),
            // forge-lint: disable-next-line(unsafe-typecast)
            windowEnd: uint40(windowEnd),
            anchoredAt: uint48(block.timestamp),
            anchoredBlock: uint48(block.number)
        });
        emit OutputsAttested(root, versionHash, publisher, signer, leafCount, windowStart, windowEnd, batchURI);
    }

    /// @dev Marks `nonce` of `signer` used, reverting if it already was.
    function _useNonce(address signer, uint256 nonce) private {
        mapping(uint256 => bool) storage used = _usedNonces[signer];
        if (used[nonce]) revert RegistryNonceUsed(signer, nonce);
        used[nonce] = true;
    }

    /// @dev The signer of `digest`; reverts on a malformed, high-s or unrecoverable signature.
    function _recoverSigner(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError) revert RegistryInvalidSignature();
    }

    /// @dev The EIP-712 digest of a `RegisterModelVersion` message for this deployment and the current chain id.
    function _hashRegisterModelVersion(
        address publisher,
        bytes32 versionHash,
        bytes32 modelId,
        bytes32 parent,
        string calldata metadataURI,
        bytes32 metadataHash,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    REGISTER_MODEL_VERSION_TYPEHASH,
                    publisher,
                    versionHash,
                    modelId,
                    parent,
                    keccak256(bytes(metadataURI)),
                    metadataHash,
                    nonce,
                    deadline
                )
            )
        );
    }

    /// @dev The EIP-712 digest of an `AttestOutputs` message for this deployment and the current chain id.
    function _hashAttestOutputs(
        bytes32 versionHash,
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline
    ) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ATTEST_OUTPUTS_TYPEHASH,
                    versionHash,
                    root,
                    leafCount,
                    windowStart,
                    windowEnd,
                    keccak256(bytes(batchURI)),
                    nonce,
                    deadline
                )
            )
        );
    }
}
