// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IProvenanceRegistry
/// @notice On-chain registry of AI model versions, signed by the attestor keys of their publishers (labs).
/// @dev Self-contained so that Rust's `sol!` and other tooling can read it. Formats are specified in docs/format.md:
///      a version hash is the root of an OpenZeppelin StandardMerkleTree over the manifest entries
///      `(string path, uint64 size, bytes32 sha256)`.
interface IProvenanceRegistry {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    /// @notice A publisher (a lab). Its id is the address that registered it, and never changes.
    struct Publisher {
        /// @notice Current admin: adds, revokes and flags attestor keys, and revokes versions.
        address admin;
        /// @notice Registration time (block timestamp); zero means the publisher does not exist.
        uint64 registeredAt;
        /// @notice Admin nominated by `transferPublisherAdmin`, waiting to accept; zero if none.
        address pendingAdmin;
        /// @notice Human-readable name, e.g. "Acme AI".
        string name;
        /// @notice URI of a JSON document describing the publisher.
        string metadataURI;
    }

    /// @notice An attestor key (a hot key that signs attestations), bound forever to one publisher.
    struct AttestorKey {
        /// @notice The publisher this key signs for; zero means the key was never added.
        address publisher;
        /// @notice Time the key was added.
        uint64 addedAt;
        /// @notice Time the key was revoked; zero while active. A revoked key can sign nothing new.
        uint64 revokedAt;
        /// @notice Time from which the key is known compromised; zero if never flagged.
        uint64 compromisedSince;
    }

    /// @notice A publisher's claim of a model version. Any number of publishers may claim the same version hash; each
    ///         claim is its own record, keyed by (publisher, versionHash).
    struct ModelVersion {
        /// @notice keccak256 of the model's name, e.g. keccak256("acme/llm-7b"); groups versions of one model.
        bytes32 modelId;
        /// @notice The version this one derives from (fine-tune, quantization, merge); zero for none.
        bytes32 parent;
        /// @notice keccak256 of the document at `metadataURI`, or zero.
        bytes32 metadataHash;
        /// @notice The publisher that made this claim; zero if the claim does not exist.
        address publisher;
        /// @notice Block timestamp of registration; zero means the version does not exist.
        uint64 registeredAt;
        /// @notice The attestor key whose EIP-712 signature registered the version.
        address attestor;
        /// @notice Block number of registration.
        uint64 registeredBlock;
        /// @notice Time the publisher revoked the version; zero if not revoked.
        uint64 revokedAt;
        /// @notice Block timestamp of the commitment this claim revealed (its priority); zero if it revealed none.
        uint64 committedAt;
        /// @notice Block number of that commitment; zero if none.
        uint64 committedBlock;
        /// @notice URI of the version's metadata (model card, manifest, ...).
        string metadataURI;
    }

    /// @notice The fields of a claim, which an attestor key of `publisher` signs as the EIP-712 message
    ///         `RegisterModelVersion` (same field names and order).
    struct VersionClaim {
        /// @notice The publisher id.
        address publisher;
        /// @notice The Merkle root of the version's manifest; non-zero and not yet claimed by `publisher`.
        bytes32 versionHash;
        /// @notice keccak256 of the model's name.
        bytes32 modelId;
        /// @notice A version hash claimed by some publisher, or zero.
        bytes32 parent;
        /// @notice URI of the version's metadata.
        string metadataURI;
        /// @notice keccak256 of the metadata document, or zero.
        bytes32 metadataHash;
        /// @notice The salt of a commitment recorded in an earlier block, or zero for none.
        bytes32 commitSalt;
        /// @notice Any unused nonce of the signer (nonces are unordered, so claims can be signed in parallel).
        uint256 nonce;
        /// @notice Unix time after which the signature is refused.
        uint256 deadline;
    }

