// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ValidationRegistry} from "../../src/erc8004/ValidationRegistry.sol";
import {IValidationRegistry} from "../../src/interfaces/erc8004/IValidationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice Every function, event and error of IValidationRegistry (pagination has its own suite).
contract ValidationRegistryTest is AgentTestBase {
    bytes32 internal constant REQ = keccak256("request 1");
    address internal validator2;

    function setUp() public override {
        super.setUp();
        validator2 = makeAddr("validator 2");
    }

    function _request(address from, address to, bytes32 requestHash) internal {
        vm.prank(from);
        validation.validationRequest(to, agent, "ipfs://request", requestHash);
    }

    function _respond(address from, bytes32 requestHash, uint8 response, string memory tag) internal {
        vm.prank(from);
        validation.validationResponse(requestHash, response, "ipfs://evidence", keccak256("evidence"), tag);
    }

    // ---------------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------------

    function test_GetIdentityRegistry() public view {
        assertEq(validation.getIdentityRegistry(), address(identity));
    }

    function test_RevertWhen_IdentityRegistryHasNoCode() public {
        vm.expectRevert(
            abi.encodeWithSelector(IValidationRegistry.ValidationInvalidIdentityRegistry.selector, address(0))
        );
        new ValidationRegistry(address(0));
    }

    // ---------------------------------------------------------------------------------------------
    // validationRequest
    // ---------------------------------------------------------------------------------------------

    function test_ValidationRequest() public {
        vm.expectEmit(address(validation));
        emit IValidationRegistry.ValidationRequest(validator, agent, "ipfs://request", REQ);
        _request(alice, validator, REQ);

        (address v, uint256 agentId, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) =
            validation.getValidationStatus(REQ);
        assertEq(v, validator);
        assertEq(agentId, agent);
        assertEq(response, 0);
        assertEq(responseHash, bytes32(0));
        assertEq(tag, "");
        assertEq(lastUpdate, block.timestamp, "the request's time until the first response");
        assertFalse(validation.hasResponse(REQ));
        assertEq(validation.getAgentValidations(agent).length, 1);
        assertEq(validation.getAgentValidations(agent)[0], REQ);
        assertEq(validation.getValidatorRequests(validator)[0], REQ);
        assertEq(validation.getValidatorRequests(validator2).length, 0);
    }

    function test_ValidationRequest_ByOperators() public {
        _request(approved, validator, keccak256("a"));
        _request(fleetOperator, validator, keccak256("b"));
        assertEq(validation.getAgentValidations(agent).length, 2);
    }

    function test_RevertWhen_RequestByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnauthorized.selector, agent, stranger));
        _request(stranger, validator, REQ);
    }

    function test_RevertWhen_RequestForUnknownAgent() public {
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnknownAgent.selector, 8));
        vm.prank(alice);
        validation.validationRequest(validator, 8, "", REQ);
    }

    function test_RevertWhen_RequestZeroValidator() public {
        vm.expectRevert(IValidationRegistry.ValidationZeroValidator.selector);
        _request(alice, address(0), REQ);
    }

    /// @dev The zero hash is a request hash like any other (as in the reference): accepted once.
    function test_RequestZeroHash() public {
        _request(alice, validator, bytes32(0));
        (address v, uint256 agentId,,,,) = validation.getValidationStatus(bytes32(0));
        assertEq(v, validator);
        assertEq(agentId, agent);
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationRequestExists.selector, bytes32(0)));
        _request(alice, validator, bytes32(0));
        _respond(validator, bytes32(0), 70, "");
        assertTrue(validation.hasResponse(bytes32(0)));
    }

    function test_RevertWhen_RequestHashReused() public {
        _request(alice, validator, REQ);
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationRequestExists.selector, REQ));
        _request(alice, validator2, REQ);
    }

    // ---------------------------------------------------------------------------------------------
    // validationResponse
    // ---------------------------------------------------------------------------------------------

    function test_ValidationResponse_AndUpdate() public {
        _request(alice, validator, REQ);
        vm.expectEmit(address(validation));
        emit IValidationRegistry.ValidationResponse(
            validator, agent, REQ, 80, "ipfs://evidence", keccak256("evidence"), "tee"
        );
        _respond(validator, REQ, 80, "tee");
        (,, uint8 response, bytes32 responseHash, string memory tag, uint256 lastUpdate) =
            validation.getValidationStatus(REQ);
        assertEq(response, 80);
        assertEq(responseHash, keccak256("evidence"));
        assertEq(tag, "tee");
        assertEq(lastUpdate, block.timestamp);
        assertTrue(validation.hasResponse(REQ));

        // Called again: every field is replaced, including back to zero and empty.
        vm.warp(block.timestamp + 1 days);
        vm.prank(validator);
        validation.validationResponse(REQ, 0, "", bytes32(0), "");
        (,, response, responseHash, tag, lastUpdate) = validation.getValidationStatus(REQ);
        assertEq(response, 0);
        assertEq(responseHash, bytes32(0));
        assertEq(tag, "");
        assertEq(lastUpdate, block.timestamp);
        assertTrue(validation.hasResponse(REQ), "a response of 0 is a response");
    }

    function testFuzz_ValidationResponse_Range(uint8 response) public {
        _request(alice, validator, REQ);
        if (response > 100) {
            vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationInvalidResponse.selector, response));
        }
        _respond(validator, REQ, response, "");
        if (response <= 100) {
            (,, uint8 stored,,,) = validation.getValidationStatus(REQ);
            assertEq(stored, response);
        }
    }

    function test_RevertWhen_ResponseByOtherThanValidator() public {
        _request(alice, validator, REQ);
        address[3] memory others = [alice, validator2, stranger];
        for (uint256 i; i < others.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationNotValidator.selector, REQ, others[i]));
            _respond(others[i], REQ, 50, "");
        }
    }

    function test_RevertWhen_ResponseToUnknownRequest() public {
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnknownRequest.selector, REQ));
        _respond(validator, REQ, 50, "");
    }

    function test_RevertWhen_StatusOfUnknownRequest() public {
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnknownRequest.selector, REQ));
        validation.getValidationStatus(REQ);
        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationUnknownRequest.selector, REQ));
        validation.hasResponse(REQ);
    }

    // ---------------------------------------------------------------------------------------------
    // getSummary
    // ---------------------------------------------------------------------------------------------

    function test_GetSummary() public {
        address[] memory any = new address[](0);
        (uint64 count, uint8 average) = validation.getSummary(agent, any, "");
        assertEq(count, 0);
        assertEq(average, 0);

        _request(alice, validator, keccak256("1"));
        _request(alice, validator, keccak256("2"));
        _request(alice, validator2, keccak256("3"));
        _request(alice, validator2, keccak256("4")); // never answered
        _respond(validator, keccak256("1"), 100, "tee");
        _respond(validator, keccak256("2"), 51, "zkml");
        _respond(validator2, keccak256("3"), 0, "tee");

        (count, average) = validation.getSummary(agent, any, "");
        assertEq(count, 3, "the unanswered request is skipped");
        assertEq(average, 50, "151 / 3 truncated");
        (count, average) = validation.getSummary(agent, _addresses(validator), "");
        assertEq(count, 2);
        assertEq(average, 75);
        (count, average) = validation.getSummary(agent, _addresses(validator2), "");
        assertEq(count, 1);
        assertEq(average, 0);
        (count, average) = validation.getSummary(agent, _addresses(stranger), "");
        assertEq(count, 0);
        (count, average) = validation.getSummary(agent, any, "tee");
        assertEq(count, 2);
        assertEq(average, 50);
        (count, average) = validation.getSummary(agent, _addresses(validator, validator2), "zkml");
        assertEq(count, 1);
        assertEq(average, 51);
        (count, average) = validation.getSummary(agent, any, "none");
        assertEq(count, 0);
        assertEq(average, 0);
        // Another agent's summary is separate.
        (count,) = validation.getSummary(agent + 1, any, "");
        assertEq(count, 0);
    }

    /// @dev An updated response counts once, with its latest value and tag.
    function test_GetSummary_UsesLatestResponse() public {
        _request(alice, validator, REQ);
        _respond(validator, REQ, 10, "a");
        _respond(validator, REQ, 90, "b");
        (uint64 count, uint8 average) = validation.getSummary(agent, new address[](0), "");
        assertEq(count, 1);
        assertEq(average, 90);
        (count,) = validation.getSummary(agent, new address[](0), "a");
        assertEq(count, 0);
    }
}
