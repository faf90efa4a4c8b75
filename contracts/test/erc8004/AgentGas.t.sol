// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {console2} from "forge-std/console2.sol";

import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice One representative call per measured function of the ERC-8004 registries, each logged. Run
///           forge test --match-path 'contracts/test/erc8004/AgentGas.t.sol' --isolate -vv
///         for whole-transaction figures (21,000 base and calldata included, every call its own transaction, so
///         storage is cold as on chain); without `--isolate` (or `--gas-report`) `vm.lastCallGas()` is the
///         execution gas only, and slots touched earlier in the same test are warm. The bounds asserted hold
///         either way.
/// @dev The fixture is a registry in use: agent 0 (alice's, with an operator approved) exists, so no measured call
///      pays for a counter's first write; each measured call is the caller's first of its kind unless it says
///      otherwise. URIs are 66-character `ipfs://bafy...` CIDs, as in the other gas figures of BENCHMARKS.md.
contract AgentGasTest is AgentTestBase {
    string internal constant FEEDBACK_URI = "ipfs://bafybeibml5uieyxa5tufngvg7fgwbkwvlsuntwbxgtskoqynbt7wlchmfm";
    string internal constant ENDPOINT = "https://agent.example/a2a";

    address internal dave;

    function setUp() public override {
        super.setUp();
        dave = makeAddr("dave");
        // Agent 0 already has a client, so a new client appends to a non-empty list.
        _feedback(carol);
    }

    function _log(string memory what) internal view returns (uint256 gas) {
        gas = vm.lastCallGas().gasTotalUsed;
        console2.log(what, gas);
    }

    function _feedback(address client) internal {
        vm.prank(client);
        reputation.giveFeedback(agent, 87, 0, "quality", "chat", ENDPOINT, FEEDBACK_URI, keccak256("feedback file"));
    }

    // ---------------------------------------------------------------------------------------------
    // Identity
    // ---------------------------------------------------------------------------------------------

    function test_Gas_Register() public {
        vm.prank(bob);
        identity.register(AGENT_URI);
        assertLt(_log("register(uri), 66-char URI, first agent of its owner:"), 180_000);
    }

    function test_Gas_RegisterWithModelVersion() public {
        IIdentityRegistry.MetadataEntry[] memory entries = new IIdentityRegistry.MetadataEntry[](1);
        entries[0] = IIdentityRegistry.MetadataEntry(MODEL_VERSION_KEY, abi.encodePacked(keccak256("version")));
        vm.prank(bob);
        uint256 id = identity.register(AGENT_URI, entries);
        assertLt(_log("register(uri, [prova.modelVersion]):"), 210_000);
        assertEq(identity.modelVersion(id), keccak256("version"));
    }

    function test_Gas_RegisterNoURI() public {
        vm.prank(bob);
        identity.register();
        _log("register(), no URI:");
    }

    function test_Gas_SetAgentWallet() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertLt(_log("setAgentWallet (EOA signature), first (the wallet leaves the owner):"), 100_000);
    }

    function test_Gas_SetAgentWalletRotation() public {
        _setWallet(agent);
        (address wallet2, uint256 wallet2Pk) = makeAddrAndKey("agent wallet 2");
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(wallet2Pk, agent, wallet2, deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet2, deadline, sig);
        assertLt(_log("setAgentWallet, rotation (records the old wallet's retirement):"), 120_000);
    }

    function test_Gas_UnsetAgentWallet() public {
        _setWallet(agent);
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        _log("unsetAgentWallet of a set wallet:");
    }

    function test_Gas_TransferAgent() public {
        vm.prank(alice);
        identity.transferFrom(alice, dave, agent);
        _log("transferFrom, initial wallet (clears it, records the old owner's retirement):");
    }

    // ---------------------------------------------------------------------------------------------
    // Reputation
    // ---------------------------------------------------------------------------------------------

    function test_Gas_GiveFeedbackNewClient() public {
        _feedback(bob);
        assertLt(_log("giveFeedback, new client, two tags, 66-char feedback URI:"), 150_000);
    }

    function test_Gas_GiveFeedbackFirstOfAgent() public {
        uint256 fresh = _register(dave, AGENT_URI);
        vm.prank(bob);
        reputation.giveFeedback(fresh, 87, 0, "quality", "chat", ENDPOINT, FEEDBACK_URI, keccak256("feedback file"));
        assertLt(_log("giveFeedback, the agent's first client, two tags:"), 150_000);
    }

    function test_Gas_GiveFeedbackNewClientOneTag() public {
        vm.prank(bob);
        reputation.giveFeedback(agent, 87, 0, "quality", "", ENDPOINT, FEEDBACK_URI, keccak256("feedback file"));
        _log("giveFeedback, new client, tag1 only:");
    }

    function test_Gas_GiveFeedbackSecond() public {
        _feedback(bob);
        _feedback(bob);
        assertLt(_log("giveFeedback, same client's second feedback:"), 150_000);
    }

    function test_Gas_GiveFeedbackWithReceipt() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, keccak256("job 1"));
        bytes memory sig = _signReceipt(walletPk, r);
        vm.prank(bob);
        reputation.giveFeedbackWithReceipt(
            agent, 87, 0, "quality", "chat", ENDPOINT, FEEDBACK_URI, keccak256("feedback file"), r, sig
        );
        assertLt(_log("giveFeedbackWithReceipt, new client, wallet signs (EOA):"), 200_000);
    }

    function test_Gas_GiveFeedbackWithReceiptOfRetiredWallet() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, keccak256("job 1"));
        bytes memory sig = _signReceipt(walletPk, r);
        (, uint256 wallet2Pk) = makeAddrAndKey("agent wallet 2");
        _setWallet(agent, wallet2Pk);
        vm.prank(bob);
        reputation.giveFeedbackWithReceipt(
            agent, 87, 0, "quality", "chat", ENDPOINT, FEEDBACK_URI, keccak256("feedback file"), r, sig
        );
        assertLt(_log("giveFeedbackWithReceipt, new client, signed by a since-rotated wallet:"), 200_000);
    }

    function test_Gas_RevokeFeedback() public {
        vm.prank(carol);
        reputation.revokeFeedback(agent, 1);
        _log("revokeFeedback:");
    }

    function test_Gas_AppendResponse() public {
        vm.prank(alice);
        reputation.appendResponse(agent, carol, 1, FEEDBACK_URI, keccak256("response"));
        _log("appendResponse, first by this responder:");
    }

    // ---------------------------------------------------------------------------------------------
    // Validation
    // ---------------------------------------------------------------------------------------------

    function test_Gas_ValidationRequest() public {
        vm.prank(alice);
        validation.validationRequest(validator, agent, FEEDBACK_URI, keccak256("request 0"));
        _log("validationRequest, first of the agent and of the validator:");
        vm.prank(alice);
        validation.validationRequest(validator, agent, FEEDBACK_URI, keccak256("request 1"));
        assertLt(_log("validationRequest, later:"), 150_000);
    }

    function test_Gas_ValidationResponse() public {
        vm.prank(alice);
        validation.validationRequest(validator, agent, FEEDBACK_URI, keccak256("request"));
        vm.prank(validator);
        validation.validationResponse(keccak256("request"), 95, FEEDBACK_URI, keccak256("evidence"), "tee");
        assertLt(_log("validationResponse, first, with tag:"), 120_000);
        vm.prank(validator);
        validation.validationResponse(keccak256("request"), 90, FEEDBACK_URI, keccak256("evidence 2"), "tee");
        _log("validationResponse, update:");
    }
}
