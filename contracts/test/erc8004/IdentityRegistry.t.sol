// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {IdentityRegistry} from "../../src/erc8004/IdentityRegistry.sol";
import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";
import {MockERC1271Wallet} from "./MockERC1271Wallet.sol";

/// @notice Every function, event and error of IIdentityRegistry.
contract IdentityRegistryTest is AgentTestBase {
    bytes32 internal constant VERSION = keccak256("model version");

    // ---------------------------------------------------------------------------------------------
    // Registration
    // ---------------------------------------------------------------------------------------------

    function test_NameAndSymbol() public {
        IdentityRegistry concrete = new IdentityRegistry();
        assertEq(concrete.name(), "prova Agent");
        assertEq(concrete.symbol(), "AGENT");
    }

    function test_Register_IdsCountFromZero() public {
        IdentityRegistry fresh = new IdentityRegistry();
        IIdentityRegistry reg = IIdentityRegistry(address(fresh));
        assertEq(reg.agentCount(), 0);
        vm.prank(bob);
        assertEq(reg.register(), 0);
        vm.prank(carol);
        assertEq(reg.register("ipfs://b"), 1);
        vm.prank(bob);
        assertEq(reg.register("ipfs://c", new IIdentityRegistry.MetadataEntry[](0)), 2);
        assertEq(reg.agentCount(), 3);
        assertEq(reg.ownerOf(0), bob);
        assertEq(reg.ownerOf(1), carol);
        assertEq(reg.ownerOf(2), bob);
        assertEq(reg.balanceOf(bob), 2);
    }

    function test_Register_NoURI() public {
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Transfer(address(0), bob, 1);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(1, WALLET_KEY, WALLET_KEY, abi.encodePacked(bob));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Registered(1, "", bob);
        vm.prank(bob);
        uint256 id = identity.register();
        assertEq(id, 1);
        assertEq(identity.tokenURI(id), "");
    }

    function test_Register_WithURI() public {
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Transfer(address(0), bob, 1);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(1, WALLET_KEY, WALLET_KEY, abi.encodePacked(bob));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Registered(1, "https://bob.example/agent.json", bob);
        uint256 id = _register(bob, "https://bob.example/agent.json");
        assertEq(identity.tokenURI(id), "https://bob.example/agent.json");
        assertEq(identity.tokenURI(agent), AGENT_URI);
        assertEq(identity.getAgentWallet(id), bob, "the wallet is the owner on mint");
        assertEq(identity.getMetadata(id, WALLET_KEY), abi.encodePacked(bob));
    }

    function test_Register_WithMetadata() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](2);
        entries[0] = IIdentityRegistry.MetadataEntry(MODEL_VERSION_KEY, abi.encodePacked(VERSION));
        entries[1] = IIdentityRegistry.MetadataEntry("name", bytes("Bob's agent"));

        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(1, WALLET_KEY, WALLET_KEY, abi.encodePacked(bob));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Registered(1, "ipfs://bob", bob);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(1, MODEL_VERSION_KEY, MODEL_VERSION_KEY, abi.encodePacked(VERSION));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(1, "name", "name", bytes("Bob's agent"));
        vm.prank(bob);
        uint256 id = identity.register("ipfs://bob", entries);

        assertEq(identity.modelVersion(id), VERSION);
        assertEq(identity.getMetadata(id, MODEL_VERSION_KEY), abi.encodePacked(VERSION));
        assertEq(identity.getMetadata(id, "name"), bytes("Bob's agent"));
        assertEq(identity.getMetadata(id, "other"), bytes(""));
    }

    function test_RevertWhen_RegisterWithWalletKey() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](1);
        entries[0] = IIdentityRegistry.MetadataEntry(WALLET_KEY, abi.encodePacked(bob));
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityReservedMetadataKey.selector, WALLET_KEY));
        vm.prank(bob);
        identity.register("ipfs://bob", entries);
    }

    function test_RevertWhen_RegisterWithBadModelVersion() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](1);
        entries[0] = IIdentityRegistry.MetadataEntry(MODEL_VERSION_KEY, bytes("short"));
        vm.expectRevert(IIdentityRegistry.InvalidModelVersion.selector);
        vm.prank(bob);
        identity.register("ipfs://bob", entries);
        assertEq(identity.agentCount(), 1, "nothing registered");
    }

    function test_RevertWhen_TokenURIOfUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721NonexistentToken.selector, 7));
        identity.tokenURI(7);
    }

    // ---------------------------------------------------------------------------------------------
    // URI
    // ---------------------------------------------------------------------------------------------

    function test_SetAgentURI_ByOwnerAndOperators() public {
        address[3] memory callers = [alice, approved, fleetOperator];
        for (uint256 i; i < callers.length; ++i) {
            string memory uri = string.concat("ipfs://v", vm.toString(i));
            vm.expectEmit(address(identity));
            emit IIdentityRegistry.URIUpdated(agent, uri, callers[i]);
            vm.prank(callers[i]);
            identity.setAgentURI(agent, uri);
            assertEq(identity.tokenURI(agent), uri);
        }
    }

    function test_RevertWhen_SetAgentURIByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, stranger));
        vm.prank(stranger);
        identity.setAgentURI(agent, "ipfs://evil");
    }

    function test_RevertWhen_SetAgentURIOfUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721NonexistentToken.selector, 9));
        vm.prank(alice);
        identity.setAgentURI(9, "ipfs://x");
    }

    function test_RevokedOperatorLosesRights() public {
        vm.prank(alice);
        identity.setApprovalForAll(fleetOperator, false);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, fleetOperator));
        vm.prank(fleetOperator);
        identity.setAgentURI(agent, "ipfs://x");
    }

    // ---------------------------------------------------------------------------------------------
    // Metadata
    // ---------------------------------------------------------------------------------------------

    function test_SetMetadata_Generic() public {
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, "endpoint", "endpoint", bytes("https://a.example"));
        vm.prank(approved);
        identity.setMetadata(agent, "endpoint", bytes("https://a.example"));
        assertEq(identity.getMetadata(agent, "endpoint"), bytes("https://a.example"));

        vm.prank(fleetOperator);
        identity.setMetadata(agent, "endpoint", bytes("https://b.example"));
        assertEq(identity.getMetadata(agent, "endpoint"), bytes("https://b.example"));

        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, "endpoint", "endpoint", "");
        vm.prank(alice);
        identity.setMetadata(agent, "endpoint", "");
        assertEq(identity.getMetadata(agent, "endpoint"), bytes(""));
    }

    function testFuzz_SetMetadata_Generic(string calldata key, bytes calldata value) public {
        vm.assume(keccak256(bytes(key)) != keccak256(bytes(WALLET_KEY)));
        vm.assume(keccak256(bytes(key)) != keccak256(bytes(MODEL_VERSION_KEY)));
        vm.prank(alice);
        identity.setMetadata(agent, key, value);
        assertEq(identity.getMetadata(agent, key), value);
    }

    function test_RevertWhen_SetMetadataReservedWalletKey() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityReservedMetadataKey.selector, WALLET_KEY));
        vm.prank(alice);
        identity.setMetadata(agent, WALLET_KEY, abi.encodePacked(bob));
    }

    function test_RevertWhen_SetMetadataByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, stranger));
        vm.prank(stranger);
        identity.setMetadata(agent, "k", "v");
    }

    function test_RevertWhen_SetMetadataOfUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721NonexistentToken.selector, 5));
        vm.prank(alice);
        identity.setMetadata(5, "k", "v");
    }

    function test_ModelVersion() public {
        assertEq(identity.modelVersion(agent), bytes32(0));
        assertEq(identity.getMetadata(agent, MODEL_VERSION_KEY), bytes(""));
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, MODEL_VERSION_KEY, MODEL_VERSION_KEY, abi.encodePacked(VERSION));
        vm.prank(alice);
        identity.setMetadata(agent, MODEL_VERSION_KEY, abi.encodePacked(VERSION));
        assertEq(identity.modelVersion(agent), VERSION);
        assertEq(identity.getMetadata(agent, MODEL_VERSION_KEY), abi.encodePacked(VERSION));
    }

    function testFuzz_RevertWhen_ModelVersionNot32Bytes(bytes calldata value) public {
        vm.assume(value.length != 32);
        vm.expectRevert(IIdentityRegistry.InvalidModelVersion.selector);
        vm.prank(alice);
        identity.setMetadata(agent, MODEL_VERSION_KEY, value);
    }

    function test_RevertWhen_ModelVersionLengths() public {
        uint256[4] memory lengths = [uint256(0), 31, 33, 64];
        for (uint256 i; i < lengths.length; ++i) {
            vm.expectRevert(IIdentityRegistry.InvalidModelVersion.selector);
            vm.prank(alice);
            identity.setMetadata(agent, MODEL_VERSION_KEY, new bytes(lengths[i]));
        }
    }

    function test_RevertWhen_ModelVersionZero() public {
        vm.expectRevert(IIdentityRegistry.InvalidModelVersion.selector);
        vm.prank(alice);
        identity.setMetadata(agent, MODEL_VERSION_KEY, abi.encodePacked(bytes32(0)));
    }

    function test_Views_UnknownAgent() public view {
        assertEq(identity.getMetadata(42, "k"), bytes(""));
        assertEq(identity.getMetadata(42, WALLET_KEY), bytes(""));
        assertEq(identity.getAgentWallet(42), address(0));
        assertEq(identity.modelVersion(42), bytes32(0));
    }

    // ---------------------------------------------------------------------------------------------
    // Agent wallet
    // ---------------------------------------------------------------------------------------------

    function test_SetAgentWallet_EOA() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, abi.encodePacked(wallet));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertEq(identity.getAgentWallet(agent), wallet);
        assertEq(identity.getMetadata(agent, WALLET_KEY), abi.encodePacked(wallet));
    }

    function test_SetAgentWallet_ByOperatorsAtDeadline() public {
        address[2] memory callers = [approved, fleetOperator];
        for (uint256 i; i < callers.length; ++i) {
            // The signature names the owner, not the operator that submits it. Each is a new signature with a later
            // deadline (a signature takes effect once).
            vm.warp(block.timestamp + 1);
            bytes memory sig = _signWallet(walletPk, agent, wallet, block.timestamp);
            vm.prank(callers[i]);
            identity.setAgentWallet(agent, wallet, block.timestamp, sig);
            assertEq(identity.getAgentWallet(agent), wallet);
        }
    }

    function test_SetAgentWallet_DeadlineFiveMinutesAhead() public {
        uint256 deadline = block.timestamp + 300;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertEq(identity.getAgentWallet(agent), wallet);
    }

    function testFuzz_RevertWhen_WalletDeadlineTooFar(uint256 deadline) public {
        deadline = bound(deadline, block.timestamp + 301, type(uint256).max);
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityWalletDeadlineTooFar.selector, deadline, block.timestamp + 300
            )
        );
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    /// @dev A signature takes effect once: not again while its wallet is set, and an older one of the same wallet
    ///      is stale once a later one was used.
    function test_RevertWhen_WalletSignatureReusedOrStale() public {
        uint256 early = block.timestamp + 100;
        uint256 late = block.timestamp + 200;
        bytes memory sigEarly = _signWallet(walletPk, agent, wallet, early);
        bytes memory sigLate = _signWallet(walletPk, agent, wallet, late);
        vm.startPrank(alice);
        identity.setAgentWallet(agent, wallet, late, sigLate);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityWalletSignatureReplayed.selector, wallet, late, late)
        );
        identity.setAgentWallet(agent, wallet, late, sigLate);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityWalletSignatureReplayed.selector, wallet, early, late)
        );
        identity.setAgentWallet(agent, wallet, early, sigEarly);
        vm.stopPrank();
    }

    /// @dev The replay guard is per agent: the same wallet can serve two agents, each with its own signature.
    function test_SetAgentWallet_SameWalletForTwoAgents() public {
        uint256 other = _register(alice, "ipfs://other");
        _setWallet(agent);
        _setWallet(other);
        assertEq(identity.getAgentWallet(agent), wallet);
        assertEq(identity.getAgentWallet(other), wallet);
    }

    function test_SetAgentWallet_ERC1271() public {
        MockERC1271Wallet contractWallet = new MockERC1271Wallet(wallet);
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, address(contractWallet), deadline);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, abi.encodePacked(address(contractWallet)));
        vm.prank(alice);
        identity.setAgentWallet(agent, address(contractWallet), deadline, sig);
        assertEq(identity.getAgentWallet(agent), address(contractWallet));
    }

    function test_RevertWhen_ERC1271WalletRejects() public {
        MockERC1271Wallet contractWallet = new MockERC1271Wallet(wallet);
        contractWallet.setRejectAll(true);
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, address(contractWallet), deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, address(contractWallet))
        );
        vm.prank(alice);
        identity.setAgentWallet(agent, address(contractWallet), deadline, sig);
    }

    function test_RevertWhen_WalletSignatureExpired() public {
        uint256 deadline = block.timestamp - 1;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityWalletSignatureExpired.selector, deadline));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    function test_RevertWhen_WalletSignedByAnotherKey() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(alicePk, agent, wallet, deadline);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    function test_RevertWhen_WalletSignatureForOtherFields() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes[3] memory sigs = [
            _signDigest(walletPk, _walletDigest(agent + 1, wallet, alice, deadline)),
            _signDigest(walletPk, _walletDigest(agent, wallet, alice, deadline + 1)),
            _signDigest(walletPk, _walletDigest(agent, wallet, bob, deadline))
        ];
        for (uint256 i; i < sigs.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
            vm.prank(alice);
            identity.setAgentWallet(agent, wallet, deadline, sigs[i]);
        }
    }

    function test_RevertWhen_WalletSignatureMalformed() public {
        uint256 deadline = block.timestamp + 5 minutes;
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, new bytes(64));
    }

    /// @dev The signature names the owner, so it dies when the agent changes hands.
    function test_RevertWhen_WalletSignatureFromBeforeTransfer() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidWalletSignature.selector, wallet));
        vm.prank(bob);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    function test_RevertWhen_SetZeroWallet() public {
        vm.expectRevert(IIdentityRegistry.IdentityZeroWallet.selector);
        vm.prank(alice);
        identity.setAgentWallet(agent, address(0), block.timestamp, "");
    }

    function test_RevertWhen_SetAgentWalletByStranger() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, stranger));
        vm.prank(stranger);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    function test_RevertWhen_SetAgentWalletOfUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721NonexistentToken.selector, 3));
        vm.prank(alice);
        identity.setAgentWallet(3, wallet, block.timestamp, "");
    }

    function test_UnsetAgentWallet_Initial() public {
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        assertEq(identity.getAgentWallet(agent), address(0), "the owner is no longer the wallet");
        assertEq(identity.getMetadata(agent, WALLET_KEY), bytes(""));
        // Unsetting again still announces it.
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
    }

    function test_UnsetAgentWallet() public {
        _setWallet(agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(fleetOperator);
        identity.unsetAgentWallet(agent);
        assertEq(identity.getAgentWallet(agent), address(0));
        assertEq(identity.getMetadata(agent, WALLET_KEY), bytes(""));
    }

    function test_RevertWhen_UnsetAgentWalletByStranger() public {
        _setWallet(agent);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, stranger));
        vm.prank(stranger);
        identity.unsetAgentWallet(agent);
    }

    function test_Transfer_ClearsWallet() public {
        _setWallet(agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Transfer(alice, bob, agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        assertEq(identity.getAgentWallet(agent), address(0));
        assertEq(identity.ownerOf(agent), bob);
    }

    function test_SafeTransfer_ClearsWallet() public {
        _setWallet(agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        IdentityRegistry(address(identity)).safeTransferFrom(alice, bob, agent);
        assertEq(identity.getAgentWallet(agent), address(0));
    }

    /// @dev The initial wallet is the owner; a transfer clears it like any other.
    function test_Transfer_ClearsInitialWallet() public {
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.Transfer(alice, bob, agent);
        vm.expectEmit(address(identity));
        emit IIdentityRegistry.MetadataSet(agent, WALLET_KEY, WALLET_KEY, "");
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        assertEq(identity.getAgentWallet(agent), address(0), "not bob: the new owner re-verifies");
        assertEq(identity.getMetadata(agent, WALLET_KEY), bytes(""));
    }

    function test_Transfer_WithoutWalletEmitsOnlyTransfer() public {
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        vm.recordLogs();
        vm.prank(fleetOperator);
        identity.transferFrom(alice, bob, agent);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], IIdentityRegistry.Transfer.selector);
    }

    function test_Transfer_MovesOperatorRights() public {
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        assertFalse(identity.isAuthorizedOrOwner(alice, agent));
        assertFalse(identity.isAuthorizedOrOwner(approved, agent), "approval cleared by the transfer");
        assertFalse(identity.isAuthorizedOrOwner(fleetOperator, agent), "alice's operator");
        assertTrue(identity.isAuthorizedOrOwner(bob, agent));
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityUnauthorized.selector, agent, alice));
        vm.prank(alice);
        identity.setAgentURI(agent, "ipfs://x");
    }

    function test_RevertWhen_TransferByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721InsufficientApproval.selector, stranger, agent));
        vm.prank(stranger);
        identity.transferFrom(alice, stranger, agent);
    }

    // ---------------------------------------------------------------------------------------------
    // Extensions
    // ---------------------------------------------------------------------------------------------

    function test_IsAuthorizedOrOwner() public {
        assertTrue(identity.isAuthorizedOrOwner(alice, agent));
        assertTrue(identity.isAuthorizedOrOwner(approved, agent));
        assertTrue(identity.isAuthorizedOrOwner(fleetOperator, agent));
        assertFalse(identity.isAuthorizedOrOwner(stranger, agent));
        assertFalse(identity.isAuthorizedOrOwner(address(0), agent));
        assertEq(identity.getApproved(agent), approved);
        assertTrue(identity.isApprovedForAll(alice, fleetOperator));
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.ERC721NonexistentToken.selector, 99));
        identity.isAuthorizedOrOwner(alice, 99);
    }

    function test_DomainSeparator() public view {
        assertEq(identity.domainSeparator(), _domainSeparator(IDENTITY_DOMAIN, address(identity)));
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            IdentityRegistry(address(identity)).eip712Domain();
        assertEq(name, "ERC8004IdentityRegistry");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(identity));
        assertEq(IdentityRegistry(address(identity)).AGENT_WALLET_SET_TYPEHASH(), AGENT_WALLET_SET_TYPEHASH);
        assertEq(
            AGENT_WALLET_SET_TYPEHASH,
            vm.eip712HashType("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)")
        );
    }

    /// @dev Cross-checks the digest against forge's own EIP-712 implementation, fed with JSON typed data.
    function test_HashAgentWallet_MatchesTypedDataJson() public view {
        string memory json = string.concat(
            '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},',
            '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],',
            '"AgentWalletSet":[{"name":"agentId","type":"uint256"},{"name":"newWallet","type":"address"},',
            '{"name":"owner","type":"address"},{"name":"deadline","type":"uint256"}]},',
            '"primaryType":"AgentWalletSet","domain":{"name":"ERC8004IdentityRegistry","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(address(identity)),
            '"},"message":{"agentId":"7","newWallet":"',
            vm.toString(wallet),
            '","owner":"',
            vm.toString(alice),
            '","deadline":"1700003600"}}'
        );
        bytes32 expected = vm.eip712HashTypedData(json);
        assertEq(_walletDigest(7, wallet, alice, 1_700_003_600), expected);
        assertEq(identity.hashAgentWallet(7, wallet, alice, 1_700_003_600), expected);
    }

    function testFuzz_HashAgentWallet(uint256 agentId, address newWallet, address owner, uint256 deadline) public view {
        assertEq(
            identity.hashAgentWallet(agentId, newWallet, owner, deadline),
            _walletDigest(agentId, newWallet, owner, deadline)
        );
    }
}