    /// @notice A batch of attested model outputs: the root of a StandardMerkleTree over output leaves
    ///         `(bytes32 versionHash, bytes32 requestHash, bytes32 responseHash, uint64 timestamp, bytes32 salt)`.
    struct OutputBatch {
        /// @notice The model version that produced the outputs.
        bytes32 versionHash;
        /// @notice The attestor key whose EIP-712 signature anchored the batch.
        address attestor;
        /// @notice Number of leaves in the tree.
        uint64 leafCount;
        /// @notice Earliest leaf timestamp (unix seconds).
        uint64 windowStart;
        /// @notice Latest leaf timestamp (unix seconds).
        uint64 windowEnd;
        /// @notice Block timestamp of anchoring; zero means the batch does not exist.
        uint64 anchoredAt;
        /// @notice Block number of anchoring.
        uint64 anchoredBlock;
        /// @notice Time the publisher revoked the batch; zero if not revoked.
        uint64 revokedAt;
    }

    // ---------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------

    /// @notice A publisher was registered by `publisher`, which is its first admin.
    event PublisherRegistered(address indexed publisher, address indexed admin, string name, string metadataURI);

    /// @notice The admin nominated `pendingAdmin` as the next admin of `publisher`.
    event PublisherAdminTransferStarted(address indexed publisher, address indexed admin, address indexed pendingAdmin);

    /// @notice `newAdmin` accepted the admin role of `publisher`.
    event PublisherAdminTransferred(address indexed publisher, address indexed previousAdmin, address indexed newAdmin);

    /// @notice `key` may now sign attestations for `publisher`.
    event AttestorAdded(address indexed publisher, address indexed key);

    /// @notice `key` can no longer sign attestations for `publisher`.
    event AttestorRevoked(address indexed publisher, address indexed key);

    /// @notice `key` is known compromised from `since` on; attestations it made at or after `since` are suspect.
    event AttestorCompromised(address indexed publisher, address indexed key, uint64 since);

    /// @notice A commitment to a future claim was recorded: `keccak256(abi.encode(publisher, versionHash, salt))`.
    event ModelVersionCommitted(bytes32 indexed commitment);

    /// @notice `publisher` claimed a model version with a signature from `attestor`. `committedAt` and
    ///         `committedBlock` are those of the commitment the claim revealed, or zero if it revealed none.
    ///         `modelName` is the name whose keccak256 is `modelId` (e.g. "acme/llm-7b"), or empty if the publisher
    ///         kept it private; it is recorded in the event only.
    event ModelVersionRegistered(
        bytes32 indexed versionHash,
        bytes32 indexed modelId,
        address indexed publisher,
        bytes32 parent,
        address attestor,
        string metadataURI,
        bytes32 metadataHash,
        uint64 committedAt,
        uint64 committedBlock,
        string modelName
    );

    /// @notice The publisher revoked its claim of a model version. The claim stays readable, marked revoked.
    event ModelVersionRevoked(bytes32 indexed versionHash, address indexed publisher, string reason);

    /// @notice `signer` cancelled one of its unused nonces, so any signature carrying it can no longer be used.
    event NonceInvalidated(address indexed signer, uint256 nonce);

    /// @notice A batch of model outputs was anchored by `attestor` for `publisher`'s version `versionHash`.
    ///         `batchURI` (where the leaves can be fetched) is only in the event, not in storage.
    event OutputsAttested(
        bytes32 indexed root,
        bytes32 indexed versionHash,
        address indexed publisher,
        address attestor,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string batchURI
    );

    /// @notice The publisher revoked an output batch. It stays readable, marked revoked.
    event OutputBatchRevoked(bytes32 indexed root, address indexed publisher, string reason);

    // ---------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------

