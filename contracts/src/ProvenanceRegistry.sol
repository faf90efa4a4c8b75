// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IProvenanceRegistry} from "./interfaces/IProvenanceRegistry.sol";

/// @title ProvenanceRegistry
/// @notice Registry of AI model versions and of batches of their outputs, each authorized by an EIP-712 signature of
///         an attestor key of the publisher. A version is a claim of one publisher: several publishers may claim the
///         same weights, each claim its own record, ordered by chain time (and by an earlier commitment, if any).
/// @dev Storage is packed more tightly than the interface structs so that `registerModelVersion` and `attestOutputs`
///      touch as few slots as possible: times and block numbers are kept as uint48 (enough for millions of years) and
///      widened to uint64 by the views, and a batch does not store its publisher, which is its attestor key's
///      publisher (keys are bound to one publisher forever). Each key also gets a 32-bit id when it is added,
///      so that an output batch fits in two fresh slots (see `BatchRecord`). Nonces are unordered: any unused nonce of
///      a signer may be used once.
contract ProvenanceRegistry is IProvenanceRegistry, EIP712 {
    /// @dev keccak256("RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,bytes32 commitSalt,uint256 nonce,uint256 deadline)")
    bytes32 public constant REGISTER_MODEL_VERSION_TYPEHASH = keccak256(
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,bytes32 commitSalt,uint256 nonce,uint256 deadline)"
    );

    /// @notice The longest model name `registerModelVersion` takes, in bytes.
    uint256 public constant MAX_MODEL_NAME_LENGTH = 256;

    /// @dev keccak256("AddAttestor(address publisher,uint256 deadline)"): signed by the key being added.
    bytes32 public constant ADD_ATTESTOR_TYPEHASH = keccak256("AddAttestor(address publisher,uint256 deadline)");

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

    /// @dev A publisher's claim of a model version. Slot 3 (the only fixed-size slot written at every registration
    ///      besides the hashes): attestor | registeredAt | registeredBlock. Slot 4: revokedAt | committedAt |
    ///      committedBlock, written at registration only when the claim reveals a commitment.
    struct VersionRecord {
        bytes32 modelId;
        bytes32 parent;
        bytes32 metadataHash;
        address attestor;
        uint48 registeredAt;
        uint48 registeredBlock;
        uint64 revokedAt;
        uint48 committedAt;
        uint48 committedBlock;
        string metadataURI;
    }

    /// @dev A commitment to a future claim: the block (and its time) that first recorded it.
    struct CommitmentRecord {
        uint48 at;
        uint48 blockNumber;
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
    /// @dev Claims are per publisher: any number of publishers may claim the same version hash, and nobody can
    ///      block a publisher from claiming its own.
    mapping(address publisher => mapping(bytes32 versionHash => VersionRecord)) private _versions;
    /// @dev True once any publisher has claimed the version hash (a parent must be).
    mapping(bytes32 versionHash => bool) private _claimed;
    mapping(bytes32 commitment => CommitmentRecord) private _commitments;
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
    function addAttestor(address publisher, address key, uint256 deadline, bytes calldata keySignature) external {
        _onlyAdmin(publisher);
        if (key == address(0)) revert RegistryZeroAddress();
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert RegistrySignatureExpired(deadline);
        // Proof of possession: nobody can bind a key it does not hold, so nobody can make someone else's key
        // unusable for its owner by binding it first.
        address signer = _recoverSigner(_hashAddAttestor(publisher, deadline), keySignature);
        if (signer != key) revert RegistryNotKeyHolder(key, signer);
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
    function commitModelVersion(bytes32 commitment) external {
        CommitmentRecord storage c = _commitments[commitment];
        // The first block to record a commitment keeps it: a copy sent later (or by someone else) changes nothing.
        if (c.at != 0) return;
        c.at = uint48(block.timestamp);
        c.blockNumber = uint48(block.number);
        emit ModelVersionCommitted(commitment);
    }

    /// @inheritdoc IProvenanceRegistry
    function registerModelVersion(VersionClaim calldata claim, string calldata modelName, bytes calldata signature)
        external
    {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > claim.deadline) revert RegistrySignatureExpired(claim.deadline);
        address publisher = claim.publisher;
        bytes32 versionHash = claim.versionHash;
        if (versionHash == bytes32(0)) revert RegistryInvalidVersionHash();
        if (_publishers[publisher].registeredAt == 0) revert RegistryUnknownPublisher(publisher);
        VersionRecord storage v = _versions[publisher][versionHash];
        if (v.registeredAt != 0) revert RegistryVersionExists(publisher, versionHash);
        bytes32 parent = claim.parent;
        if (parent != bytes32(0) && !_claimed[parent]) revert RegistryUnknownParent(parent);
        if (
            bytes(modelName).length != 0
                && (bytes(modelName).length > MAX_MODEL_NAME_LENGTH || keccak256(bytes(modelName)) != claim.modelId)
        ) revert RegistryInvalidModelName(claim.modelId);

        address signer = _recoverSigner(_hashRegisterModelVersion(claim), signature);
        if (!_isActiveAttestor(publisher, signer)) revert RegistryUnauthorizedSigner(publisher, signer);
        _useNonce(signer, claim.nonce);

        // Zero-valued fields are left unwritten: the slot already reads as zero.
        if (claim.modelId != bytes32(0)) v.modelId = claim.modelId;
        if (parent != bytes32(0)) v.parent = parent;
        if (claim.metadataHash != bytes32(0)) v.metadataHash = claim.metadataHash;
        v.attestor = signer;
        v.registeredAt = uint48(block.timestamp);
        v.registeredBlock = uint48(block.number);
        if (bytes(claim.metadataURI).length != 0) v.metadataURI = claim.metadataURI;
        if (!_claimed[versionHash]) _claimed[versionHash] = true;
        _revealCommitment(v, claim);
        _emitRegistered(claim, modelName, signer, v);
    }

    /// @inheritdoc IProvenanceRegistry
    function revokeModelVersion(address publisher, bytes32 versionHash, string calldata reason) external {
        _onlyAdmin(publisher);
        VersionRecord storage v = _versions[publisher][versionHash];
        if (v.registeredAt == 0) revert RegistryUnknownVersion(publisher, versionHash);
        if (v.revokedAt != 0) revert RegistryVersionAlreadyRevoked(publisher, versionHash);
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
    /// @dev Checks, in order: deadline, batch fields (including the storage widths of `BatchRecord` and a window
    ///      that has ended by this block), root not yet anchored, signature, signer an active key, the signer's
    ///      publisher's claim of the version registered and not revoked, nonce. Writes two fresh slots (the batch)
    ///      and one nonce slot.
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

        address signer = _recoverSigner(
            _hashAttestOutputs(versionHash, root, leafCount, windowStart, windowEnd, batchURI, nonce, deadline),
            signature
        );
        // The batch belongs to the signer's publisher (keys are bound to one publisher forever), and to that
        // publisher's own claim of the version.
        address publisher = _activeKeyPublisher(signer);
        _checkActiveVersion(publisher, versionHash);
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
    /// @dev False for an unknown or revoked batch, one anchored for another version, a leaf time outside the batch's
    ///      window, or a batch anchored at or after its key's compromise time. The version's own revocation does not
    ///      change the answer: the outputs were still produced by it.
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
        BatchInfo memory info = b.info;
        if (timestamp < info.windowStart || timestamp > info.windowEnd) return false;
        if (_batchSignedByCompromisedKey(info)) return false;
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
    function getModelVersion(address publisher, bytes32 versionHash) external view returns (ModelVersion memory) {
        VersionRecord storage v = _versions[publisher][versionHash];
        return ModelVersion({
            modelId: v.modelId,
            parent: v.parent,
            metadataHash: v.metadataHash,
            // Zero for a claim that does not exist, as before.
            publisher: v.registeredAt == 0 ? address(0) : publisher,
            registeredAt: v.registeredAt,
            attestor: v.attestor,
            registeredBlock: v.registeredBlock,
            revokedAt: v.revokedAt,
            committedAt: v.committedAt,
            committedBlock: v.committedBlock,
            metadataURI: v.metadataURI
        });
    }

    /// @inheritdoc IProvenanceRegistry
    function isRegistered(address publisher, bytes32 versionHash) public view returns (bool) {
        return _versions[publisher][versionHash].registeredAt != 0;
    }

    /// @inheritdoc IProvenanceRegistry
    function isClaimed(bytes32 versionHash) external view returns (bool) {
        return _claimed[versionHash];
    }

    /// @inheritdoc IProvenanceRegistry
    function commitmentOf(address publisher, bytes32 versionHash, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(publisher, versionHash, salt));
    }

    /// @inheritdoc IProvenanceRegistry
    function getCommitment(bytes32 commitment) external view returns (uint64 at, uint64 blockNumber) {
        CommitmentRecord storage c = _commitments[commitment];
        return (c.at, c.blockNumber);
    }

    /// @inheritdoc IProvenanceRegistry
    function isSignedByCompromisedKey(address publisher, bytes32 versionHash) external view returns (bool) {
        VersionRecord storage v = _versions[publisher][versionHash];
        uint64 since = _keys[v.attestor].compromisedSince;
        // An unknown version has no attestor, and the zero address is never a key, so `since` is zero.
        return since != 0 && v.registeredAt >= since;
    }

    /// @inheritdoc IProvenanceRegistry
    function isBatchSignedByCompromisedKey(bytes32 root) external view returns (bool) {
        return _batchSignedByCompromisedKey(_batches[root].info);
    }

    /// @inheritdoc IProvenanceRegistry
    function hashAddAttestor(address publisher, uint256 deadline) external view returns (bytes32) {
        return _hashAddAttestor(publisher, deadline);
    }

    /// @inheritdoc IProvenanceRegistry
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _usedNonces[signer][nonce];
    }

    /// @inheritdoc IProvenanceRegistry
    function hashRegisterModelVersion(VersionClaim calldata claim) external view returns (bytes32) {
        return _hashRegisterModelVersion(claim);
    }

    /// @inheritdoc IProvenanceRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IProvenanceRegistry
    /// @dev False unless `publisher` claims the version. A revoked claim still answers: its files did not change.
    function verifyFile(
        address publisher,
        bytes32 versionHash,
        string calldata path,
        uint64 size,
        bytes32 sha256Digest,
        bytes32[] calldata proof
    ) external view returns (bool) {
        if (!isRegistered(publisher, versionHash)) return false;
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

    /// @dev The publisher of `key`, reverting unless the key was added and is not revoked.
    function _activeKeyPublisher(address key) private view returns (address publisher) {
        KeyRecord storage k = _keys[key];
        publisher = k.publisher;
        if (publisher == address(0) || k.revokedAt != 0) revert RegistryUnauthorizedSigner(publisher, key);
    }

    /// @dev Reverts unless `publisher` claims `versionHash` and has not revoked the claim.
    function _checkActiveVersion(address publisher, bytes32 versionHash) private view {
        VersionRecord storage v = _versions[publisher][versionHash];
        if (v.registeredAt == 0) revert RegistryUnknownVersion(publisher, versionHash);
        if (v.revokedAt != 0) revert RegistryVersionRevoked(publisher, versionHash);
    }

    /// @dev Records in `v` the commitment `claim` reveals, if any. The commitment must be older than this block, so
    ///      that it cannot have been made after seeing this claim in the mempool.
    function _revealCommitment(VersionRecord storage v, VersionClaim calldata claim) private {
        if (claim.commitSalt == bytes32(0)) return;
        bytes32 commitment = commitmentOf(claim.publisher, claim.versionHash, claim.commitSalt);
        CommitmentRecord memory c = _commitments[commitment];
        if (c.at == 0) revert RegistryUnknownCommitment(commitment);
        if (c.blockNumber >= block.number) revert RegistryCommitmentTooRecent(commitment);
        v.committedAt = c.at;
        v.committedBlock = c.blockNumber;
    }

    /// @dev True if the batch was anchored at or after its key's compromise time. A batch that does not exist has
    ///      key id 0, which maps to the zero address, whose record is empty.
    function _batchSignedByCompromisedKey(BatchInfo memory info) private view returns (bool) {
        uint64 since = _keys[_keyById[info.attestorId]].compromisedSince;
        return since != 0 && info.anchoredAt >= since;
    }

    /// @dev Reverts unless the batch fields are valid and fit the widths of `BatchRecord`, and `root` is new.
    function _checkNewBatch(bytes32 root, uint64 leafCount, uint64 windowStart, uint64 windowEnd) private view {
        if (
            root == bytes32(0) || leafCount == 0 || leafCount > type(uint32).max || windowStart > windowEnd
                || windowEnd > type(uint40).max
        ) revert RegistryInvalidBatch();
        // An attestor can only vouch for outputs it has already produced: a window ending after this block would
        // let a batch claim outputs "no later than" a time that has not come.
        // forge-lint: disable-next-line(block-timestamp)
        if (windowEnd > block.timestamp) revert RegistryWindowInFuture(windowEnd);
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

    /// @dev Emits `ModelVersionRegistered` for a claim just stored in `v` (a function of its own: the stack of
    ///      `registerModelVersion` is full).
    function _emitRegistered(
        VersionClaim calldata claim,
        string calldata modelName,
        address signer,
        VersionRecord storage v
    ) private {
        emit ModelVersionRegistered(
            claim.versionHash,
            claim.modelId,
            claim.publisher,
            claim.parent,
            signer,
            claim.metadataURI,
            claim.metadataHash,
            v.committedAt,
            v.committedBlock,
            modelName
        );
    }

    /// @dev The EIP-712 digest of a `RegisterModelVersion` message for this deployment and the current chain id.
    function _hashRegisterModelVersion(VersionClaim calldata claim) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    REGISTER_MODEL_VERSION_TYPEHASH,
                    claim.publisher,
                    claim.versionHash,
                    claim.modelId,
                    claim.parent,
                    keccak256(bytes(claim.metadataURI)),
                    claim.metadataHash,
                    claim.commitSalt,
                    claim.nonce,
                    claim.deadline
                )
            )
        );
    }

    /// @dev The EIP-712 digest of an `AddAttestor` message, which the key being added signs.
    function _hashAddAttestor(address publisher, uint256 deadline) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ADD_ATTESTOR_TYPEHASH, publisher, deadline)));
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
