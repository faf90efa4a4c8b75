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
///      `addAttestor` needs the key's own EIP-712 signature of `AddAttestor(publisher, deadline)` (proof of
///      possession), which the script makes with `vm.sign(attestor, digest)`: the attestor key must be one more
///      wallet given to forge, and `--sender` then names the broadcaster, e.g. on anvil (its accounts 0 and 1):
///        PROVA_PUBLISHER_NAME="Acme AI" PROVA_ATTESTOR=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 \
///        forge script contracts/script/Deploy.s.sol --rpc-url http://127.0.0.1:8545 --broadcast \
///          --private-keys 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
///          --private-keys 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d \
///          --sender 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
///      (`--keystores A --keystores B` or `--accounts a --accounts b` work the same way.) The attestor key only
///      signs; it sends no transaction and needs no ether.
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
                // The key proves possession by signing its own authorization; the signature is used at once.
                uint256 deadline = block.timestamp + 1 hours;
                (uint8 v, bytes32 r, bytes32 s) = vm.sign(attestor, registry.hashAddAttestor(broadcaster, deadline));
                registry.addAttestor(broadcaster, attestor, deadline, abi.encodePacked(r, s, v));
                console2.log("attestor added:", attestor);
            }
        }
        vm.stopBroadcast();

        console2.log("ProvenanceRegistry deployed at", address(registry));
    }
}
