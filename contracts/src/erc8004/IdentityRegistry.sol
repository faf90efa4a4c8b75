// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IIdentityRegistry} from "../interfaces/erc8004/IIdentityRegistry.sol";

/// @title IdentityRegistry
/// @notice ERC-8004 identity registry of prova: agents are ERC-721 tokens ("prova Agent", "AGENT") numbered from 0,
///         with a registration-file URI, on-chain metadata, a wallet proven by its own signature, and the prova
///         extension "prova.modelVersion" linking an agent to a ProvenanceRegistry model version.
/// @dev Implements every function of `IIdentityRegistry`, whose NatSpec is normative. It does not inherit the
///      interface: `IIdentityRegistry` also declares ERC-721's `Transfer` event so that one Rust binding can decode
///      all logs, and Solidity refuses the same event twice in one inheritance graph (OpenZeppelin's IERC721 has
///      it). Events and errors are therefore emitted and raised by their qualified names, and the tests call every
///      interface function through `IIdentityRegistry`.
///
///      Storage: the URI, generic metadata, wallet and model version each have their own mapping. The two reserved
///      keys get typed slots rather than the generic `bytes` map: a 32-byte model version then costs one slot
///      instead of two (the length word and the data), and the wallet is one address.
contract IdentityRegistry is ERC721, EIP712 {
    /// @dev keccak256("AgentWallet(uint256 agentId,address newWallet,address owner,uint256 deadline)")
    bytes32 public constant AGENT_WALLET_TYPEHASH =
        keccak256("AgentWallet(uint256 agentId,address newWallet,address owner,uint256 deadline)");

    /// @dev The reserved key of the agent wallet (ERC-8004).
    string private constant AGENT_WALLET_KEY = "agentWallet";
    bytes32 private constant AGENT_WALLET_KEY_HASH = keccak256(bytes(AGENT_WALLET_KEY));

    /// @dev The prova key of the model version: exactly 32 non-zero bytes.
    string private constant MODEL_VERSION_KEY = "prova.modelVersion";
    bytes32 private constant MODEL_VERSION_KEY_HASH = keccak256(bytes(MODEL_VERSION_KEY));

    mapping(uint256 agentId => string) private _agentURIs;
    mapping(uint256 agentId => mapping(string key => bytes)) private _metadata;
    mapping(uint256 agentId => address) private _wallets;
    mapping(uint256 agentId => bytes32) private _modelVersions;
    /// @dev Number of agents registered; the next agentId.
    uint256 private _agentCount;

    constructor() ERC721("prova Agent", "AGENT") EIP712("prova IdentityRegistry", "1") {}

    // ---------------------------------------------------------------------------------------------
    // Registration
    // ---------------------------------------------------------------------------------------------

    /// @notice See `IIdentityRegistry.register()`.
    function register() external returns (uint256 agentId) {
        agentId = _register("");
    }

    /// @notice See `IIdentityRegistry.register(string)`.
    function register(string calldata agentURI) external returns (uint256 agentId) {
        agentId = _register(agentURI);
    }

    /// @notice See `IIdentityRegistry.register(string,(string,bytes)[])`.
    function register(string calldata agentURI, IIdentityRegistry.MetadataEntry[] calldata metadata)
        external
        returns (uint256 agentId)
    {
        agentId = _register(agentURI);
        for (uint256 i; i < metadata.length; ++i) {
            _setMetadata(agentId, metadata[i].metadataKey, metadata[i].metadataValue);
        }
    }

    /// @notice See `IIdentityRegistry.setAgentURI`.
    function setAgentURI(uint256 agentId, string calldata newURI) external {
        _onlyOperator(agentId);
        _agentURIs[agentId] = newURI;
        emit IIdentityRegistry.URIUpdated(agentId, newURI, msg.sender);
    }

    // ---------------------------------------------------------------------------------------------
    // Metadata
    // ---------------------------------------------------------------------------------------------

    /// @notice See `IIdentityRegistry.getMetadata`.
    function getMetadata(uint256 agentId, string calldata metadataKey) external view returns (bytes memory) {
        bytes32 keyHash = keccak256(bytes(metadataKey));
        if (keyHash == AGENT_WALLET_KEY_HASH) {
            address wallet = _wallets[agentId];
            return wallet == address(0) ? bytes("") : abi.encodePacked(wallet);
        }
        if (keyHash == MODEL_VERSION_KEY_HASH) {
            bytes32 version = _modelVersions[agentId];
            return version == bytes32(0) ? bytes("") : abi.encodePacked(version);
        }
        return _metadata[agentId][metadataKey];
    }

    /// @notice See `IIdentityRegistry.setMetadata`.
    function setMetadata(uint256 agentId, string calldata metadataKey, bytes calldata metadataValue) external {
        _onlyOperator(agentId);
        _setMetadata(agentId, metadataKey, metadataValue);
    }

    // ---------------------------------------------------------------------------------------------
    // Agent wallet
    // ---------------------------------------------------------------------------------------------

    /// @notice See `IIdentityRegistry.setAgentWallet`.
    function setAgentWallet(uint256 agentId, address newWallet, uint256 deadline, bytes calldata signature) external {
        address owner = _onlyOperator(agentId);
        if (newWallet == address(0)) revert IIdentityRegistry.IdentityZeroWallet();
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > deadline) revert IIdentityRegistry.IdentityWalletSignatureExpired(deadline);
        bytes32 digest = _hashAgentWallet(agentId, newWallet, owner, deadline);
        if (!SignatureChecker.isValidSignatureNow(newWallet, digest, signature)) {
            revert IIdentityRegistry.IdentityInvalidWalletSignature(newWallet);
        }
        _wallets[agentId] = newWallet;
        emit IIdentityRegistry.MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(newWallet));
    }

    /// @notice See `IIdentityRegistry.getAgentWallet`.
    function getAgentWallet(uint256 agentId) external view returns (address) {
        return _wallets[agentId];
    }

    /// @notice See `IIdentityRegistry.unsetAgentWallet`.
    function unsetAgentWallet(uint256 agentId) external {
        _onlyOperator(agentId);
        _clearWallet(agentId);
    }

    // ---------------------------------------------------------------------------------------------
    // prova extensions
    // ---------------------------------------------------------------------------------------------

    /// @notice See `IIdentityRegistry.modelVersion`.
    function modelVersion(uint256 agentId) external view returns (bytes32) {
        return _modelVersions[agentId];
    }

    /// @notice See `IIdentityRegistry.agentCount`.
    function agentCount() external view returns (uint256) {
        return _agentCount;
    }

    /// @notice See `IIdentityRegistry.isAuthorizedOrOwner`.
    function isAuthorizedOrOwner(address spender, uint256 agentId) external view returns (bool) {
        return _isAuthorized(_requireOwned(agentId), spender, agentId);
    }

    /// @notice See `IIdentityRegistry.hashAgentWallet`.
    function hashAgentWallet(uint256 agentId, address newWallet, address owner, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashAgentWallet(agentId, newWallet, owner, deadline);
    }

    /// @notice See `IIdentityRegistry.domainSeparator`.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------------------
    // ERC-721
    // ---------------------------------------------------------------------------------------------

    /// @notice The agent's registration file URI (`agentURI`). Reverts `ERC721NonexistentToken` for an unknown agent.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireOwned(tokenId);
        return _agentURIs[tokenId];
    }

    /// @dev Clears the agent wallet on every transfer (not on mint), announcing it with `MetadataSet` if one was set.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0) && _wallets[tokenId] != address(0)) _clearWallet(tokenId);
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev Mints the next agentId to the caller and stores its URI (left unwritten when empty).
    function _register(string memory agentURI) private returns (uint256 agentId) {
        agentId = _agentCount++;
        // `_mint`, not `_safeMint`: the caller asked for the token, and no receiver hook runs mid-registration.
        _mint(msg.sender, agentId);
        if (bytes(agentURI).length != 0) _agentURIs[agentId] = agentURI;
        emit IIdentityRegistry.Registered(agentId, agentURI, msg.sender);
    }

    /// @dev Stores one metadata entry, routing the reserved keys, and emits `MetadataSet`.
    function _setMetadata(uint256 agentId, string calldata key, bytes calldata value) private {
        bytes32 keyHash = keccak256(bytes(key));
        if (keyHash == AGENT_WALLET_KEY_HASH) revert IIdentityRegistry.IdentityReservedMetadataKey(key);
        if (keyHash == MODEL_VERSION_KEY_HASH) {
            if (value.length != 32) revert IIdentityRegistry.InvalidModelVersion();
            // The length is exactly 32, so nothing is cut.
            // forge-lint: disable-next-line(unsafe-typecast)
            bytes32 version = bytes32(value);
            // A ProvenanceRegistry version hash is never zero; zero would also read back as "unset".
            if (version == bytes32(0)) revert IIdentityRegistry.InvalidModelVersion();
            _modelVersions[agentId] = version;
        } else {
            _metadata[agentId][key] = value;
        }
        emit IIdentityRegistry.MetadataSet(agentId, key, key, value);
    }

    /// @dev Deletes the wallet and emits `MetadataSet(agentId, "agentWallet", "agentWallet", "")`.
    function _clearWallet(uint256 agentId) private {
        delete _wallets[agentId];
        emit IIdentityRegistry.MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
    }

    /// @dev Returns the owner of `agentId`, reverting `ERC721NonexistentToken` for an unknown agent and
    ///      `IdentityUnauthorized` unless the caller is the owner or an operator.
    function _onlyOperator(uint256 agentId) private view returns (address owner) {
        owner = _requireOwned(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) {
            revert IIdentityRegistry.IdentityUnauthorized(agentId, msg.sender);
        }
    }

    /// @dev The EIP-712 digest of an `AgentWallet` message for this deployment and the current chain id.
    function _hashAgentWallet(uint256 agentId, address newWallet, address owner, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_TYPEHASH, agentId, newWallet, owner, deadline)));
    }
}
