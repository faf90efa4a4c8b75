// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {EventFlood} from "./utils/EventFlood.sol";

contract EventFloodTest is Test {
    function test_EmitsOneRegistryEventPerNonce() public {
        ProvenanceRegistry registry = new ProvenanceRegistry();
        EventFlood flood = new EventFlood();
        vm.recordLogs();
        flood.invalidate(registry, 10, 5);
        assertEq(vm.getRecordedLogs().length, 5);
        assertTrue(registry.isNonceUsed(address(flood), 14));
        assertFalse(registry.isNonceUsed(address(flood), 15));
    }
}
