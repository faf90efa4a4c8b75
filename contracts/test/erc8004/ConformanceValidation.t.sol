// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {IValidationRegistry} from "../../src/interfaces/erc8004/IValidationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice Conformance of the validation registry to the ERC-8004 text (ERC8004-SPEC, January 2026) and to the
///         deployed reference registry where the text is silent: one test per specified function, event or
///         behaviour (`test_Spec_*`). prova's deliberate differences are in docs/erc8004-differences.md.
contract ConformanceValidationTest is AgentTestBase {
    bytes32 internal constant REQ = keccak256("request payload");
    address internal validator2;

    function setUp() public override {
        super.setUp();
        validator2 = makeAddr("validator 2");
    }

    function test_Spec_GetIdentityRegistry() public view {
        assertEq(validation.getIdentityRegistry(), address(identity));
    }

    // ---------------------------------------------------------------------------------------------
    // validationRequest: "This function MUST be called by the owner or operator of agentId."
    // ---------------------------------------------------------------------------------------------

    function test_Spec_ValidationRequest_EventAndStatus() public {
        vm.recordLogs();
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://request", REQ);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], keccak256("ValidationRequest(address,uint256,string,bytes32)"));
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(validator))));
        assertEq(logs[0].topics[2], bytes32(agent));
        assertEq(logs[0].topics[3], REQ);
        assertEq(abi.decode(logs[0].data, (string)), "ipfs://request");

        (address v, uint256 agentId, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) =
            validation.getValidationStatus(REQ);
        assertEq(v, validator);
        assertEq(agentId, agent);
        assertEq(response, 0);
        assertEq(responseHash, bytes32(0));
        assertEq(tag, "");
        assertEq(lastUpdate, block.timestamp, "the reference stamps the request's time");
        assertEq(validation.getAgentValidations(agent)[0], REQ);
        assertEq(validation.getValidatorRequests(validator)[0], REQ);
    }

    function test_Spec_ValidationRequest_OwnerOrOperatorOnly() public {
        vm.prank(approved);
        validation.validationRequest(validator, agent, "ipfs://a", keccak256("a"));
        vm.prank(fleetOperator);
        validation.validationRequest(validator, agent, "ipfs://b", keccak256("b"));
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnauthorized.selector, agent, bob));
        vm.prank(bob);
        validation.validationRequest(validator, agent, "ipfs://c", keccak256("c"));
    }

    /// @dev The reference refuses a zero validator and a request hash already taken, and accepts a zero hash.
    function test_Spec_ValidationRequest_ReferenceChecks() public {
        vm.expectRevert(IValidationRegistry.ValidationZeroValidator.selector);
        vm.prank(alice);
        validation.validationRequest(address(0), agent, "ipfs://r", REQ);
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://r", bytes32(0));
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://r", REQ);
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationRequestExists.selector, REQ));
        vm.prank(alice);
        validation.validationRequest(validator2, agent, "ipfs://r", REQ);
    }

    // ---------------------------------------------------------------------------------------------
    // validationResponse: "MUST be called by the validatorAddress specified in the original request"; 0 to 100;
    // "can be called multiple times"; "a ValidationResponse event is emitted with all function parameters"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_ValidationResponse_EventStoresAndUpdates() public {
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://r", REQ);
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(validation));
        emit IValidationRegistry.ValidationResponse(
            validator, agent, REQ, 100, "ipfs://audit", keccak256("audit"), "soft-finality"
        );
        vm.prank(validator);
        validation.validationResponse(REQ, 100, "ipfs://audit", keccak256("audit"), "soft-finality");
        (,, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) =
            validation.getValidationStatus(REQ);
        assertEq(response, 100);
        assertEq(responseHash, keccak256("audit"));
        assertEq(tag, "soft-finality");
        assertEq(lastUpdate, block.timestamp);

        // Progressive validation: the same request answered again.
        vm.warp(block.timestamp + 1 hours);
        vm.prank(validator);
        validation.validationResponse(REQ, 0, "", bytes32(0), "hard-finality");
        (,, response,, tag, lastUpdate) = validation.getValidationStatus(REQ);
        assertEq(response, 0);
        assertEq(tag, "hard-finality");
        assertEq(lastUpdate, block.timestamp);
    }

    function test_Spec_ValidationResponse_OnlyNamedValidatorAnd0To100() public {
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://r", REQ);
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationNotValidator.selector, REQ, validator2));
        vm.prank(validator2);
        validation.validationResponse(REQ, 50, "", bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationInvalidResponse.selector, 101));
        vm.prank(validator);
        validation.validationResponse(REQ, 101, "", bytes32(0), "");
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnknownRequest.selector, keccak256("x")));
        vm.prank(validator);
        validation.validationResponse(keccak256("x"), 50, "", bytes32(0), "");
    }

    // ---------------------------------------------------------------------------------------------
    // getSummary: "agentId is the only mandatory parameter; validatorAddresses and tag are optional filters"
    // ---------------------------------------------------------------------------------------------

    function test_Spec_GetSummary() public {
        vm.startPrank(alice);
        validation.validationRequest(validator, agent, "", keccak256("1"));
        validation.validationRequest(validator2, agent, "", keccak256("2"));
        validation.validationRequest(validator2, agent, "", keccak256("3"));
        vm.stopPrank();
        vm.prank(validator);
        validation.validationResponse(keccak256("1"), 90, "", bytes32(0), "tee");
        vm.prank(validator2);
        validation.validationResponse(keccak256("2"), 0, "", bytes32(0), "zkml");

        (uint64 count, uint8 average) = validation.getSummary(agent, new address[](0), "");
        assertEq(count, 2, "answered requests only; a response of 0 counts");
        assertEq(average, 45);
        (count, average) = validation.getSummary(agent, _addresses(validator2), "");
        assertEq(count, 1);
        assertEq(average, 0);
        (count, average) = validation.getSummary(agent, new address[](0), "tee");
        assertEq(count, 1);
        assertEq(average, 90);
    }

    function test_Spec_GetAgentValidationsAndValidatorRequests() public {
        vm.startPrank(alice);
        validation.validationRequest(validator, agent, "", keccak256("1"));
        validation.validationRequest(validator2, agent, "", keccak256("2"));
        validation.validationRequest(validator, agent, "", keccak256("3"));
        vm.stopPrank();
        bytes32[] memory all = validation.getAgentValidations(agent);
        assertEq(all.length, 3);
        assertEq(all[2], keccak256("3"));
        bytes32[] memory mine = validation.getValidatorRequests(validator);
        assertEq(mine.length, 2);
        assertEq(mine[0], keccak256("1"));
        assertEq(mine[1], keccak256("3"));
    }
}
