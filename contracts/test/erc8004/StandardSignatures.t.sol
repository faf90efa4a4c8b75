// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {IValidationRegistry} from "../../src/interfaces/erc8004/IValidationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice The standard's function selectors and event topics, hashed from the signature text of ERC-8004 (Jan
///         2026), so that existing ERC-8004 indexers and clients work unchanged. The overloaded `register` is
///         checked by calling the deployed registry with each canonical selector.
contract StandardSignaturesTest is AgentTestBase {
    function _sel(string memory signature) internal pure returns (bytes4) {
        return bytes4(keccak256(bytes(signature)));
    }

    function test_IdentitySelectors() public {
        assertEq(IIdentityRegistry.setAgentURI.selector, _sel("setAgentURI(uint256,string)"));
        assertEq(IIdentityRegistry.getMetadata.selector, _sel("getMetadata(uint256,string)"));
        assertEq(IIdentityRegistry.setMetadata.selector, _sel("setMetadata(uint256,string,bytes)"));
        assertEq(IIdentityRegistry.setAgentWallet.selector, _sel("setAgentWallet(uint256,address,uint256,bytes)"));
        assertEq(IIdentityRegistry.getAgentWallet.selector, _sel("getAgentWallet(uint256)"));
        assertEq(IIdentityRegistry.unsetAgentWallet.selector, _sel("unsetAgentWallet(uint256)"));

        IIdentityRegistry.MetadataEntry[] memory none = new IIdentityRegistry.MetadataEntry[](0);
        bytes[3] memory calls = [
            abi.encodeWithSelector(_sel("register()")),
            abi.encodeWithSelector(_sel("register(string)"), "ipfs://x"),
            abi.encodeWithSelector(_sel("register(string,(string,bytes)[])"), "ipfs://x", none)
        ];
        for (uint256 i; i < calls.length; ++i) {
            vm.prank(bob);
            (bool ok, bytes memory ret) = address(identity).call(calls[i]);
            assertTrue(ok);
            assertEq(abi.decode(ret, (uint256)), i + 1);
        }
    }

    function test_IdentityEvents() public pure {
        assertEq(IIdentityRegistry.Registered.selector, keccak256("Registered(uint256,string,address)"));
        assertEq(IIdentityRegistry.MetadataSet.selector, keccak256("MetadataSet(uint256,string,string,bytes)"));
        assertEq(IIdentityRegistry.URIUpdated.selector, keccak256("URIUpdated(uint256,string,address)"));
        assertEq(IIdentityRegistry.Transfer.selector, keccak256("Transfer(address,address,uint256)"));
    }

    function test_ReputationSelectors() public pure {
        assertEq(IReputationRegistry.getIdentityRegistry.selector, _sel("getIdentityRegistry()"));
        assertEq(
            IReputationRegistry.giveFeedback.selector,
            _sel("giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)")
        );
        assertEq(IReputationRegistry.revokeFeedback.selector, _sel("revokeFeedback(uint256,uint64)"));
        assertEq(
            IReputationRegistry.appendResponse.selector, _sel("appendResponse(uint256,address,uint64,string,bytes32)")
        );
        assertEq(IReputationRegistry.getSummary.selector, _sel("getSummary(uint256,address[],string,string)"));
        assertEq(IReputationRegistry.readFeedback.selector, _sel("readFeedback(uint256,address,uint64)"));
        assertEq(
            IReputationRegistry.readAllFeedback.selector, _sel("readAllFeedback(uint256,address[],string,string,bool)")
        );
        assertEq(
            IReputationRegistry.getResponseCount.selector, _sel("getResponseCount(uint256,address,uint64,address[])")
        );
        assertEq(IReputationRegistry.getClients.selector, _sel("getClients(uint256)"));
        assertEq(IReputationRegistry.getLastIndex.selector, _sel("getLastIndex(uint256,address)"));
    }

    function test_ReputationEvents() public pure {
        assertEq(
            IReputationRegistry.NewFeedback.selector,
            keccak256("NewFeedback(uint256,address,uint64,int128,uint8,string,string,string,string,string,bytes32)")
        );
        assertEq(IReputationRegistry.FeedbackRevoked.selector, keccak256("FeedbackRevoked(uint256,address,uint64)"));
        assertEq(
            IReputationRegistry.ResponseAppended.selector,
            keccak256("ResponseAppended(uint256,address,uint64,address,string,bytes32)")
        );
    }

    function test_ValidationSelectors() public pure {
        assertEq(
            IValidationRegistry.validationRequest.selector, _sel("validationRequest(address,uint256,string,bytes32)")
        );
        assertEq(
            IValidationRegistry.validationResponse.selector,
            _sel("validationResponse(bytes32,uint8,string,bytes32,string)")
        );
        assertEq(IValidationRegistry.getValidationStatus.selector, _sel("getValidationStatus(bytes32)"));
        assertEq(IValidationRegistry.getSummary.selector, _sel("getSummary(uint256,address[],string)"));
        assertEq(IValidationRegistry.getAgentValidations.selector, _sel("getAgentValidations(uint256)"));
        assertEq(IValidationRegistry.getValidatorRequests.selector, _sel("getValidatorRequests(address)"));
        assertEq(IValidationRegistry.getIdentityRegistry.selector, _sel("getIdentityRegistry()"));
    }

    function test_ValidationEvents() public pure {
        assertEq(
            IValidationRegistry.ValidationRequest.selector,
            keccak256("ValidationRequest(address,uint256,string,bytes32)")
        );
        assertEq(
            IValidationRegistry.ValidationResponse.selector,
            keccak256("ValidationResponse(address,uint256,bytes32,uint8,string,bytes32,string)")
        );
    }
}
