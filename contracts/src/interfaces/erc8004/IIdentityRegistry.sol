// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IIdentityRegistry
/// @notice ERC-8004 "Trustless Agents" identity registry: each agent is an ERC-721 token whose id is the agentId
///         (the first agent is 0) and whose token URI is the agent's registration file. An agent is addressed
///         globally as `eip155:{chainId}:{identityRegistry}` plus its agentId.
/// @dev Self-contained (no imports) so that Rust's `sol!` can read it. Items marked "prova extension" are not in
///      ERC-8004; everything else has the standard's exact signature, so existing ERC-8004 indexers work.
///      The ERC-721 subset at the end (functions, events and errors of OpenZeppelin's ERC721) is declared here so
///      that one binding can call the registry and decode all of its logs. Because Solidity refuses an event
///      declared twice in one inheritance graph (`Transfer` is also in OpenZeppelin's IERC721), IdentityRegistry
///      does not inherit this interface; its test suite calls every function below through this interface
///      instead, so a missing or mistyped one fails the tests.
///
///      The "operator" of an agent is its owner, the address approved for its token (`getApproved`), or an
///      operator approved for all of the owner's tokens (`isApprovedForAll`).
///
///      Reserved metadata keys:
///      - "agentWallet": the agent's payment/signing wallet. It is the owner's address when the agent is registered,
///        then changes only by `setAgentWallet` (with a signature of the new wallet), `unsetAgentWallet` and any
///        transfer of the token (both clear it to zero). `getMetadata` returns it as the 20 packed bytes of the
///        address, or empty bytes when cleared. Every change is announced by
///        `MetadataSet(agentId, "agentWallet", "agentWallet", abi.encodePacked(wallet))` (empty value when
///        cleared), including the initial one in every `register` overload.
///      - "prova.modelVersion" (prova extension): exactly 32 bytes, the non-zero versionHash of a
///        ProvenanceRegistry model version the agent runs; readable as `modelVersion(agentId)`.
///
///      prova extension, the agent's "signers": the accounts that may sign for the agent off-chain (prova's
///      interaction receipts): its owner and its wallet. (The owner could make itself the wallet at any time, so
///      accepting it adds no power.) The registry remembers, for every account that stopped being a signer of an
///      agent, the last time it stopped (`signerRetiredAt`), so that what a signer signed while in office stays
///      checkable after a rotation, an unset or a transfer (`isAgentSignerSince`).
interface IIdentityRegistry {
    // ---------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------

    /// @notice One on-chain metadata entry, as passed to `register`.
    struct MetadataEntry {
        /// @notice The key, e.g. "prova.modelVersion". "agentWallet" is refused.
        string metadataKey;
        /// @notice The value: raw bytes, whose meaning the key defines.
        bytes metadataValue;
    }

    // ---------------------------------------------------------------------------------------------
    // Events (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice Agent `agentId` was registered (minted to `owner`) with registration file `agentURI`.
    event Registered(uint256 indexed agentId, string agentURI, address indexed owner);

    /// @notice Metadata `metadataKey` of agent `agentId` was set to `metadataValue` (empty when cleared).
    ///         `indexedMetadataKey` is the same key; as an indexed string its topic holds only its keccak256.
    event MetadataSet(
        uint256 indexed agentId, string indexed indexedMetadataKey, string metadataKey, bytes metadataValue
    );

    /// @notice The registration file of agent `agentId` moved to `newURI`, set by `updatedBy`.
    event URIUpdated(uint256 indexed agentId, string newURI, address indexed updatedBy);

    // ---------------------------------------------------------------------------------------------
    // Errors (prova; the standard names none)
    // ---------------------------------------------------------------------------------------------

    /// @notice `caller` is not the owner or an operator of agent `agentId`.
    error IdentityUnauthorized(uint256 agentId, address caller);

    /// @notice `setMetadata` and `register` refuse the key "agentWallet"; use `setAgentWallet`.
    error IdentityReservedMetadataKey(string metadataKey);

    /// @notice prova extension: a "prova.modelVersion" value must be exactly 32 bytes and not zero.
    error InvalidModelVersion();

    /// @notice `setAgentWallet` refuses the zero address; use `unsetAgentWallet`.
    error IdentityZeroWallet();

