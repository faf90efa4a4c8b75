// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {ReputationRegistry} from "../../src/erc8004/ReputationRegistry.sol";
import {ValidationRegistry} from "../../src/erc8004/ValidationRegistry.sol";
import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {IValidationRegistry} from "../../src/interfaces/erc8004/IValidationRegistry.sol";

/// @notice Shared fixture for the ERC-8004 registries: the three contracts, used only through their interfaces,
///         named actors, and EIP-712 helpers that hash and sign independently of the contracts.
abstract contract AgentTestBase is Test {
    /// @dev Hashed here rather than read from the contracts, so that a typo in either place fails the tests.
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant AGENT_WALLET_SET_TYPEHASH =
        keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "InteractionReceipt(uint256 agentId,address client,bytes32 interactionHash,address signer,uint256 issuedAt,uint256 deadline)"
    );
    /// @dev The EIP-712 domain name of the identity registry: the reference registry's, which agent0-sdk signs in.
    string internal constant IDENTITY_DOMAIN = "ERC8004IdentityRegistry";
    string internal constant REPUTATION_DOMAIN = "prova ReputationRegistry";

    string internal constant AGENT_URI = "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu";
    string internal constant MODEL_VERSION_KEY = "prova.modelVersion";
    string internal constant WALLET_KEY = "agentWallet";

    IIdentityRegistry internal identity;
    IReputationRegistry internal reputation;
    IValidationRegistry internal validation;

    /// @dev Owns agent `agent` (id 0).
    address internal alice;
    /// @dev Approved for agent `agent` alone (`approve`).
    address internal approved;
    /// @dev Approved for all of alice's agents (`setApprovalForAll`).
    address internal fleetOperator;
    address internal bob;
    address internal carol;
    address internal stranger;
    address internal validator;
    address internal wallet;
    uint256 internal walletPk;
    uint256 internal alicePk;

    uint256 internal agent;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(100);
        identity = IIdentityRegistry(address(new IdentityRegistry()));
        reputation = IReputationRegistry(address(new ReputationRegistry(address(identity))));
        validation = IValidationRegistry(address(new ValidationRegistry(address(identity))));

        (alice, alicePk) = makeAddrAndKey("alice");
        approved = makeAddr("approved");
        fleetOperator = makeAddr("fleet operator");
        bob = makeAddr("bob");
        carol = makeAddr("carol");
        stranger = makeAddr("stranger");
        validator = makeAddr("validator");
        (wallet, walletPk) = makeAddrAndKey("agent wallet");

        agent = _register(alice, AGENT_URI);
        vm.startPrank(alice);
        identity.approve(approved, agent);
        identity.setApprovalForAll(fleetOperator, true);
        vm.stopPrank();
    }

    function _register(address owner, string memory uri) internal returns (uint256 agentId) {
        vm.prank(owner);
        agentId = identity.register(uri);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-712
    // ---------------------------------------------------------------------------------------------

    function _domainSeparator(string memory name, address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), block.chainid, verifyingContract)
        );
    }

    function _walletDigest(uint256 agentId, address newWallet, address owner, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(AGENT_WALLET_SET_TYPEHASH, agentId, newWallet, owner, deadline));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(IDENTITY_DOMAIN, address(identity)), structHash));
    }

    function _signDigest(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev `pk`'s signature for setting `newWallet` on `agentId`, naming the agent's current owner.
    function _signWallet(uint256 pk, uint256 agentId, address newWallet, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        return _signDigest(pk, _walletDigest(agentId, newWallet, identity.ownerOf(agentId), deadline));
    }

    /// @dev Sets `wallet` (the fixture's key) as the wallet of `agentId`, submitted by its owner.
    function _setWallet(uint256 agentId) internal {
        _setWallet(agentId, walletPk);
    }

    /// @dev Sets the address of `pk` as the wallet of `agentId`, submitted by its owner, with a deadline 5 minutes
    ///      ahead (the longest accepted).
    function _setWallet(uint256 agentId, uint256 pk) internal {
        uint256 deadline = block.timestamp + 5 minutes;
        address newWallet = vm.addr(pk);
        bytes memory sig = _signWallet(pk, agentId, newWallet, deadline);
        vm.prank(identity.ownerOf(agentId));
        identity.setAgentWallet(agentId, newWallet, deadline, sig);
    }

    /// @dev A receipt for `client`, issued now by `signer`, usable for a day.
    function _receipt(uint256 agentId, address client, bytes32 interactionHash, address signer)
        internal
        view
        returns (IReputationRegistry.InteractionReceipt memory)
    {
        return IReputationRegistry.InteractionReceipt({
            agentId: agentId,
            client: client,
            interactionHash: interactionHash,
            signer: signer,
            issuedAt: block.timestamp,
            deadline: block.timestamp + 1 days
        });
    }

    /// @dev A receipt for `client`, issued now by the agent's current signer (its wallet, or its owner when none).
    function _receipt(uint256 agentId, address client, bytes32 interactionHash)
        internal
        view
        returns (IReputationRegistry.InteractionReceipt memory)
    {
        address signer = identity.getAgentWallet(agentId);
        if (signer == address(0)) signer = identity.ownerOf(agentId);
        return _receipt(agentId, client, interactionHash, signer);
    }

    function _receiptDigest(IReputationRegistry.InteractionReceipt memory r) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(RECEIPT_TYPEHASH, r.agentId, r.client, r.interactionHash, r.signer, r.issuedAt, r.deadline)
        );
        return
            keccak256(
                abi.encodePacked("\x19\x01", _domainSeparator(REPUTATION_DOMAIN, address(reputation)), structHash)
            );
    }

    function _signReceipt(uint256 pk, IReputationRegistry.InteractionReceipt memory r)
        internal
        view
        returns (bytes memory)
    {
        return _signDigest(pk, _receiptDigest(r));
    }

    // ---------------------------------------------------------------------------------------------
    // Feedback
    // ---------------------------------------------------------------------------------------------

    /// @dev `client` gives `agentId` feedback `value` with 0 decimals and the given tags.
    function _give(address client, uint256 agentId, int128 value, string memory tag1, string memory tag2) internal {
        _give(client, agentId, value, 0, tag1, tag2);
    }

    function _give(
        address client,
        uint256 agentId,
        int128 value,
        uint8 decimals,
        string memory tag1,
        string memory tag2
    ) internal {
        vm.prank(client);
        reputation.giveFeedback(
            agentId, value, decimals, tag1, tag2, "https://agent.example/a2a", "ipfs://fb", bytes32(0)
        );
    }

    function _addresses(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function _addresses(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }

    function _addresses(address a, address b, address c) internal pure returns (address[] memory list) {
        list = new address[](3);
        list[0] = a;
        list[1] = b;
        list[2] = c;
    }
}
