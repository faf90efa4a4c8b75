// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test, console2} from "forge-std/Test.sol";

import {
    AttestationRequestData,
    IEAS,
    MultiAttestationRequest
} from "@ethereum-attestation-service/eas-contracts/contracts/IEAS.sol";
import {ISchemaRegistry} from "@ethereum-attestation-service/eas-contracts/contracts/ISchemaRegistry.sol";
import {ISchemaResolver} from "@ethereum-attestation-service/eas-contracts/contracts/resolver/ISchemaResolver.sol";

/// @notice The peer for `attestOutputs` in the gas benchmark: the Ethereum Attestation Service, one attestation per
///         model output, sent with `multiAttest`. Run in the same command as ProvenanceRegistryGasTest:
///           forge test --match-contract 'ProvenanceRegistryGasTest|EasGasTest' --gas-report
/// @dev EAS 1.9.0 pins `pragma solidity 0.8.29` in EAS.sol and SchemaRegistry.sol, and this repository compiles
///      with solc 0.8.30 only, so the contracts are deployed from the bytecode the npm package ships (its
///      hardhat artifacts, built by EAS with solc 0.8.29); only the interfaces (`^0.8.0`) are compiled here.
///      The schema carries what a prova output leaf commits to, without the salt (a peer-favouring choice: a salt
///      would add a stored word per attestation). Attestations are revocable, like batches, with no expiry, no
///      recipient, no resolver. `multiAttest` is sent by the attester itself, so EAS checks no signature, another
///      choice in its favour (`attestOutputs` checks one EIP-712 signature per batch).
contract EasGasTest is Test {
    string internal constant ARTIFACTS =
        "node_modules/@ethereum-attestation-service/eas-contracts/artifacts/contracts/";
    string internal constant SCHEMA = "bytes32 versionHash,bytes32 requestHash,bytes32 responseHash,uint64 timestamp";

    IEAS internal eas;
    bytes32 internal schemaId;
    address internal attester;

    function setUp() public {
        vm.warp(1_700_000_000);
        vm.roll(100);
        ISchemaRegistry schemas =
            ISchemaRegistry(vm.deployCode(string.concat(ARTIFACTS, "SchemaRegistry.sol/SchemaRegistry.json")));
        eas = IEAS(vm.deployCode(string.concat(ARTIFACTS, "EAS.sol/EAS.json"), abi.encode(schemas)));
        assertEq(eas.version(), "1.4.0", "EAS contract version of npm package 1.9.0");
        schemaId = schemas.register(SCHEMA, ISchemaResolver(address(0)), true);
        attester = makeAddr("attester");
    }

    function test_Gas_EasMultiAttest1() public {
        _multiAttest(1);
    }

    function test_Gas_EasMultiAttest10() public {
        _multiAttest(10);
    }

    function test_Gas_EasMultiAttest100() public {
        _multiAttest(100);
    }

    /// @dev One `multiAttest` call with `n` output attestations, and its gas in the log. Under `--gas-report` (or
    ///      `--isolate`) forge runs each call of a test as its own transaction, and `vm.lastCallGas()` is then that
    ///      transaction's whole gas, 21,000 base and calldata included: the figure the gas report gives for
    ///      ProvenanceRegistry (which logs it the same way in Gas.t.sol). Without isolation it is the execution gas
    ///      only. The gas report has no row for EAS, whose bytecode is not one of this project's artifacts. The
    ///      `gasleft()` difference around the call also counts the caller's ABI encoding of the request.
    function _multiAttest(uint256 n) internal {
        MultiAttestationRequest[] memory requests = new MultiAttestationRequest[](1);
        requests[0].schema = schemaId;
        requests[0].data = new AttestationRequestData[](n);
        bytes32 versionHash = keccak256("version 1");
        for (uint256 i; i < n; ++i) {
            requests[0].data[i] = AttestationRequestData({
                recipient: address(0),
                expirationTime: 0,
                revocable: true,
                refUID: bytes32(0),
                data: abi.encode(
                    versionHash,
                    keccak256(abi.encode("request", i)),
                    keccak256(abi.encode("response", i)),
                    // forge-lint: disable-next-line(unsafe-typecast)
                    uint64(block.timestamp - i)
                ),
                value: 0
            });
        }

        vm.prank(attester);
        uint256 before = gasleft();
        bytes32[] memory uids = eas.multiAttest(requests);
        uint256 measured = before - gasleft();
        uint256 gas = vm.lastCallGas().gasTotalUsed;

        assertEq(uids.length, n);
        assertEq(eas.getAttestation(uids[n - 1]).attester, attester);
        console2.log("EAS multiAttest, attestations:", n);
        console2.log("  gas of the call (whole transaction under --gas-report):", gas);
        console2.log("  gas per attestation:", gas / n);
        console2.log("  gasleft() difference around the call:", measured);
    }
}
