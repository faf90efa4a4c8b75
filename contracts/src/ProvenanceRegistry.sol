// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IProvenanceRegistry} from "./interfaces/IProvenanceRegistry.sol";

/// @title ProvenanceRegistry
/// @notice Registry of AI model versions, each authorized by an EIP-712 signature of an attestor key of its publisher.
/// @dev Storage is packed more tightly than the interface structs so that `registerModelVersion` touches as few
///      slots as possible: times and block numbers are kept as uint48 (enough for millions of years) and widened to
///      uint64 by the views, and a version does not store its publisher, which is its attestor key's publisher
///      (keys are bound to one publisher forever). Nonces are unordered: any unused nonce of a signer may be used once.
contract ProvenanceRegistry is IProvenanceRegistry, EIP712 {
    /// @dev keccak256("RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)")
    bytes32 public constant REGISTER_MODEL_VERSION_TYPEHASH = keccak256(
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );

    /// @dev Publisher record. Slot 0: admin | registeredAt.
    struct PublisherRecord {
        address admin;
        uint64 registeredAt;
        address pendingAdmin;
        string name;
        string metadataURI;
    }

    /// @dev Attestor key record. Slot 0 (read on every registration): publisher | addedAt | revokedAt.
    struct KeyRecord {
        address publisher;
        uint48 addedAt;
        uint48 revokedAt;
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

    mapping(address publisher => PublisherRecord) private _publishers;
    mapping(address key => KeyRecord) private _keys;
    mapping(bytes32 versionHash => VersionRecord) private _versions;
    mapping(address signer => mapping(uint256 nonce => bool used)) private _usedNonces;

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
    // Views
    // ---------------------------------------------------------------------------------------------

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
}
