// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice A signed `RegisterModelVersion` message is good for one registration, on one chain, on one deployment,
///         before its deadline, while its key is active. Each test takes a valid signature and replays it elsewhere.
contract ReplayTest is RegistryTestBase {
    bytes32 internal constant V1 = keccak256("version 1");
    bytes32 internal constant V2 = keccak256("version 2");

    IProvenanceRegistry.VersionClaim internal r;
    bytes internal signature;

    function setUp() public override {
        super.setUp();
        r = _claim(V1);
        signature = _sign(attestorPk, r);
    }

    /// @dev (a) The domain carries the chain id: on another chain the signature recovers some other address.
    function test_RevertWhen_ReplayedOnOtherChain() public {
        uint256 home = block.chainid;
        vm.chainId(home + 1);
        address recovered = _recoverOn(registry, r, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(r, signature);

        // The same bytes are still good at home.
        vm.chainId(home);
        _submit(r, signature);
        assertTrue(registry.isRegistered(lab, V1));
    }

    /// @dev (b) The domain carries the contract address: a second deployment with the same publisher and key
    ///      refuses a signature made for the first.
    function test_RevertWhen_ReplayedOnOtherDeployment() public {
        ProvenanceRegistry other = new ProvenanceRegistry();
        vm.prank(lab);
        other.registerPublisher("Acme AI", "ipfs://acme");
        _addAttestor(other, lab, lab, attestorPk);
        assertTrue(other.domainSeparator() != registry.domainSeparator());

        address recovered = _recoverOn(other, r, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(other, r, signature);

        // A signature made for `other` works there, and does not work on the original.
        bytes memory forOther = _sign(attestorPk, address(other), r);
        _submit(other, r, forOther);
        assertTrue(other.isRegistered(lab, V1));
        recovered = _recoverOn(registry, r, forOther);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(r, forOther);
    }

    /// @dev (c) A signature made while the key was active is refused once the key is revoked.
    function test_RevertWhen_ReplayedAfterKeyRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _submit(r, signature);
    }

    /// @dev (c') The same after the key is flagged compromised (which revokes it).
    function test_RevertWhen_ReplayedAfterKeyCompromised() public {
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _submit(r, signature);
    }

    /// @dev (d) Refused one second after the deadline.
    function test_RevertWhen_ReplayedAfterDeadline() public {
        vm.warp(r.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, r.deadline));
        _submit(r, signature);
    }

    /// @dev (e) Submitting the same message twice: the version already exists.
    function test_RevertWhen_ReplayedOnSameContract() public {
        _submit(r, signature);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V1));
        _submit(r, signature);
    }

    /// @dev (e) A nonce, once used, cannot authorize a second version, even a different one.
    function test_RevertWhen_NonceReusedForOtherVersion() public {
        _submit(r, signature);
        IProvenanceRegistry.VersionClaim memory second = _claim(V2);
        second.nonce = r.nonce;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, r.nonce));
        _registerSigned(second);
    }

    /// @dev (e) The signer can cancel a signature it handed out before it is used.
    function test_RevertWhen_ReplayedAfterNonceInvalidated() public {
        vm.prank(attestor);
        registry.invalidateNonce(r.nonce);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, r.nonce));
        _submit(r, signature);
    }

    /// @dev A signature for one publisher cannot be redirected to another, even one the key could sign for.
    function test_RevertWhen_ReplayedForOtherPublisher() public {
        address other = makeAddr("other lab");
        vm.prank(other);
        registry.registerPublisher("Other", "");
        IProvenanceRegistry.VersionClaim memory redirected = r;
        redirected.publisher = other;
        address recovered = _recoverOn(registry, redirected, signature);
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, other, recovered)
        );
        _submit(redirected, signature);
    }

    /// @dev A key's proof of possession names the deployment and the chain: replayed on a second deployment or
    ///      on another chain, it recovers another address, and the key is not bound there.
    function test_RevertWhen_AddAttestorSignatureReplayedOnOtherDeployment() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        ProvenanceRegistry other = new ProvenanceRegistry();
        vm.prank(lab);
        other.registerPublisher("Acme AI", "ipfs://acme");

        (bytes32 rr, bytes32 s, uint8 v) = _split(keySignature);
        address recovered = ecrecover(_addAttestorDigest(address(other), lab, deadline), v, rr, s);
        assertTrue(recovered != key);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, recovered));
        vm.prank(lab);
        other.addAttestor(lab, key, deadline, keySignature);

        uint256 home = block.chainid;
        vm.chainId(home + 1);
        recovered = ecrecover(_addAttestorDigest(address(registry), lab, deadline), v, rr, s);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, recovered));
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);

        // At home, on the deployment it was made for, it works, once.
        vm.chainId(home);
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, key));
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
    }

    /// @dev A claim that reveals a commitment is replayed like any other: once.
    function test_RevertWhen_CommittedClaimReplayed() public {
        IProvenanceRegistry.VersionClaim memory c = _claim(V2);
        c.commitSalt = keccak256("salt");
        _commit(c);
        _nextBlock();
        bytes memory sig = _sign(attestorPk, c);
        _submit(c, sig);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V2));
        _submit(c, sig);
    }

    /// @dev Who relays does not matter, and a relayer cannot change what was signed.
    function testFuzz_RelayerDoesNotMatter(address sender) public {
        _submitFrom(sender, registry, r, signature);
        assertEq(registry.getModelVersion(lab, V1).attestor, attestor);
        assertTrue(registry.isNonceUsed(attestor, r.nonce));
        if (sender != attestor) assertFalse(registry.isNonceUsed(sender, r.nonce));
    }

    function testFuzz_RevertWhen_ReplayedOnOtherChain(uint256 chainId) public {
        chainId = bound(chainId, 1, type(uint64).max);
        if (chainId == block.chainid) chainId = block.chainid + 1;
        vm.chainId(chainId);
        address recovered = _recoverOn(registry, r, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(r, signature);
    }
}
