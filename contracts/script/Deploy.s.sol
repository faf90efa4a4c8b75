// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Script, console2} from "forge-std/Script.sol";

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";

/// @notice Deploys ProvenanceRegistry and, optionally, registers the deployer as a publisher with one attestor key.
/// @dev The broadcaster is whatever forge is given (`--private-key`, `--account`, `--ledger`, ...), e.g. on anvil:
///        forge script contracts/script/Deploy.s.sol --rpc-url http://127.0.0.1:8545 --broadcast \
///          --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
///      Optional environment variables:
///        PROVA_PUBLISHER_NAME  if set, the broadcaster registers itself as a publisher with this name;
///        PROVA_PUBLISHER_URI   the publisher's metadata URI (default: empty);
///        PROVA_ATTESTOR        an attestor key address to add to that publisher (default: none).
///      The last line of output is `ProvenanceRegistry deployed at <address>`.
contract Deploy is Script {
    function run() external returns (ProvenanceRegistry registry) {
        string memory publisherName = vm.envOr("PROVA_PUBLISHER_NAME", string(""));
        string memory publisherURI = vm.envOr("PROVA_PUBLISHER_URI", string(""));
        address attestor = vm.envOr("PROVA_ATTESTOR", address(0));

        vm.startBroadcast();
        (, address broadcaster,) = vm.readCallers();
        registry = new ProvenanceRegistry();
        if (bytes(publisherName).length != 0) {
            registry.registerPublisher(publisherName, publisherURI);
            console2.log("publisher registered:", broadcaster);
            if (attestor != address(0)) {
                registry.addAttestor(broadcaster, attestor);
                console2.log("attestor added:", attestor);
            }
        }
        vm.stopBroadcast();

        console2.log("ProvenanceRegistry deployed at", address(registry));
    }
}