    /// @notice An address argument that must be non-zero was zero.
    error RegistryZeroAddress();
    /// @notice `publisher` is already registered.
    error RegistryPublisherExists(address publisher);
    /// @notice `publisher` is not registered.
    error RegistryUnknownPublisher(address publisher);
    /// @notice `caller` is not the admin of `publisher`.
    error RegistryNotPublisherAdmin(address publisher, address caller);
    /// @notice `caller` is not the pending admin of `publisher`.
    error RegistryNotPendingAdmin(address publisher, address caller);
    /// @notice `key` is already bound to a publisher (keys are never reused across publishers).
    error RegistryAttestorExists(address key);
    /// @notice `key` is not an attestor key of `publisher`.
    error RegistryUnknownAttestor(address publisher, address key);
    /// @notice `key` was already revoked.
    error RegistryAttestorAlreadyRevoked(address key);
    /// @notice A compromise time in the future, or later than an earlier flag, was given.
    error RegistryInvalidCompromiseTime(uint64 since);
    /// @notice The signature could not be parsed or recovered.
    error RegistryInvalidSignature();
    /// @notice `signer` is not an active attestor key of `publisher`.
    error RegistryUnauthorizedSigner(address publisher, address signer);
    /// @notice The signature's deadline has passed.
    error RegistrySignatureExpired(uint256 deadline);
    /// @notice `nonce` of `signer` was already used or invalidated.
    error RegistryNonceUsed(address signer, uint256 nonce);
    /// @notice The version hash is zero.
    error RegistryInvalidVersionHash();
    /// @notice `publisher` already claims `versionHash`.
    error RegistryVersionExists(address publisher, bytes32 versionHash);
    /// @notice `publisher` does not claim `versionHash`.
    error RegistryUnknownVersion(address publisher, bytes32 versionHash);
    /// @notice The parent `parent` is not claimed by any publisher.
    error RegistryUnknownParent(bytes32 parent);
    /// @notice The model name is longer than `MAX_MODEL_NAME_LENGTH` bytes, or its keccak256 is not the claim's `modelId`.
    error RegistryInvalidModelName(bytes32 modelId);
    /// @notice `publisher`'s claim of `versionHash` was already revoked.
    error RegistryVersionAlreadyRevoked(address publisher, bytes32 versionHash);
    /// @notice Outputs cannot be attested for a revoked claim.
    error RegistryVersionRevoked(address publisher, bytes32 versionHash);
    /// @notice No commitment `commitment` was recorded (wrong salt, publisher or version hash, or never committed).
    error RegistryUnknownCommitment(bytes32 commitment);
    /// @notice `commitment` was recorded in this block; a claim must reveal a commitment from an earlier block.
    error RegistryCommitmentTooRecent(bytes32 commitment);
    /// @notice The signature adding `key` was made by `signer`, not by the key itself.
    error RegistryNotKeyHolder(address key, address signer);
    /// @notice The batch root is zero, the leaf count is zero, or the window is inverted.
    error RegistryInvalidBatch();
    /// @notice The batch window ends at `windowEnd`, after the anchoring block's time.
    error RegistryWindowInFuture(uint64 windowEnd);
    /// @notice `root` is already anchored.
    error RegistryBatchExists(bytes32 root);
    /// @notice `root` is not anchored.
    error RegistryUnknownBatch(bytes32 root);
    /// @notice `root` was already revoked.
    error RegistryBatchAlreadyRevoked(bytes32 root);

    // ---------------------------------------------------------------------------------------------
    // Publishers and keys
    // ---------------------------------------------------------------------------------------------

    /// @notice Registers the caller as a publisher; the caller's address is the publisher id and its first admin.
    /// @param name Human-readable name.
    /// @param metadataURI URI of a JSON document describing the publisher.
    function registerPublisher(string calldata name, string calldata metadataURI) external;

    /// @notice Nominates `newAdmin`; the role moves only when `newAdmin` calls `acceptPublisherAdmin`.
    /// @param publisher The publisher id.
    /// @param newAdmin The nominated admin; zero cancels a pending transfer.
    function transferPublisherAdmin(address publisher, address newAdmin) external;

    /// @notice Completes an admin transfer; callable only by the pending admin.
    /// @param publisher The publisher id.
    function acceptPublisherAdmin(address publisher) external;

    /// @notice Authorizes `key` to sign attestations for `publisher`. Only the publisher's admin may call, and the
    ///         key proves possession by signing its own authorization, so nobody can bind someone else's key.
    /// @dev Typed data signed by `key`: `AddAttestor(address publisher,uint256 deadline)`, same domain as versions.
    /// @param publisher The publisher id.
    /// @param key The attestor key; must never have been bound to any publisher.
    /// @param deadline Unix time after which the key's signature is refused.
    /// @param keySignature The key's 65-byte ECDSA signature over the typed data.
    function addAttestor(address publisher, address key, uint256 deadline, bytes calldata keySignature) external;

