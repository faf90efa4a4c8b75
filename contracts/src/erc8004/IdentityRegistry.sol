// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IIdentityRegistry} from "../interfaces/erc8004/IIdentityRegistry.sol";

/// @title IdentityRegistry
/// @notice ERC-8004 identity registry of prova: agents are ERC-721 tokens ("prova Agent", "AGENT") numbered from 0,
///         with a registration-file URI, on-chain metadata, a wallet (the owner at first, then one proven by its
///         own signature), and the prova extension "prova.modelVersion" linking an agent to a ProvenanceRegistry
///         model version.
/// @dev Implements every function of `IIdentityRegistry`, whose NatSpec is normative. It does not inherit the
///      interface: `IIdentityRegistry` also declares ERC-721's `Transfer` event so that one Rust binding can decode
///      all logs, and Solidity refuses the same event twice in one inheritance graph (OpenZeppelin's IERC721 has
///      it). Events and errors are therefore emitted and raised by their qualified names, and the tests call every
///      interface function through `IIdentityRegistry`.
///
///      Storage: the URI, generic metadata, wallet and model version each have their own mapping. The two reserved
///      keys get typed slots rather than the generic `bytes` map: a 32-byte model version then costs one slot
///      instead of two (the length word and the data), and the wallet is one slot (`WalletSlot`).
///
///      The wallet slot of a new agent is left unwritten: all-zero means "the wallet is the owner", as ERC-8004
///      sets it at registration, so registering writes no wallet slot. `detached` records that the wallet left the
///      owner (a `setAgentWallet`, an unset or a transfer), after which a zero `wallet` means "no wallet".
///
///      Signer history (prova): the agent's signers are its owner and its wallet. When one stops being either (a
///      wallet replaced or unset, an owner or wallet leaving with a transfer), it gets its retirement time in
///      `_signerRecords`, one slot per (agent, account) that also keeps the deadline of the last wallet signature
///      accepted from it (the replay guard of `setAgentWallet`). The owner is a signer whatever the wallet, since it
///      could make itself the wallet at any time; so the first `setAgentWallet`, which moves the wallet off the
///      owner, writes no record.
contract IdentityRegistry is ERC721, EIP712 {
    /// @dev keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)"), the type
    ///      the reference registry and agent0-sdk use.
    bytes32 public constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");

    /// @dev The latest `setAgentWallet` deadline accepted, after the block time (the reference's cap).
    uint256 public constant MAX_WALLET_DEADLINE_DELAY = 5 minutes;

    /// @dev The reserved key of the agent wallet (ERC-8004).
    string private constant AGENT_WALLET_KEY = "agentWallet";
    bytes32 private constant AGENT_WALLET_KEY_HASH = keccak256(bytes(AGENT_WALLET_KEY));

    /// @dev The prova key of the model version: exactly 32 non-zero bytes.
    string private constant MODEL_VERSION_KEY = "prova.modelVersion";
    bytes32 private constant MODEL_VERSION_KEY_HASH = keccak256(bytes(MODEL_VERSION_KEY));

    /// @dev One slot per agent: 160 + 40 + 8 bits. All-zero (never written) means the wallet is the owner.
    struct WalletSlot {
        /// @dev The wallet set by `setAgentWallet`; zero when none is (then the owner, unless `detached`).
        address wallet;
        /// @dev The deadline of the signature that set `wallet` (zero when `wallet` is zero).
        uint40 deadline;
        /// @dev True once the wallet left the owner: a zero `wallet` then means "no wallet".
        bool detached;
    }

    /// @dev One slot per (agent, account) that has been the agent's signer or wallet.
    struct SignerRecord {
        /// @dev The last unix time the account stopped being the agent's signer; zero if it never did.
        uint40 retiredAt;
        /// @dev The deadline of the last `setAgentWallet` signature of the account accepted for the agent, recorded
        ///      when the account stops being the wallet (while it is the wallet, `WalletSlot.deadline` holds it).
        uint40 lastDeadline;
    }

    mapping(uint256 agentId => string) private _agentURIs;
    mapping(uint256 agentId => mapping(string key => bytes)) private _metadata;
    mapping(uint256 agentId => WalletSlot) private _wallets;
    mapping(uint256 agentId => mapping(address account => SignerRecord)) private _signerRecords;
    mapping(uint256 agentId => bytes32) private _modelVersions;
    /// @dev Number of agents registered; the next agentId.
    uint256 private _agentCount;

    constructor() ERC721("prova Agent", "AGENT") EIP712("ERC8004IdentityRegistry", "1") {}

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
            address wallet = _walletOf(agentId);
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
        uint256 latest = block.timestamp + MAX_WALLET_DEADLINE_DELAY;
        if (deadline > latest) revert IIdentityRegistry.IdentityWalletDeadlineTooFar(deadline, latest);
        bytes32 digest = _hashAgentWallet(agentId, newWallet, owner, deadline);
        if (!SignatureChecker.isValidSignatureNow(newWallet, digest, signature)) {
            revert IIdentityRegistry.IdentityInvalidWalletSignature(newWallet);
        }
        WalletSlot memory s = _wallets[agentId];
        uint256 lastDeadline = s.wallet == newWallet ? s.deadline : _signerRecords[agentId][newWallet].lastDeadline;
        if (deadline <= lastDeadline) {
            revert IIdentityRegistry.IdentityWalletSignatureReplayed(newWallet, deadline, lastDeadline);
        }
        if (s.wallet != newWallet) _walletLeaves(agentId, s, owner);
        // The deadline is at most 5 minutes ahead, so it fits 40 bits until the year 36812.
        // forge-lint: disable-next-line(unsafe-typecast)
        _wallets[agentId] = WalletSlot({wallet: newWallet, deadline: uint40(deadline), detached: true});
        emit IIdentityRegistry.MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(newWallet));
    }

    /// @notice See `IIdentityRegistry.getAgentWallet`.
    function getAgentWallet(uint256 agentId) external view returns (address) {
        return _walletOf(agentId);
    }

    /// @notice See `IIdentityRegistry.unsetAgentWallet`.
    function unsetAgentWallet(uint256 agentId) external {
        address owner = _onlyOperator(agentId);
        WalletSlot memory s = _wallets[agentId];
        _walletLeaves(agentId, s, owner);
        if (s.wallet != address(0) || !s.detached) {
            _wallets[agentId] = WalletSlot({wallet: address(0), deadline: 0, detached: true});
        }
        emit IIdentityRegistry.MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
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

    /// @notice See `IIdentityRegistry.isAgentInsider`.
    function isAgentInsider(address account, uint256 agentId) external view returns (bool) {
        if (_isAuthorized(_requireOwned(agentId), account, agentId)) return true;
        // An implicit wallet (all-zero slot) is the owner, already covered above.
        return account != address(0) && account == _wallets[agentId].wallet;
    }

    /// @notice See `IIdentityRegistry.isAgentSignerSince`.
    function isAgentSignerSince(uint256 agentId, address account, uint256 timestamp) external view returns (bool) {
        if (account == address(0)) return false;
        // `_ownerOf` is zero for an unknown agent, which matches no non-zero account; an implicit wallet is the owner.
        if (account == _ownerOf(agentId) || account == _wallets[agentId].wallet) return true;
        uint256 retiredAt = _signerRecords[agentId][account].retiredAt;
        return retiredAt != 0 && timestamp <= retiredAt;
    }

    /// @notice See `IIdentityRegistry.signerRetiredAt`.
    function signerRetiredAt(uint256 agentId, address account) external view returns (uint256) {
        return _signerRecords[agentId][account].retiredAt;
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

    /// @dev Clears the agent wallet on every transfer (not on mint), announcing it with `MetadataSet` unless it was
    ///      clear already, and records the retirement of the old wallet and the old owner (unless it is the new one).
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from == address(0)) return from;
        WalletSlot memory s = _wallets[tokenId];
        _walletLeaves(tokenId, s, to);
        if (from != to && from != s.wallet) {
            // 40 bits of unix seconds last until the year 36812.
            // forge-lint: disable-next-line(unsafe-typecast)
            _signerRecords[tokenId][from].retiredAt = uint40(block.timestamp);
        }
        if (s.wallet != address(0) || !s.detached) {
            _wallets[tokenId] = WalletSlot({wallet: address(0), deadline: 0, detached: true});
            emit IIdentityRegistry.MetadataSet(tokenId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, "");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev Mints the next agentId to the caller and stores its URI (left unwritten when empty). The wallet is the
    ///      owner through the unwritten wallet slot; only its event is emitted.
    function _register(string memory agentURI) private returns (uint256 agentId) {
        agentId = _agentCount++;
        // `_mint`, not `_safeMint`: the caller asked for the token, and no receiver hook runs mid-registration.
        _mint(msg.sender, agentId);
        if (bytes(agentURI).length != 0) _agentURIs[agentId] = agentURI;
        emit IIdentityRegistry.MetadataSet(agentId, AGENT_WALLET_KEY, AGENT_WALLET_KEY, abi.encodePacked(msg.sender));
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

    /// @dev The agent's wallet: the set one, else the owner until the wallet is detached (zero for an unknown agent).
    function _walletOf(uint256 agentId) private view returns (address) {
        WalletSlot memory s = _wallets[agentId];
        if (s.wallet != address(0) || s.detached) return s.wallet;
        return _ownerOf(agentId);
    }

    /// @dev Before the wallet slot `s` of `agentId` is replaced or cleared: a set wallet leaves a record of its
    ///      last accepted deadline and, unless it stays a signer as the agent's `owner`, of its retirement now.
    ///      Nothing for an implicit wallet (the owner) or no wallet.
    function _walletLeaves(uint256 agentId, WalletSlot memory s, address owner) private {
        if (s.wallet == address(0)) return;
        // 40 bits of unix seconds last until the year 36812.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint40 retiredAt = s.wallet == owner ? _signerRecords[agentId][s.wallet].retiredAt : uint40(block.timestamp);
        _signerRecords[agentId][s.wallet] = SignerRecord({retiredAt: retiredAt, lastDeadline: s.deadline});
    }

    /// @dev Returns the owner of `agentId`, reverting `ERC721NonexistentToken` for an unknown agent and
    ///      `IdentityUnauthorized` unless the caller is the owner or an operator.
    function _onlyOperator(uint256 agentId) private view returns (address owner) {
        owner = _requireOwned(agentId);
        if (!_isAuthorized(owner, msg.sender, agentId)) {
            revert IIdentityRegistry.IdentityUnauthorized(agentId, msg.sender);
        }
    }

    /// @dev The EIP-712 digest of an `AgentWalletSet` message for this deployment and the current chain id.
    function _hashAgentWallet(uint256 agentId, address newWallet, address owner, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline)));
    }
}
