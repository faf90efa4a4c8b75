// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice A signed `AttestOutputs` message anchors one root, on one chain, on one deployment, for one version,
///         before its deadline, while its key is active. Each test takes a valid signature and replays it elsewhere.
contract OutputReplayTest is RegistryTestBase {
    bytes32 internal constant V1 = keccak256("version 1");
    bytes32 internal constant V2 = keccak256("version 2");
    bytes32 internal constant ROOT = keccak256("outputs root");

    Batch internal b;
    bytes internal signature;

    function setUp() public override {
        super.setUp();
        _registerVersion(V1);
        b = _batch(V1, ROOT);
        signature = _sign(attestorPk, b);
    }

    /// @dev The domain carries the chain id: on another chain the signature recovers some other address.
    function test_RevertWhen_OutputsReplayedOnOtherChain() public {
        uint256 home = block.chainid;
        vm.chainId(home + 1);
        address recovered = _recoverOn(registry, b, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(b, signature);

        // The same bytes are still good at home.
        vm.chainId(home);
        _submit(b, signature);
        assertEq(registry.getOutputBatch(ROOT).versionHash, V1);
    }

    function testFuzz_RevertWhen_OutputsReplayedOnOtherChain(uint256 chainId) public {
        chainId = bound(chainId, 1, type(uint64).max);
        if (chainId == block.chainid) chainId = block.chainid + 1;
        vm.chainId(chainId);
        address recovered = _recoverOn(registry, b, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(b, signature);
    }

    /// @dev The domain carries the contract address: a second deployment with the same publisher, key and version
    ///      refuses a signature made for the first, and the other way round.
    function test_RevertWhen_OutputsReplayedOnOtherDeployment() public {
        ProvenanceRegistry other = new ProvenanceRegistry();
        vm.prank(lab);
        other.registerPublisher("Acme AI", "ipfs://acme");
        _addAttestor(other, lab, lab, attestorPk);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        _submitAs(attestorPk, other, r);

        address recovered = _recoverOn(other, b, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(other, b, signature);

        bytes memory forOther = _sign(attestorPk, address(other), b);
        _submit(other, b, forOther);
        assertEq(other.getOutputBatch(ROOT).attestor, attestor);
        recovered = _recoverOn(registry, b, forOther);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(b, forOther);
    }

    /// @dev A signature made while the key was active is refused once the key is revoked.
    function test_RevertWhen_OutputsReplayedAfterKeyRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _submit(b, signature);
    }

    /// @dev The same after the key is flagged compromised (which revokes it).
    function test_RevertWhen_OutputsReplayedAfterKeyCompromised() public {
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _submit(b, signature);
    }

    /// @dev Refused one second after the deadline.
    function test_RevertWhen_OutputsReplayedAfterDeadline() public {
        vm.warp(b.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, b.deadline));
        _submit(b, signature);
    }

    /// @dev Submitting the same message twice: the root is already anchored.
    function test_RevertWhen_OutputsReplayedOnSameContract() public {
        _submit(b, signature);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryBatchExists.selector, ROOT));
        _submit(b, signature);
    }

    /// @dev A nonce, once used, cannot authorize a second batch, even of another root.
    function test_RevertWhen_OutputsNonceReusedForOtherRoot() public {
        _submit(b, signature);
        Batch memory second = _batch(V1, keccak256("another root"));
        second.nonce = b.nonce;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, b.nonce));
        _attestSigned(second);
    }

    /// @dev The signer can cancel a signature it handed out before it is used.
    function test_RevertWhen_OutputsReplayedAfterNonceInvalidated() public {
        vm.prank(attestor);
        registry.invalidateNonce(b.nonce);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, b.nonce));
        _submit(b, signature);
    }

    /// @dev A signature for one version cannot be redirected to another version, even of the same publisher.
    function test_RevertWhen_OutputsReplayedForOtherVersion() public {
        _registerVersion(V2);
        Batch memory redirected = b;
        redirected.versionHash = V2;
        address recovered = _recoverOn(registry, redirected, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(redirected, signature);
    }

    /// @dev A `RegisterModelVersion` signature cannot be submitted as an `AttestOutputs` one (the type is signed).
    function test_RevertWhen_RegistrationSignatureReplayedAsOutputs() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V2);
        r.nonce = b.nonce;
        r.deadline = b.deadline;
        bytes memory registrationSig = _sign(attestorPk, r);
        address recovered = _recoverOn(registry, b, registrationSig);
        assertTrue(recovered != attestor);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, address(0), recovered)
        );
        _submit(b, registrationSig);
    }

    /// @dev Who relays does not matter, and a relayer cannot change what was signed.
    function testFuzz_OutputsRelayerDoesNotMatter(address sender) public {
        _submitFrom(sender, registry, b, signature);
        assertEq(registry.getOutputBatch(ROOT).attestor, attestor);
        assertTrue(registry.isNonceUsed(attestor, b.nonce));
        if (sender != attestor) assertFalse(registry.isNonceUsed(sender, b.nonce));
    }
}
