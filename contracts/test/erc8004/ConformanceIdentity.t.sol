// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Vm} from "forge-std/Vm.sol";

import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";
import {MockERC1271Wallet} from "./MockERC1271Wallet.sol";

/// @notice Conformance of the identity registry to the ERC-8004 text (ERC8004-SPEC, January 2026) and to the
///         deployed reference registry where the text is silent: one test per specified function, event or
///         behaviour, named after the sentence it checks (`test_Spec_*`). prova's deliberate differences are in
///         docs/erc8004-differences.md; where a test meets one it says so.
contract ConformanceIdentityTest is AgentTestBase {
    bytes32 internal constant TRANSFER_TOPIC = keccak256("Transfer(address,address,uint256)");
    bytes32 internal constant METADATA_SET_TOPIC = keccak256("MetadataSet(uint256,string,string,bytes)");
    bytes32 internal constant REGISTERED_TOPIC = keccak256("Registered(uint256,string,address)");

    // ---------------------------------------------------------------------------------------------
    // "The Identity Registry uses ERC-721 with the URIStorage extension"
    // ---------------------------------------------------------------------------------------------

    /// @dev "agentId: The ERC-721 tokenId assigned incrementally by the registry"; agentURI is the tokenURI.
    function test_Spec_AgentIdIsTokenIdAssignedIncrementally() public {
        IIdentityRegistry fresh = IIdentityRegistry(address(new IdentityRegistry()));
        for (uint256 i; i < 3; ++i) {
            vm.prank(bob);
            uint256 id = fresh.register(string.concat("ipfs://agent-", vm.toString(i)));
            assertEq(id, i);
            assertEq(fresh.ownerOf(id), bob);
            assertEq(fresh.tokenURI(id), string.concat("ipfs://agent-", vm.toString(i)));
        }
        assertEq(fresh.balanceOf(bob), 3);
    }

    function test_Spec_SupportsERC721Interfaces() public view {
        IERC165 nft = IERC165(address(identity));
        assertTrue(nft.supportsInterface(0x80ac58cd), "ERC-721");
        assertTrue(nft.supportsInterface(0x5b5e139f), "ERC-721 metadata");
        assertTrue(nft.supportsInterface(0x01ffc9a7), "ERC-165");
    }

    /// @dev "The owner of the ERC-721 token is the owner of the agent and can transfer ownership or delegate
    ///      management (e.g., updating the registration file) to operators".
    function test_Spec_OwnerTransfersAndDelegatesManagement() public {
        // Both kinds of ERC-721 operator manage the agent.
        vm.prank(approved);
        identity.setAgentURI(agent, "ipfs://by-approved");
        vm.prank(fleetOperator);
        identity.setMetadata(agent, "k", "v");
        // The owner transfers; the new owner manages, the old one no longer does.
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        assertEq(identity.ownerOf(agent), bob);
        vm.prank(bob);
        identity.setAgentURI(agent, "ipfs://bob");
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, alice));
        vm.prank(alice);
        identity.setAgentURI(agent, "ipfs://alice");
    }

    // ---------------------------------------------------------------------------------------------
    // Registration: "This emits one Transfer event, one MetadataSet event for the reserved agentWallet key,
    // one MetadataSet event for each additional metadata entry (if any), and Registered"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_RegisterNoArgs_Events() public {
        (uint256 id, Vm.Log[] memory logs) = _registerRaw(abi.encodeWithSignature("register()"));
        _assertRegistrationLogs(logs, id, bob, "", 0);
        assertEq(identity.tokenURI(id), "", "agentURI is added later with setAgentURI()");
        vm.prank(bob);
        identity.setAgentURI(id, "ipfs://later");
        assertEq(identity.tokenURI(id), "ipfs://later");
    }

    function test_Spec_RegisterURI_Events() public {
        (uint256 id, Vm.Log[] memory logs) =
            _registerRaw(abi.encodeWithSignature("register(string)", "https://bob.example/agent3.json"));
        _assertRegistrationLogs(logs, id, bob, "https://bob.example/agent3.json", 0);
        assertEq(identity.tokenURI(id), "https://bob.example/agent3.json");
    }

    function test_Spec_RegisterURIAndMetadata_Events() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](2);
        entries[0] = IIdentityRegistry.MetadataEntry("name", bytes("Bob's agent"));
        entries[1] = IIdentityRegistry.MetadataEntry("ens", bytes("bob.eth"));
        (uint256 id, Vm.Log[] memory logs) =
            _registerRaw(abi.encodeWithSignature("register(string,(string,bytes)[])", "data:,x", entries));
        _assertRegistrationLogs(logs, id, bob, "data:,x", 2);
        // The entries' events carry key and value, in order, after the wallet's.
        uint256 seen;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] != METADATA_SET_TOPIC) continue;
            (string memory key, bytes memory value) = abi.decode(logs[i].data, (string, bytes));
            if (seen > 0) {
                assertEq(key, entries[seen - 1].metadataKey);
                assertEq(value, entries[seen - 1].metadataValue);
                assertEq(logs[i].topics[2], keccak256(bytes(key)));
            }
            ++seen;
        }
        assertEq(identity.getMetadata(id, "name"), bytes("Bob's agent"));
        assertEq(identity.getMetadata(id, "ens"), bytes("bob.eth"));
    }

    /// @dev agentWallet "is initially set to the owner's address".
    function test_Spec_Register_WalletIsOwner() public {
        uint256 id = _register(bob, "ipfs://bob");
        assertEq(identity.getAgentWallet(id), bob);
        assertEq(identity.getMetadata(id, WALLET_KEY), abi.encodePacked(bob));
    }

    /// @dev "The key agentWallet is reserved and cannot be set via setMetadata() or during register() (including
    ///      the metadata array overload)".
    function test_Spec_AgentWalletKeyReserved() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](1);
        entries[0] = IIdentityRegistry.MetadataEntry(WALLET_KEY, abi.encodePacked(carol));
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityReservedMetadataKey.selector, WALLET_KEY));
        vm.prank(bob);
        identity.register("ipfs://bob", entries);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityReservedMetadataKey.selector, WALLET_KEY));
        vm.prank(alice);
        identity.setMetadata(agent, WALLET_KEY, abi.encodePacked(carol));
        assertEq(identity.getAgentWallet(agent), alice);
    }

    // ---------------------------------------------------------------------------------------------
    // setAgentURI: "emits a URIUpdated event"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_SetAgentURI() public {
        string memory uri = "data:application/json;base64,eyJ0eXBlIjoiaHR0cHM6Ly9laXBzLmV0aGVyZXVtLm9yZyJ9";
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.URIUpdated(agent, uri, fleetOperator);
        vm.prank(fleetOperator);
        identity.setAgentURI(agent, uri);
        assertEq(identity.tokenURI(agent), uri);
    }

    function test_Spec_SetAgentURI_RefusedToOthers() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, bob));
        vm.prank(bob);
        identity.setAgentURI(agent, "ipfs://x");
    }

    // ---------------------------------------------------------------------------------------------
    // On-chain metadata: getMetadata, setMetadata, MetadataSet
    // ---------------------------------------------------------------------------------------------

    function test_Spec_SetMetadata_EventAndGet() public {
        vm.recordLogs();
        vm.prank(alice);
        identity.setMetadata(agent, "endpoint", bytes("https://a.example"));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics.length, 3);
        assertEq(logs[0].topics[0], METADATA_SET_TOPIC);
        assertEq(logs[0].topics[1], bytes32(agent));
        assertEq(logs[0].topics[2], keccak256("endpoint"), "indexedMetadataKey: the key's hash");
        (string memory key, bytes memory value) = abi.decode(logs[0].data, (string, bytes));
        assertEq(key, "endpoint");
        assertEq(value, bytes("https://a.example"));
        assertEq(identity.getMetadata(agent, "endpoint"), bytes("https://a.example"));
        assertEq(identity.getMetadata(agent, "unset"), bytes(""));
    }

    function test_Spec_SetMetadata_RefusedToOthers() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, bob));
        vm.prank(bob);
        identity.setMetadata(agent, "k", "v");
    }

    // ---------------------------------------------------------------------------------------------
    // Agent wallet: "the agent owner must prove control of the new wallet by providing a valid EIP-712 signature
    // for EOAs or ERC-1271 for smart contract wallets"
    // ---------------------------------------------------------------------------------------------

    /// @dev The typed data agent0-sdk and the reference registry use, built from JSON by forge's own EIP-712
    ///      implementation: signed by the new wallet, accepted, and announced.
    function test_Spec_SetAgentWallet_EIP712TypedDataOfTheReference() public {
        uint256 deadline = block.timestamp + 60;
        string memory json = string.concat(
            '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},',
            '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],',
            '"AgentWalletSet":[{"name":"agentId","type":"uint256"},{"name":"newWallet","type":"address"},',
            '{"name":"owner","type":"address"},{"name":"deadline","type":"uint256"}]},',
            '"primaryType":"AgentWalletSet","domain":{"name":"ERC8004IdentityRegistry","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(address(identity)),
            '"},"message":{"agentId":"',
            string.concat(
                vm.toString(agent),
                '","newWallet":"',
                vm.toString(wallet),
                '","owner":"',
                vm.toString(alice),
                '","deadline":"',
                vm.toString(deadline),
                '"}}'
            )
        );
        bytes memory sig = _signDigest(walletPk, vm.eip712HashTypedData(json));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, abi.encodePacked(wallet));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertEq(identity.getAgentWallet(agent), wallet);
        assertEq(identity.getMetadata(agent, WALLET_KEY), abi.encodePacked(wallet));
    }

    function test_Spec_SetAgentWallet_ERC1271() public {
        MockERC1271Wallet contractWallet = new MockERC1271Wallet(wallet);
        uint256 deadline = block.timestamp + 60;
        bytes memory sig = _signWallet(walletPk, agent, address(contractWallet), deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, address(contractWallet), deadline, sig);
        assertEq(identity.getAgentWallet(agent), address(contractWallet));
    }

    /// @dev Without a valid signature of the new wallet, the wallet does not change.
    function test_Spec_SetAgentWallet_RequiresProofOfControl() public {
        uint256 deadline = block.timestamp + 60;
        bytes memory byOwner = _signWallet(alicePk, agent, wallet, deadline);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, byOwner);
        assertEq(identity.getAgentWallet(agent), alice);
    }

    /// @dev The reference's rules: a non-zero wallet, an unexpired deadline at most 5 minutes ahead, sent by the
    ///      owner or an operator.
    function test_Spec_SetAgentWallet_ReferenceChecks() public {
        vm.expectRevert(IIdentityRegistry.IdentityZeroWallet.selector);
        vm.prank(alice);
        identity.setAgentWallet(agent, address(0), block.timestamp, "");

        uint256 past = block.timestamp - 1;
        bytes memory sig = _signWallet(walletPk, agent, wallet, past);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityWalletSignatureExpired.selector, past));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, past, sig);

        uint256 far = block.timestamp + 5 minutes + 1;
        sig = _signWallet(walletPk, agent, wallet, far);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityWalletDeadlineTooFar.selector, far, far - 1));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, far, sig);

        uint256 deadline = block.timestamp + 5 minutes;
        sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, bob));
        vm.prank(bob);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        vm.prank(approved);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertEq(identity.getAgentWallet(agent), wallet);
    }

    /// @dev "To read and clear the currently set wallet": unsetAgentWallet clears it, announced with an empty value.
    function test_Spec_UnsetAgentWallet() public {
        _setWallet(agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        assertEq(identity.getAgentWallet(agent), address(0));
        assertEq(identity.getMetadata(agent, WALLET_KEY), bytes(""));
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, bob));
        vm.prank(bob);
        identity.unsetAgentWallet(agent);
    }

    /// @dev "When the agent is transferred, agentWallet is automatically cleared (effectively resetting it to the
    ///      zero address) and must be re-verified by the new owner."
    function test_Spec_Transfer_ClearsWalletAndNewOwnerReverifies() public {
        _setWallet(agent);
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory namingAlice = _signWallet(walletPk, agent, wallet, deadline);

        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        assertEq(identity.getAgentWallet(agent), address(0));
        assertEq(identity.getMetadata(agent, WALLET_KEY), bytes(""));

        // A signature naming the previous owner does not re-verify it.
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
        vm.prank(bob);
        identity.setAgentWallet(agent, wallet, deadline, namingAlice);
        // The new owner re-verifies with a signature naming it.
        vm.warp(block.timestamp + 1);
        _setWallet(agent);
        assertEq(identity.getAgentWallet(agent), wallet);
    }

    /// @dev The same for a safe transfer and for the initial wallet (the owner).
    function test_Spec_SafeTransfer_ClearsInitialWallet() public {
        vm.prank(alice);
        IdentityRegistry(address(identity)).safeTransferFrom(alice, bob, agent);
        assertEq(identity.getAgentWallet(agent), address(0));
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    function _registerRaw(bytes memory call) internal returns (uint256 id, Vm.Log[] memory logs) {
        vm.recordLogs();
        vm.prank(bob);
        (bool ok, bytes memory ret) = address(identity).call(call);
        assertTrue(ok, "register");
        logs = vm.getRecordedLogs();
        id = abi.decode(ret, (uint256));
    }

    /// @dev Exactly one Transfer (the mint), one MetadataSet for agentWallet (the owner), `extra` other
    ///      MetadataSet and one Registered, and nothing else; in the reference's order (Transfer, the wallet's
    ///      MetadataSet, Registered, then the entries).
    function _assertRegistrationLogs(Vm.Log[] memory logs, uint256 id, address owner, string memory uri, uint256 extra)
        internal
        view
    {
        assertEq(logs.length, 3 + extra);
        for (uint256 i; i < logs.length; ++i) {
            assertEq(logs[i].emitter, address(identity));
        }
        assertEq(logs[0].topics[0], TRANSFER_TOPIC);
        assertEq(logs[0].topics[1], bytes32(0));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(owner))));
        assertEq(logs[0].topics[3], bytes32(id));

        assertEq(logs[1].topics[0], METADATA_SET_TOPIC);
        assertEq(logs[1].topics[1], bytes32(id));
        assertEq(logs[1].topics[2], keccak256(bytes(WALLET_KEY)));
        (string memory key, bytes memory value) = abi.decode(logs[1].data, (string, bytes));
        assertEq(key, WALLET_KEY);
        assertEq(value, abi.encodePacked(owner));

        assertEq(logs[2].topics[0], REGISTERED_TOPIC);
        assertEq(logs[2].topics[1], bytes32(id));
        assertEq(logs[2].topics[2], bytes32(uint256(uint160(owner))));
        assertEq(abi.decode(logs[2].data, (string)), uri);

        for (uint256 i = 3; i < logs.length; ++i) {
            assertEq(logs[i].topics[0], METADATA_SET_TOPIC);
        }
    }
}