    /// @notice The wallet's signature for `setAgentWallet` expired at `deadline` (unix seconds).
    error IdentityWalletSignatureExpired(uint256 deadline);

    /// @notice The signature's `deadline` is more than 5 minutes after the block time; `latest` is the latest
    ///         deadline accepted now.
    error IdentityWalletDeadlineTooFar(uint256 deadline, uint256 latest);

    /// @notice The signature is not a valid EIP-712 (or ERC-1271) signature of `AgentWalletSet` by `newWallet`.
    error IdentityInvalidWalletSignature(address newWallet);

    /// @notice prova: a signature of `newWallet` for this agent with a deadline at or before `lastDeadline` (the
    ///         deadline of the last one accepted) was already used or is stale; the wallet signs a new one.
    error IdentityWalletSignatureReplayed(address newWallet, uint256 deadline, uint256 lastDeadline);

    // ---------------------------------------------------------------------------------------------
    // Registration (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice Registers a new agent, owned by the caller, with no registration file yet. Its wallet is the caller.
    ///         Emits, in this order, `Transfer(0, caller, agentId)`, `MetadataSet(agentId, "agentWallet",
    ///         "agentWallet", abi.encodePacked(caller))` and `Registered(agentId, "", caller)`.
    /// @return agentId The new agent's id: the number of agents registered before it.
    function register() external returns (uint256 agentId);

    /// @notice Registers a new agent, owned by the caller, with registration file `agentURI`; the same events as
    ///         `register()`, `Registered` carrying `agentURI`.
    function register(string calldata agentURI) external returns (uint256 agentId);

    /// @notice Registers a new agent with registration file `agentURI` and on-chain metadata entries: the events of
    ///         `register(agentURI)`, then one `MetadataSet` per entry, in order. Reverts
    ///         `IdentityReservedMetadataKey` for "agentWallet" and `InvalidModelVersion` for a malformed
    ///         "prova.modelVersion".
    function register(string calldata agentURI, MetadataEntry[] calldata metadata) external returns (uint256 agentId);

    /// @notice Moves the registration file of `agentId` (owner or operator only). Emits `URIUpdated`.
    function setAgentURI(uint256 agentId, string calldata newURI) external;