    /// @notice Revokes `key`: it can sign nothing new. Past attestations stay valid. Only the admin may call.
    /// @param publisher The publisher id.
    /// @param key The attestor key.
    function revokeAttestor(address publisher, address key) external;

    /// @notice Flags `key` as compromised from `since` on, and revokes it if still active. Only the admin may call.
    ///         A later call may move `since` earlier, never later.
    /// @param publisher The publisher id.
    /// @param key The attestor key.
    /// @param since Unix time from which the key is considered compromised; not in the future.
    function markAttestorCompromised(address publisher, address key, uint64 since) external;

    // ---------------------------------------------------------------------------------------------
    // Model versions
    // ---------------------------------------------------------------------------------------------

    /// @notice Records a commitment to a future claim, `commitmentOf(publisher, versionHash, salt)`, which reveals
    ///         nothing about the version. A claim that later reveals it takes the commitment's block as its priority,
    ///         so a claim copied from the mempool cannot get ahead of it. Anyone may call; recording a commitment again
    ///         changes nothing.
    function commitModelVersion(bytes32 commitment) external;

    /// @notice Registers `publisher`'s claim of a model version, authorized by an EIP-712 signature of an active
    ///         attestor key of `publisher`. Anyone may relay the transaction. Other publishers' claims of the same
    ///         hash neither block nor affect this one.
    /// @dev Typed data: `RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,
    ///      string metadataURI,bytes32 metadataHash,bytes32 commitSalt,uint256 nonce,uint256 deadline)`, domain name
    ///      "ProvaProvenanceRegistry", version "1", with chainId and this contract's address.
    /// @param claim The claim's fields (see `VersionClaim`).
    /// @param modelName The model's name, whose keccak256 must be `claim.modelId`, at most `MAX_MODEL_NAME_LENGTH`
    ///        bytes; or empty to keep it private. It is bound by the signature through `modelId`, so a relayer
    ///        cannot change it, and it is recorded in `ModelVersionRegistered` only.
    /// @param signature The attestor key's 65-byte ECDSA signature over the typed data.
    function registerModelVersion(VersionClaim calldata claim, string calldata modelName, bytes calldata signature)
        external;

    /// @notice Revokes `publisher`'s claim of a version with a reason. Only the publisher's admin may call.
    /// @param publisher The publisher id.
    /// @param versionHash The version.
    /// @param reason Free text, e.g. "weights leaked" or "superseded by 0x...".
    function revokeModelVersion(address publisher, bytes32 versionHash, string calldata reason) external;

    /// @notice Cancels one of the caller's unused nonces, so a signature that carries it can never be used.
    /// @param nonce The nonce.
    function invalidateNonce(uint256 nonce) external;

    // ---------------------------------------------------------------------------------------------
    // Output batches
    // ---------------------------------------------------------------------------------------------

