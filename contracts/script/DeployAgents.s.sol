// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Script, console2} from "forge-std/Script.sol";

import {IdentityRegistry} from "../src/erc8004/IdentityRegistry.sol";
import {ReputationRegistry} from "../src/erc8004/ReputationRegistry.sol";
import {ValidationRegistry} from "../src/erc8004/ValidationRegistry.sol";
import {IIdentityRegistry} from "../src/interfaces/erc8004/IIdentityRegistry.sol";

/// @notice Deploys the three ERC-8004 registries (identity first; reputation and validation point at it) and,
///         optionally, registers the broadcaster's agent.
/// @dev The broadcaster is whatever forge is given (`--private-key`, `--account`, `--ledger`, ...), e.g. on anvil:
///        forge script contracts/script/DeployAgents.s.sol --rpc-url http://127.0.0.1:8545 --broadcast \
///          --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
///      Optional environment variables:
///        PROVA_AGENT_URI            if set, the broadcaster registers an agent with this registration-file URI;
///        PROVA_AGENT_MODEL_VERSION  a ProvenanceRegistry version hash (bytes32) stored as the agent's
///                                   "prova.modelVersion" metadata (default: none).
///      The last three lines of output are `<Contract> deployed at <address>`, identity first.
contract DeployAgents is Script {
    function run()
        external
        returns (IdentityRegistry identity, ReputationRegistry reputation, ValidationRegistry validation)
    {
        string memory agentURI = vm.envOr("PROVA_AGENT_URI", string(""));
        bytes32 modelVersion = vm.envOr("PROVA_AGENT_MODEL_VERSION", bytes32(0));

        vm.startBroadcast();
        identity = new IdentityRegistry();
        reputation = new ReputationRegistry(address(identity));
        validation = new ValidationRegistry(address(identity));
        if (bytes(agentURI).length != 0) {
            IIdentityRegistry.MetadataEntry[] memory metadata =
                new IIdentityRegistry.MetadataEntry[](modelVersion == bytes32(0) ? 0 : 1);
            if (modelVersion != bytes32(0)) {
                metadata[0] = IIdentityRegistry.MetadataEntry("prova.modelVersion", abi.encodePacked(modelVersion));
            }
            uint256 agentId = identity.register(agentURI, metadata);
            console2.log("agent registered:", agentId);
        }
        vm.stopBroadcast();

        console2.log("IdentityRegistry deployed at", address(identity));
        console2.log("ReputationRegistry deployed at", address(reputation));
        console2.log("ValidationRegistry deployed at", address(validation));
    }
}
