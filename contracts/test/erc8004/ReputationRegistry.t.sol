// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ReputationRegistry} from "../../src/erc8004/ReputationRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice Feedback, revocation, responses and the standard views of IReputationRegistry (receipts and pagination
///         have their own suites).
contract ReputationRegistryTest is AgentTestBase {
    address internal dave;

    function setUp() public override {
        super.setUp();
        dave = makeAddr("dave");
    }

    // ---------------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------------

    function test_GetIdentityRegistry() public view {
        assertEq(reputation.getIdentityRegistry(), address(identity));
    }

    function test_RevertWhen_IdentityRegistryHasNoCode() public {
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReputationInvalidIdentityRegistry.selector, stranger)
        );
        new ReputationRegistry(stranger);
    }

    // ---------------------------------------------------------------------------------------------
    // giveFeedback
    // ---------------------------------------------------------------------------------------------

    function test_GiveFeedback_EmitsAndStores() public {
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.NewFeedback(
            agent,
            bob,
            1,
            87,
            0,
            "quality",
            "quality",
            "chat",
            "https://agent.example/a2a",
            "ipfs://fb",
            keccak256("fb")
        );
        vm.prank(bob);
        reputation.giveFeedback(
            agent, 87, 0, "quality", "chat", "https://agent.example/a2a", "ipfs://fb", keccak256("fb")
        );

        (int128 value, uint8 decimals, string memory tag1, string memory tag2, bool revoked) =
            reputation.readFeedback(agent, bob, 1);
        assertEq(value, 87);
        assertEq(decimals, 0);
        assertEq(tag1, "quality");
        assertEq(tag2, "chat");
        assertFalse(revoked);
        assertEq(reputation.getLastIndex(agent, bob), 1);
        assertEq(reputation.getClients(agent), _addresses(bob));
        assertFalse(reputation.isVerified(agent, bob, 1));
    }

    /// @dev The indexed tag's topic is the keccak256 of the tag.
    function test_GiveFeedback_IndexedTagTopic() public {
        vm.recordLogs();
        _give(bob, agent, 1, "uptime", "");
        bytes32[] memory topics = vm.getRecordedLogs()[0].topics;
        assertEq(topics.length, 4);
        assertEq(topics[0], IReputationRegistry.NewFeedback.selector);
        assertEq(topics[1], bytes32(agent));
        assertEq(topics[2], bytes32(uint256(uint160(bob))));
        assertEq(topics[3], keccak256("uptime"));
    }

    function testFuzz_GiveFeedback(int128 value, uint8 decimals, string calldata tag1, string calldata tag2) public {
        // Within ±1e38, so the casts are exact.
        // forge-lint: disable-next-line(unsafe-typecast)
        value = int128(bound(value, -1e38, 1e38));
        decimals = uint8(bound(decimals, 0, 18));
        _give(bob, agent, value, decimals, tag1, tag2);
        (int128 v, uint8 d, string memory t1, string memory t2, bool revoked) = reputation.readFeedback(agent, bob, 1);
        assertEq(v, value);
        assertEq(d, decimals);
        assertEq(t1, tag1);
        assertEq(t2, tag2);
        assertFalse(revoked);
    }

    function testFuzz_RevertWhen_DecimalsAbove18(uint8 decimals) public {
        decimals = uint8(bound(decimals, 19, 255));
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationInvalidValueDecimals.selector, decimals));
        _give(bob, agent, 1, decimals, "", "");
    }

    function test_GiveFeedback_ValueBounds() public {
        _give(bob, agent, 1e38, "", "");
        _give(bob, agent, -1e38, "", "");
        (int128 value,,,,) = reputation.readFeedback(agent, bob, 2);
        assertEq(value, -1e38);
    }

    function testFuzz_RevertWhen_ValueOutOfRange(int128 value, bool negative) public {
        // forge-lint: disable-next-line(unsafe-typecast)
        value = int128(bound(value, 1e38 + 1, type(int128).max));
        if (negative) value = value == type(int128).max ? type(int128).min : -value;
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationValueOutOfRange.selector, value));
        _give(bob, agent, value, "", "");
    }

    /// @dev The agent's wallet is on the agent's side too, like its owner and operators.
    function test_RevertWhen_WalletGivesFeedback() public {
        _setWallet(agent);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, wallet));
        _give(wallet, agent, 100, "", "");
        // Once it is no longer the wallet, it is an ordinary client.
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        _give(wallet, agent, 100, "", "");
    }

    function test_RevertWhen_UnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownAgent.selector, 5));
        _give(bob, 5, 1, "", "");
    }

    function test_RevertWhen_OwnerOrOperatorGivesFeedback() public {
        address[3] memory insiders = [alice, approved, fleetOperator];
        for (uint256 i; i < insiders.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, insiders[i])
            );
            _give(insiders[i], agent, 100, "", "");
        }
    }

    /// @dev Rights follow the token: after a transfer the former owner is an ordinary client.
    function test_FormerOwnerMayGiveFeedback() public {
        vm.prank(alice);
        identity.transferFrom(alice, bob, agent);
        _give(alice, agent, 10, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, bob));
        _give(bob, agent, 10, "", "");
    }

    function test_FeedbackIndex_CountsPerAgentAndClient() public {
        uint256 other = _register(carol, "ipfs://other");
        _give(bob, agent, 1, "", "");
        _give(bob, agent, 2, "", "");
        _give(carol, agent, 3, "", "");
        _give(bob, other, 4, "", "");
        _give(bob, agent, 5, "", "");
        assertEq(reputation.getLastIndex(agent, bob), 3);
        assertEq(reputation.getLastIndex(agent, carol), 1);
        assertEq(reputation.getLastIndex(other, bob), 1);
        assertEq(reputation.getLastIndex(other, carol), 0);
        assertEq(reputation.getClients(agent), _addresses(bob, carol), "once each, in order of first feedback");
        assertEq(reputation.getClients(other), _addresses(bob));
        (int128 value,,,,) = reputation.readFeedback(agent, bob, 3);
        assertEq(value, 5);
    }

    // ---------------------------------------------------------------------------------------------
    // revokeFeedback
    // ---------------------------------------------------------------------------------------------

    function test_RevokeFeedback() public {
        _give(bob, agent, 1, "", "");
        _give(bob, agent, 2, "", "");
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.FeedbackRevoked(agent, bob, 1);
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
        (,,,, bool revoked) = reputation.readFeedback(agent, bob, 1);
        assertTrue(revoked);
        (,,,, revoked) = reputation.readFeedback(agent, bob, 2);
        assertFalse(revoked);
        // Entry 1 also carries the client's last index: revoking it must not disturb the count.
        assertEq(reputation.getLastIndex(agent, bob), 2);
        _give(bob, agent, 3, "", "");
        assertEq(reputation.getLastIndex(agent, bob), 3);
    }

    function test_RevertWhen_RevokeTwice() public {
        _give(bob, agent, 1, "", "");
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReputationFeedbackAlreadyRevoked.selector, agent, bob, 1)
        );
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
    }

    function test_RevertWhen_RevokeMissingIndex() public {
        _give(bob, agent, 1, "", "");
        uint64[2] memory indexes = [uint64(0), 2];
        for (uint256 i; i < indexes.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, indexes[i])
            );
            vm.prank(bob);
            reputation.revokeFeedback(agent, indexes[i]);
        }
    }

    /// @dev Only the client that gave a feedback can revoke it: another caller addresses its own (missing) entry.
    function test_RevertWhen_RevokeOthersFeedback() public {
        _give(bob, agent, 1, "", "");
        address[2] memory others = [alice, carol];
        for (uint256 i; i < others.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, others[i], 1)
            );
            vm.prank(others[i]);
            reputation.revokeFeedback(agent, 1);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Responses
    // ---------------------------------------------------------------------------------------------

    function test_AppendResponse_AndCounts() public {
        _give(bob, agent, 1, "", "");
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.ResponseAppended(agent, bob, 1, alice, "ipfs://reply", keccak256("reply"));
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "ipfs://reply", keccak256("reply"));
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "ipfs://reply2", bytes32(0));
        vm.prank(carol);
        reputation.appendResponse(agent, bob, 1, "ipfs://audit", bytes32(0));

        address[] memory none = new address[](0);
        assertEq(reputation.getResponseCount(agent, bob, 1, none), 3, "anyone");
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(alice)), 2);
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(carol)), 1);
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(dave)), 0);
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(alice, carol)), 3);
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(alice, alice)), 4, "duplicates count again");
        // Other feedback, or feedback that does not exist, has none.
        assertEq(reputation.getResponseCount(agent, bob, 2, none), 0);
        assertEq(reputation.getResponseCount(agent, carol, 1, _addresses(alice)), 0);
        // Responses share the slot that holds the client's last index.
        assertEq(reputation.getLastIndex(agent, bob), 1);
    }

    function test_AppendResponse_ToRevokedFeedback() public {
        _give(bob, agent, 1, "", "");
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "ipfs://reply", bytes32(0));
        assertEq(reputation.getResponseCount(agent, bob, 1, new address[](0)), 1);
    }

    function test_RevertWhen_AppendResponseToMissingFeedback() public {
        _give(bob, agent, 1, "", "");
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 0));
        reputation.appendResponse(agent, bob, 0, "ipfs://r", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 2));
        reputation.appendResponse(agent, bob, 2, "ipfs://r", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, carol, 1));
        reputation.appendResponse(agent, carol, 1, "ipfs://r", bytes32(0));
        vm.stopPrank();
    }

    function test_RevertWhen_AppendResponseWithEmptyURI() public {
        _give(bob, agent, 1, "", "");
        vm.expectRevert(IReputationRegistry.ReputationEmptyResponseURI.selector);
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "", keccak256("reply"));
    }

    /// @dev Only agentId is mandatory: a zero client counts every response to every client's feedback (the index is
    ///      then ignored, as in the reference), a zero index every response to that client's feedback.
    function test_GetResponseCount_Wildcards() public {
        _give(bob, agent, 1, "", "");
        _give(bob, agent, 2, "", "");
        _give(carol, agent, 3, "", "");
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "ipfs://a", bytes32(0));
        vm.prank(dave);
        reputation.appendResponse(agent, bob, 2, "ipfs://b", bytes32(0));
        vm.prank(alice);
        reputation.appendResponse(agent, carol, 1, "ipfs://c", bytes32(0));
        vm.prank(alice);
        reputation.appendResponse(agent, carol, 1, "ipfs://d", bytes32(0));
        vm.prank(bob);
        reputation.revokeFeedback(agent, 2);

        address[] memory none = new address[](0);
        assertEq(reputation.getResponseCount(agent, address(0), 0, none), 4, "everything, revoked feedback included");
        assertEq(reputation.getResponseCount(agent, address(0), 7, none), 4, "the index is ignored without a client");
        assertEq(reputation.getResponseCount(agent, address(0), 0, _addresses(alice)), 3);
        assertEq(reputation.getResponseCount(agent, address(0), 0, _addresses(dave, stranger)), 1);
        assertEq(reputation.getResponseCount(agent, bob, 0, none), 2);
        assertEq(reputation.getResponseCount(agent, bob, 0, _addresses(alice)), 1);
        assertEq(reputation.getResponseCount(agent, carol, 0, none), 2);
        assertEq(reputation.getResponseCount(agent, dave, 0, none), 0, "a client with no feedback");
        assertEq(reputation.getResponseCount(agent, bob, 2, none), 1);
        assertEq(reputation.getResponseCount(agent + 1, address(0), 0, none), 0, "another agent");
    }

    // ---------------------------------------------------------------------------------------------
    // readFeedback / readAllFeedback
    // ---------------------------------------------------------------------------------------------

    function test_RevertWhen_ReadMissingFeedback() public {
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 1));
        reputation.readFeedback(agent, bob, 1);
        _give(bob, agent, 1, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 0));
        reputation.readFeedback(agent, bob, 0);
    }

    function test_ReadAllFeedback() public {
        _give(bob, agent, 10, "a", "x");
        _give(carol, agent, 20, "b", "x");
        _give(bob, agent, 30, "a", "y");
        _give(dave, agent, 40, "", "");
        vm.prank(bob);
        reputation.revokeFeedback(agent, 2);

        // All clients (empty list), in getClients order then index order; revoked excluded.
        (
            address[] memory clients,
            uint64[] memory indexes,
            int128[] memory values,
            uint8[] memory decimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revoked
        ) = reputation.readAllFeedback(agent, new address[](0), "", "", false);
        assertEq(clients, _addresses(bob, carol, dave));
        assertEq(indexes.length, 3);
        assertEq(indexes[0], 1);
        assertEq(indexes[1], 1);
        assertEq(indexes[2], 1);
        assertEq(values[0], 10);
        assertEq(values[1], 20);
        assertEq(values[2], 40);
        assertEq(decimals[0], 0);
        assertEq(tag1s[1], "b");
        assertEq(tag2s[0], "x");
        assertFalse(revoked[0]);

        // Revoked included.
        (clients, indexes, values,,,, revoked) = reputation.readAllFeedback(agent, new address[](0), "", "", true);
        assertEq(clients.length, 4);
        assertEq(clients[1], bob);
        assertEq(indexes[1], 2);
        assertEq(values[1], 30);
        assertTrue(revoked[1]);

        // Tag filters.
        (clients,, values,,,,) = reputation.readAllFeedback(agent, new address[](0), "a", "", true);
        assertEq(clients, _addresses(bob, bob));
        (clients,, values,,,,) = reputation.readAllFeedback(agent, new address[](0), "", "x", true);
        assertEq(clients, _addresses(bob, carol));
        (clients,, values,,,,) = reputation.readAllFeedback(agent, new address[](0), "a", "y", true);
        assertEq(clients, _addresses(bob));
        assertEq(values[0], 30);
        (clients,,,,,,) = reputation.readAllFeedback(agent, new address[](0), "zzz", "", true);
        assertEq(clients.length, 0);

        // Given clients, in the order given, duplicates repeated; unknown clients contribute nothing.
        (clients,, values,,,,) = reputation.readAllFeedback(agent, _addresses(dave, stranger, dave), "", "", false);
        assertEq(clients, _addresses(dave, dave));
    }

    // ---------------------------------------------------------------------------------------------
    // getSummary
    // ---------------------------------------------------------------------------------------------

    function test_RevertWhen_SummaryWithoutClients() public {
        vm.expectRevert(IReputationRegistry.ReputationEmptyClients.selector);
        reputation.getSummary(agent, new address[](0), "", "");
    }

    function test_GetSummary_Average() public {
        _give(bob, agent, 80, "", "");
        _give(carol, agent, 91, "", "");
        (uint64 count, int128 value, uint8 decimals) = reputation.getSummary(agent, _addresses(bob, carol), "", "");
        assertEq(count, 2);
        assertEq(value, 85, "85.5 truncated");
        assertEq(decimals, 0);
    }

    function test_GetSummary_NoMatches() public {
        (uint64 count, int128 value, uint8 decimals) = reputation.getSummary(agent, _addresses(bob), "", "");
        assertEq(count, 0);
        assertEq(value, 0);
        assertEq(decimals, 0);
        _give(bob, agent, 5, 3, "a", "");
        (count, value, decimals) = reputation.getSummary(agent, _addresses(bob), "b", "");
        assertEq(count, 0);
        assertEq(value, 0);
        assertEq(decimals, 0);
    }

    function test_GetSummary_SkipsRevokedAndFiltersTags() public {
        _give(bob, agent, 100, "a", "x");
        _give(bob, agent, 50, "a", "y");
        _give(carol, agent, 10, "b", "x");
        _give(carol, agent, 0, "a", "x");
        vm.prank(carol);
        reputation.revokeFeedback(agent, 2);
        address[] memory both = _addresses(bob, carol);

        (uint64 count, int128 value,) = reputation.getSummary(agent, both, "", "");
        assertEq(count, 3);
        assertEq(value, 53, "(100 + 50 + 10) / 3");
        (count, value,) = reputation.getSummary(agent, both, "a", "");
        assertEq(count, 2);
        assertEq(value, 75);
        (count, value,) = reputation.getSummary(agent, both, "", "x");
        assertEq(count, 2);
        assertEq(value, 55);
        (count, value,) = reputation.getSummary(agent, both, "a", "x");
        assertEq(count, 1);
        assertEq(value, 100);
        // A duplicate client counts twice.
        (count, value,) = reputation.getSummary(agent, _addresses(bob, bob, carol), "", "");
        assertEq(count, 5);
        assertEq(value, 62, "(2 * 150 + 10) / 5");
    }

    function test_GetSummary_ModeTieTakesSmallestDecimals() public {
        _give(bob, agent, 15, 1, "", ""); // 1.5
        _give(bob, agent, 250, 2, "", ""); // 2.50
        // Tie between 1 and 2 decimals: 1 wins. Average of 1.5 and 2.5 is 2.0, reported with 1 decimal.
        (uint64 count, int128 value, uint8 decimals) = reputation.getSummary(agent, _addresses(bob), "", "");
        assertEq(count, 2);
        assertEq(decimals, 1);
        assertEq(value, 20);

        _give(carol, agent, 3125, 3, "", ""); // 3.125
        _give(carol, agent, 1, 3, "", ""); // 0.001
        // Now 3 decimals has two entries, the others one each: mode 3.
        // Sum = 1.5 + 2.5 + 3.125 + 0.001 = 7.126; avg = 1.7815 -> 1.781 in 3 decimals (truncated).
        (count, value, decimals) = reputation.getSummary(agent, _addresses(bob, carol), "", "");
        assertEq(count, 4);
        assertEq(decimals, 3);
        assertEq(value, 1781);
    }

    function test_GetSummary_TruncatesTowardZero() public {
        _give(bob, agent, -7, "", "");
        _give(carol, agent, -8, "", "");
        (, int128 value,) = reputation.getSummary(agent, _addresses(bob, carol), "", "");
        assertEq(value, -7, "-7.5 truncates to -7");

        _give(bob, agent, 1, 18, "", ""); // 1e-18
        _give(carol, agent, -2, 18, "", ""); // -2e-18
        // Mode: 0 and 18 decimals have two entries each, so 0. Avg = (-15e18 - 1) / 4, truncated twice toward zero.
        (, value,) = reputation.getSummary(agent, _addresses(bob, carol), "", "");
        assertEq(value, -3);
    }

    /// @dev Random feedback (values of every magnitude, all decimals, a few tags, some revoked), then a random
    ///      query, compared with a plain re-computation of the documented semantics from the test's own records.
    function testFuzz_GetSummary_MatchesReference(uint256 seed, uint8 entryCount, uint8 querySel, uint8 tagSel) public {
        Given[] memory given = _giveRandom(seed, bound(entryCount, 0, 14));
        address[] memory query = _query(querySel);
        string[3] memory tag1Options = ["", "a", "b"];
        string[3] memory tag2Options = ["", "x", "zz"];
        string memory tag1 = tag1Options[tagSel % 3];
        string memory tag2 = tag2Options[(tagSel / 3) % 3];

        if (query.length == 0) {
            vm.expectRevert(IReputationRegistry.ReputationEmptyClients.selector);
            reputation.getSummary(agent, query, tag1, tag2);
            return;
        }
        (uint64 count, int128 value, uint8 decimals) = reputation.getSummary(agent, query, tag1, tag2);
        (uint64 refCount, int128 refValue, uint8 refDecimals) = _referenceSummary(given, query, tag1, tag2);
        assertEq(count, refCount, "count");
        assertEq(value, refValue, "summaryValue");
        assertEq(decimals, refDecimals, "summaryValueDecimals");
    }

    struct Given {
        address client;
        int128 value;
        uint8 decimals;
        string tag1;
        string tag2;
        bool revoked;
    }

    function _clientOf(uint256 i) internal view returns (address) {
        return i == 0 ? bob : i == 1 ? carol : dave;
    }

    function _giveRandom(uint256 seed, uint256 n) internal returns (Given[] memory given) {
        given = new Given[](n);
        string[3] memory tag1Options = ["", "a", "b"];
        string[2] memory tag2Options = ["", "x"];
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            Given memory g = given[i];
            g.client = _clientOf(r % 3);
            // Any magnitude: a random 128-bit value shifted right by 0..127 bits, halved if beyond ±1e38.
            // forge-lint: disable-next-line(unsafe-typecast)
            g.value = int128(uint128(r >> 64)) >> ((r >> 8) % 128);
            if (g.value > 1e38 || g.value < -1e38) g.value /= 2;
            g.decimals = uint8((r >> 16) % 19);
            g.tag1 = tag1Options[(r >> 24) % 3];
            g.tag2 = tag2Options[(r >> 32) % 2];
            g.revoked = (r >> 40) % 4 == 0;
            _give(g.client, agent, g.value, g.decimals, g.tag1, g.tag2);
            if (g.revoked) {
                uint64 index = reputation.getLastIndex(agent, g.client);
                vm.prank(g.client);
                reputation.revokeFeedback(agent, index);
            }
        }
    }

    /// @dev A client list from the selector: 0 to 4 entries over bob, carol, dave and a stranger, with duplicates.
    function _query(uint8 sel) internal view returns (address[] memory query) {
        uint256 len = sel % 5;
        query = new address[](len);
        for (uint256 i; i < len; ++i) {
            uint256 pick = (uint256(sel) / 5 + i * 7) % 4;
            query[i] = pick == 3 ? stranger : _clientOf(pick);
        }
    }

    /// @dev The documented semantics, written out plainly over the test's own records of what was given.
    function _referenceSummary(Given[] memory given, address[] memory query, string memory tag1, string memory tag2)
        internal
        pure
        returns (uint64 count, int128 value, uint8 mode)
    {
        int256 sum;
        uint256[19] memory perDecimals;
        for (uint256 q; q < query.length; ++q) {
            for (uint256 i; i < given.length; ++i) {
                Given memory g = given[i];
                if (g.client != query[q] || g.revoked) continue;
                if (bytes(tag1).length != 0 && keccak256(bytes(g.tag1)) != keccak256(bytes(tag1))) continue;
                if (bytes(tag2).length != 0 && keccak256(bytes(g.tag2)) != keccak256(bytes(tag2))) continue;
                sum += int256(g.value) * int256(10 ** (18 - uint256(g.decimals)));
                count++;
                perDecimals[g.decimals]++;
            }
        }
        if (count == 0) return (0, 0, 0);
        for (uint8 d = 1; d < 19; ++d) {
            if (perDecimals[d] > perDecimals[mode]) mode = d;
        }
        int256 avg = sum / int256(uint256(count));
        int256 scaled = avg / int256(10 ** (18 - uint256(mode)));
        if (scaled > type(int128).max) return (count, type(int128).max, mode);
        if (scaled < type(int128).min) return (count, type(int128).min, mode);
        // forge-lint: disable-next-line(unsafe-typecast)
        value = int128(scaled);
    }
}