    /// @notice Anchors the root of a batch of model outputs, authorized by an EIP-712 signature of an active attestor
    ///         key. Anyone may relay. The key's publisher must claim the version, and not have revoked the claim.
    /// @dev Typed data: `AttestOutputs(bytes32 versionHash,bytes32 root,uint64 leafCount,uint64 windowStart,
    ///      uint64 windowEnd,string batchURI,uint256 nonce,uint256 deadline)`, same domain as model versions.
    /// @param versionHash The registered model version that produced the outputs.
    /// @param root StandardMerkleTree root over the output leaves; non-zero and not yet anchored.
    /// @param leafCount Number of leaves; non-zero.
    /// @param windowStart Earliest leaf timestamp.
    /// @param windowEnd Latest leaf timestamp; not before `windowStart`, and not after this block's time.
    /// @param batchURI Where the batch's leaves can be fetched (emitted, not stored).
    /// @param nonce Any unused nonce of the signer.
    /// @param deadline Unix time after which the signature is refused.
    /// @param signature The attestor key's 65-byte ECDSA signature over the typed data.
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
    ) external;

    /// @notice Revokes an output batch with a reason. Only the admin of the batch's publisher may call.
    function revokeOutputBatch(bytes32 root, string calldata reason) external;

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @notice Returns an output batch; `anchoredAt == 0` if it does not exist.
    function getOutputBatch(bytes32 root) external view returns (OutputBatch memory);

    /// @notice The EIP-712 digest the attestor key must sign for `attestOutputs`.
    function hashAttestOutputs(
        bytes32 versionHash,
        bytes32 root,
        uint64 leafCount,
        uint64 windowStart,
        uint64 windowEnd,
        string calldata batchURI,
        uint256 nonce,
        uint256 deadline
    ) external view returns (bytes32);

    /// @notice True if the output leaf belongs to the anchored, unrevoked batch `root` of version `versionHash`,
    ///         given a StandardMerkleTree proof, its timestamp lies in the batch's window, and the batch was not
    ///         anchored at or after its key's compromise time. Lets other contracts check a model output on-chain.
    ///         What it proves about time: the output existed no later than the batch's `anchoredAt`; the leaf's
    ///         timestamp is the attestor's claim.
    function verifyOutput(
        bytes32 root,
        bytes32 versionHash,
        bytes32 requestHash,
        bytes32 responseHash,
        uint64 timestamp,
        bytes32 salt,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice Returns a publisher; `registeredAt == 0` if it does not exist.
    function getPublisher(address publisher) external view returns (Publisher memory);

    /// @notice Returns an attestor key's record; `publisher == address(0)` if it was never added.
    function getAttestorKey(address key) external view returns (AttestorKey memory);

    /// @notice True if `key` is an active (added, not revoked) attestor key of `publisher`.
    function isActiveAttestor(address publisher, address key) external view returns (bool);

    /// @notice Returns `publisher`'s claim of a version; `registeredAt == 0` if it does not exist.
    function getModelVersion(address publisher, bytes32 versionHash) external view returns (ModelVersion memory);

    /// @notice True if `publisher` claims `versionHash` (revoked or not).
    function isRegistered(address publisher, bytes32 versionHash) external view returns (bool);

    /// @notice True if any publisher claims `versionHash`.
    function isClaimed(bytes32 versionHash) external view returns (bool);

    /// @notice The commitment a claim reveals: `keccak256(abi.encode(publisher, versionHash, salt))`.
    function commitmentOf(address publisher, bytes32 versionHash, bytes32 salt) external pure returns (bytes32);

    /// @notice The block timestamp and number that first recorded `commitment`; zeros if never recorded.
    function getCommitment(bytes32 commitment) external view returns (uint64 at, uint64 blockNumber);

    /// @notice True if `publisher`'s claim was registered at or after its attestor key's compromise time.
    function isSignedByCompromisedKey(address publisher, bytes32 versionHash) external view returns (bool);

    /// @notice True if the batch `root` was anchored at or after its attestor key's compromise time.
    function isBatchSignedByCompromisedKey(bytes32 root) external view returns (bool);

    /// @notice The EIP-712 digest a key must sign to be added as an attestor of `publisher` by `addAttestor`.
    function hashAddAttestor(address publisher, uint256 deadline) external view returns (bytes32);

    /// @notice True if `nonce` of `signer` was used or invalidated.
    function isNonceUsed(address signer, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 digest the attestor key must sign for `registerModelVersion`.
    function hashRegisterModelVersion(VersionClaim calldata claim) external view returns (bytes32);

    /// @notice The EIP-712 domain separator of this deployment.
    function domainSeparator() external view returns (bytes32);

    /// @notice True if `publisher` claims `versionHash` and the file `(path, size, sha256)` belongs to it, given a
    ///         StandardMerkleTree proof (from `prova model prove-file` or the JS library openzeppelin/merkle-tree).
    function verifyFile(
        address publisher,
        bytes32 versionHash,
        string calldata path,
        uint64 size,
        bytes32 sha256Digest,
        bytes32[] calldata proof
    ) external view returns (bool);
}
