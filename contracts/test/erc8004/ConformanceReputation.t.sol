// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice Conformance of the reputation registry to the ERC-8004 text (ERC8004-SPEC, January 2026) and to the
///         deployed reference registry where the text is silent: one test per specified function, event or
///         behaviour (`test_Spec_*`). prova's deliberate differences are in docs/erc8004-differences.md.
contract ConformanceReputationTest is AgentTestBase {
    bytes32 internal constant NEW_FEEDBACK_TOPIC =
        keccak256("NewFeedback(uint256,address,uint64,int128,uint8,string,string,string,string,string,bytes32)");

    address internal dave;

    function setUp() public override {
        super.setUp();
        dave = makeAddr("dave");
    }

    // ---------------------------------------------------------------------------------------------
    // getIdentityRegistry
    // ---------------------------------------------------------------------------------------------

    function test_Spec_GetIdentityRegistry() public view {
        assertEq(reputation.getIdentityRegistry(), address(identity));
    }

    // ---------------------------------------------------------------------------------------------
    // giveFeedback
    // ---------------------------------------------------------------------------------------------

    /// @dev "If the procedure succeeds, an event is emitted": NewFeedback with every argument, indexedTag1 as the
    ///      tag's hash; "value, valueDecimals, tag1, tag2, and isRevoked are stored ... along with the
    ///      feedbackIndex (a 1-indexed counter)"; endpoint, feedbackURI and feedbackHash are emitted.
    function test_Spec_GiveFeedback_EventAndStorage() public {
        vm.recordLogs();
        vm.prank(bob);
        reputation.giveFeedback(agent, 9977, 2, "uptime", "day", "https://a.example/mcp", "ipfs://f", keccak256("f"));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], NEW_FEEDBACK_TOPIC);
        assertEq(logs[0].topics[1], bytes32(agent));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(bob))));
        assertEq(logs[0].topics[3], keccak256("uptime"));
        (
            uint64 index,
            int128 value,
            uint8 decimals,
            string memory tag1,
            string memory tag2,
            string memory endpoint,
            string memory uri,
            bytes32 hash
        ) = abi.decode(logs[0].data, (uint64, int128, uint8, string, string, string, string, bytes32));
        assertEq(index, 1);
        assertEq(value, 9977);
        assertEq(decimals, 2);
        assertEq(tag1, "uptime");
        assertEq(tag2, "day");
        assertEq(endpoint, "https://a.example/mcp");
        assertEq(uri, "ipfs://f");
        assertEq(hash, keccak256("f"));

        bool revoked;
        (value, decimals, tag1, tag2, revoked) = reputation.readFeedback(agent, bob, 1);
        assertEq(value, 9977);
        assertEq(decimals, 2);
        assertEq(tag1, "uptime");
        assertEq(tag2, "day");
        assertFalse(revoked);
    }

    /// @dev "All fields except value and valueDecimals are OPTIONAL"; negative values are allowed (e.g. -3.2%).
    function test_Spec_GiveFeedback_OptionalFieldsEmpty() public {
        vm.prank(bob);
        reputation.giveFeedback(agent, -32, 1, "", "", "", "", bytes32(0));
        (int128 value, uint8 decimals, string memory tag1, string memory tag2,) = reputation.readFeedback(agent, bob, 1);
        assertEq(value, -32);
        assertEq(decimals, 1);
        assertEq(tag1, "");
        assertEq(tag2, "");
    }

    /// @dev "The valueDecimals MUST be between 0 and 18."
    function test_Spec_GiveFeedback_ValueDecimals0To18() public {
        _give(bob, agent, 1, 0, "", "");
        _give(bob, agent, 1, 18, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationInvalidValueDecimals.selector, 19));
        _give(bob, agent, 1, 19, "", "");
    }

    /// @dev The reference bounds |value| by 1e38.
    function test_Spec_GiveFeedback_ValueBound() public {
        _give(bob, agent, 1e38, 0, "", "");
        _give(bob, agent, -1e38, 0, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationValueOutOfRange.selector, 1e38 + 1));
        _give(bob, agent, 1e38 + 1, 0, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationValueOutOfRange.selector, -1e38 - 1));
        _give(bob, agent, -1e38 - 1, 0, "", "");
    }

    /// @dev "The agentId must be a validly registered agent."
    function test_Spec_GiveFeedback_AgentMustExist() public {
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownAgent.selector, 77));
        _give(bob, 77, 1, "", "");
    }

    /// @dev "The feedback submitter MUST NOT be the agent owner or an approved operator for agentId."
    function test_Spec_GiveFeedback_NotOwnerNorOperator() public {
        address[3] memory insiders = [alice, approved, fleetOperator];
        for (uint256 i; i < insiders.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, insiders[i])
            );
            _give(insiders[i], agent, 1, "", "");
        }
    }

    /// @dev feedbackIndex is "a 1-indexed counter of feedback submissions that clientAddress has given to agentId".
    function test_Spec_FeedbackIndex_PerClientFrom1() public {
        _give(bob, agent, 1, "", "");
        _give(carol, agent, 2, "", "");
        _give(bob, agent, 3, "", "");
        assertEq(reputation.getLastIndex(agent, bob), 2);
        assertEq(reputation.getLastIndex(agent, carol), 1);
        assertEq(reputation.getLastIndex(agent, dave), 0);
        (int128 value,,,,) = reputation.readFeedback(agent, bob, 2);
        assertEq(value, 3);
    }

    // ---------------------------------------------------------------------------------------------
    // revokeFeedback
    // ---------------------------------------------------------------------------------------------

    /// @dev "clientAddress can revoke feedback"; FeedbackRevoked with all three fields indexed.
    function test_Spec_RevokeFeedback() public {
        _give(bob, agent, 1, "", "");
        vm.recordLogs();
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], keccak256("FeedbackRevoked(uint256,address,uint64)"));
        assertEq(logs[0].topics[1], bytes32(agent));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(bob))));
        assertEq(logs[0].topics[3], bytes32(uint256(1)));
        (,,,, bool revoked) = reputation.readFeedback(agent, bob, 1);
        assertTrue(revoked);
    }

    /// @dev A client revokes only its own feedback, once (the reference refuses index 0, missing indexes and a
    ///      second revocation).
    function test_Spec_RevokeFeedback_OwnOnce() public {
        _give(bob, agent, 1, "", "");
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, carol, 1));
        vm.prank(carol);
        reputation.revokeFeedback(agent, 1);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 0));
        vm.prank(bob);
        reputation.revokeFeedback(agent, 0);
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReputationFeedbackAlreadyRevoked.selector, agent, bob, 1)
        );
        vm.prank(bob);
        reputation.revokeFeedback(agent, 1);
    }

    // ---------------------------------------------------------------------------------------------
    // appendResponse: "Anyone (e.g., the agentId showing a refund, any off-chain data intelligence aggregator
    // tagging feedback as spam) can call"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_AppendResponse_ByAnyone() public {
        _give(bob, agent, 1, "", "");
        address[3] memory responders = [alice, carol, stranger];
        for (uint256 i; i < responders.length; ++i) {
            vm.expectEmit(address(reputation));
            emit IReputationRegistry.ResponseAppended(agent, bob, 1, responders[i], "ipfs://r", keccak256("r"));
            vm.prank(responders[i]);
            reputation.appendResponse(agent, bob, 1, "ipfs://r", keccak256("r"));
        }
        assertEq(reputation.getResponseCount(agent, bob, 1, new address[](0)), 3);
    }

    /// @dev The reference refuses an empty responseURI and a response to feedback that does not exist.
    function test_Spec_AppendResponse_ReferenceChecks() public {
        _give(bob, agent, 1, "", "");
        vm.expectRevert(IReputationRegistry.ReputationEmptyResponseURI.selector);
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "", bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownFeedback.selector, agent, bob, 2));
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 2, "ipfs://r", bytes32(0));
    }

    // ---------------------------------------------------------------------------------------------
    // getSummary: "agentId and clientAddresses are mandatory; tag1 and tag2 are optional filters"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_GetSummary_ClientsMandatory() public {
        vm.expectRevert(IReputationRegistry.ReputationEmptyClients.selector);
        reputation.getSummary(agent, new address[](0), "", "");
    }

    /// @dev Revoked entries skipped, values scaled to 18 decimals and averaged, reported in the most common
    ///      valueDecimals; tags filter.
    function test_Spec_GetSummary_ScalesAveragesAndFilters() public {
        _give(bob, agent, 9977, 2, "uptime", ""); // 99.77
        _give(carol, agent, 9900, 2, "uptime", ""); // 99.00
        _give(dave, agent, 95, 0, "uptime", ""); // 95
        _give(dave, agent, 1, 0, "reachable", "");
        vm.prank(dave);
        reputation.revokeFeedback(agent, 2);
        address[] memory clients = _addresses(bob, carol, dave);

        (uint64 count, int128 value, uint8 decimals) = reputation.getSummary(agent, clients, "", "");
        assertEq(count, 3, "the revoked entry is skipped");
        assertEq(decimals, 2, "the most common decimals");
        assertEq(value, 9792, "(99.77 + 99.00 + 95) / 3 = 97.923..., in 2 decimals");
        (count,,) = reputation.getSummary(agent, clients, "reachable", "");
        assertEq(count, 0);
        (count,,) = reputation.getSummary(agent, _addresses(bob), "uptime", "");
        assertEq(count, 1);
    }

    // ---------------------------------------------------------------------------------------------
    // readFeedback / readAllFeedback: "agentId is the only mandatory parameter; others are optional filters.
    // Revoked feedback are omitted by default."
    // ---------------------------------------------------------------------------------------------

    function test_Spec_ReadAllFeedback_Filters() public {
        _give(bob, agent, 10, "a", "x");
        _give(carol, agent, 20, "b", "x");
        vm.prank(carol);
        reputation.revokeFeedback(agent, 1);

        (address[] memory clients, uint64[] memory indexes, int128[] memory values,,,, bool[] memory revoked) =
            reputation.readAllFeedback(agent, new address[](0), "", "", false);
        assertEq(clients, _addresses(bob), "all clients, revoked omitted");
        assertEq(indexes[0], 1);
        assertEq(values[0], 10);
        assertFalse(revoked[0]);

        (clients,,,,,, revoked) = reputation.readAllFeedback(agent, new address[](0), "", "", true);
        assertEq(clients, _addresses(bob, carol));
        assertTrue(revoked[1]);

        (clients,,,,,,) = reputation.readAllFeedback(agent, _addresses(carol), "", "x", true);
        assertEq(clients, _addresses(carol));
        (clients,,,,,,) = reputation.readAllFeedback(agent, new address[](0), "a", "", true);
        assertEq(clients, _addresses(bob));
    }

    // ---------------------------------------------------------------------------------------------
    // getResponseCount: "agentId is the only mandatory parameter; others are optional filters."
    // ---------------------------------------------------------------------------------------------

    function test_Spec_GetResponseCount_OptionalFilters() public {
        _give(bob, agent, 1, "", "");
        _give(bob, agent, 2, "", "");
        _give(carol, agent, 3, "", "");
        vm.prank(alice);
        reputation.appendResponse(agent, bob, 1, "ipfs://1", bytes32(0));
        vm.prank(stranger);
        reputation.appendResponse(agent, bob, 2, "ipfs://2", bytes32(0));
        vm.prank(alice);
        reputation.appendResponse(agent, carol, 1, "ipfs://3", bytes32(0));
        address[] memory any = new address[](0);

        assertEq(reputation.getResponseCount(agent, address(0), 0, any), 3, "agentId alone");
        assertEq(reputation.getResponseCount(agent, bob, 0, any), 2, "one client");
        assertEq(reputation.getResponseCount(agent, bob, 2, any), 1, "one feedback");
        assertEq(reputation.getResponseCount(agent, address(0), 0, _addresses(alice)), 2, "one responder");
        assertEq(reputation.getResponseCount(agent, bob, 1, _addresses(stranger)), 0);
    }

    // ---------------------------------------------------------------------------------------------
    // getClients / getLastIndex
    // ---------------------------------------------------------------------------------------------

    function test_Spec_GetClients_OncePerClient() public {
        assertEq(reputation.getClients(agent).length, 0);
        _give(carol, agent, 1, "", "");
        _give(bob, agent, 1, "", "");
        _give(carol, agent, 1, "", "");
        assertEq(reputation.getClients(agent), _addresses(carol, bob));
    }
}