    // ---------------------------------------------------------------------------------------------
    // Metadata (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice The value of metadata `metadataKey` of `agentId`; empty when unset (or for an unknown agent).
    ///         For "agentWallet" it is the 20 packed bytes of the wallet, for "prova.modelVersion" the 32-byte hash.
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory);

    /// @notice Sets metadata `metadataKey` of `agentId` (owner or operator only); an empty value clears a generic
    ///         key. Reverts `IdentityReservedMetadataKey` for "agentWallet" and `InvalidModelVersion` for a
    ///         "prova.modelVersion" value that is not 32 non-zero bytes. Emits `MetadataSet`.
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external;

    // ---------------------------------------------------------------------------------------------
    // Agent wallet (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice Sets the agent's wallet to `newWallet` (owner or operator only), proven by `signature` of `newWallet`
    ///         over the EIP-712 message `AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256
    ///         deadline)` with `owner` the agent's current owner (so the signature dies with a transfer), in the
    ///         domain `{name: "ERC8004IdentityRegistry", version: "1", chainId, verifyingContract}` (the reference
    ///         registry's, so agent0-sdk signatures work). A contract wallet signs with ERC-1271. Emits
    ///         `MetadataSet(agentId, "agentWallet", "agentWallet", abi.encodePacked(newWallet))`.
    /// @dev The standard's message has no nonce. Replay is bounded two ways: `deadline` may be at most 5 minutes
    ///      after the block time (as in the reference), and (prova) a signature is refused unless its deadline is
    ///      later than that of the last signature of the same wallet accepted for this agent, so each signature
    ///      takes effect at most once (`IdentityWalletSignatureReplayed`), e.g. not again after `unsetAgentWallet`.
    /// @param deadline Unix time after which the signature is refused (`IdentityWalletSignatureExpired`); at most
    ///        `block.timestamp + 300` (`IdentityWalletDeadlineTooFar`).
    /// @param signature 65-byte ECDSA signature of `newWallet`, or any bytes its ERC-1271 `isValidSignature` accepts.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external;

    /// @notice The agent's wallet: its owner's address from registration until the first `setAgentWallet`,
    ///         `unsetAgentWallet` or transfer; the zero address once cleared (or for an unknown agent).
    function getAgentWallet(uint256 agentId) external view returns (address);

    /// @notice Clears the agent's wallet (owner or operator only). Emits `MetadataSet` with an empty value, even if
    ///         no wallet was set.
    function unsetAgentWallet(uint256 agentId) external;

    // ---------------------------------------------------------------------------------------------
    // prova extensions
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: the ProvenanceRegistry versionHash stored under "prova.modelVersion", or zero.
    function modelVersion(uint256 agentId) external view returns (bytes32);

    /// @notice prova extension: the number of agents registered; the next agentId.
    function agentCount() external view returns (uint256);

    /// @notice prova extension: true if `spender` is the owner or an operator of `agentId`. Reverts
    ///         `ERC721NonexistentToken` for an unknown agent. The reputation and validation registries use it.
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool);

    /// @notice prova extension: true if `account` is the owner, an operator or the wallet of `agentId`, i.e. an
    ///         account that may not rate the agent. Reverts `ERC721NonexistentToken` for an unknown agent.
    function isAgentInsider(address account, uint256 agentId) external view returns (bool);

    /// @notice prova extension: true if `account` is a signer of the agent (its owner or its wallet) now, or was
    ///         one at some time at or after unix time `timestamp`, i.e. `signerRetiredAt(agentId, account) >=
    ///         timestamp`. False for the zero address and for an unknown agent.
    function isAgentSignerSince(uint256 agentId, address account, uint256 timestamp) external view returns (bool);

    /// @notice prova extension: the last unix time at which `account` stopped being a signer of the agent (a wallet
    ///         replaced or unset, an owner or wallet leaving with a transfer); zero if it never stopped. An account
    ///         can become a signer again later.
    function signerRetiredAt(uint256 agentId, address account) external view returns (uint256);

    /// @notice prova extension: the EIP-712 digest `newWallet` signs for `setAgentWallet` (`AgentWalletSet`).
    function hashAgentWallet(uint256 agentId, address newWallet, address owner, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice prova extension: the EIP-712 domain separator of this deployment on the current chain.
    function domainSeparator() external view returns (bytes32);

    // ---------------------------------------------------------------------------------------------
    // ERC-721 subset (OpenZeppelin ERC721; name "prova Agent", symbol "AGENT")
    // ---------------------------------------------------------------------------------------------

    /// @notice ERC-721: token `tokenId` moved from `from` to `to` (from zero on registration).
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    /// @notice ERC-721: `owner` approved `approved` for token `tokenId`.
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);

    /// @notice ERC-721: `owner` approved (or revoked) `operator` for all of its tokens.
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);

    /// @notice ERC-721 (OpenZeppelin): token `tokenId` does not exist.
    error ERC721NonexistentToken(uint256 tokenId);

    /// @notice ERC-721 (OpenZeppelin): `operator` may not move token `tokenId`.
    error ERC721InsufficientApproval(address operator, uint256 tokenId);

    /// @notice ERC-721: the owner of `tokenId`; reverts `ERC721NonexistentToken` for an unknown agent.
    function ownerOf(uint256 tokenId) external view returns (address);

    /// @notice ERC-721: the number of agents `owner` holds.
    function balanceOf(address owner) external view returns (uint256);

    /// @notice ERC-721: the agent's registration file URI (the `agentURI`); reverts for an unknown agent.
    function tokenURI(uint256 tokenId) external view returns (string memory);

    /// @notice ERC-721: the address approved for `tokenId` (an operator of that agent), or zero.
    function getApproved(uint256 tokenId) external view returns (address);

    /// @notice ERC-721: true if `operator` may manage all of `owner`'s agents.
    function isApprovedForAll(address owner, address operator) external view returns (bool);

    /// @notice ERC-721: approves `to` for `tokenId`, making it an operator of that agent.
    function approve(address to, uint256 tokenId) external;

    /// @notice ERC-721: approves (or revokes) `operator` for all of the caller's agents.
    function setApprovalForAll(address operator, bool approved) external;

    /// @notice ERC-721: moves `tokenId` from `from` to `to`; clears the agent's wallet (announced by `MetadataSet`
    ///         with an empty value when it was not already clear).
    function transferFrom(address from, address to, uint256 tokenId) external;
}
