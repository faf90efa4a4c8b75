// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {ProvenanceRegistry} from "../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../src/interfaces/IProvenanceRegistry.sol";
import {RegistryTestBase} from "./utils/RegistryTestBase.sol";

/// @notice Unit and fuzz tests for every function, event and error of ProvenanceRegistry.
contract ProvenanceRegistryTest is RegistryTestBase {
    bytes32 internal constant V1 = keccak256("version 1");
    bytes32 internal constant V2 = keccak256("version 2");

    /// @dev secp256k1 group order; private keys live in [1, N).
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    string internal constant REGISTER_TYPE =
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,bytes32 commitSalt,uint256 nonce,uint256 deadline)";

    // ---------------------------------------------------------------------------------------------
    // EIP-712
    // ---------------------------------------------------------------------------------------------

    function test_Typehash() public view {
        assertEq(registry.REGISTER_MODEL_VERSION_TYPEHASH(), TYPEHASH);
        assertEq(TYPEHASH, vm.eip712HashType(REGISTER_TYPE));
    }

    function test_AddAttestorTypehash() public view {
        assertEq(registry.ADD_ATTESTOR_TYPEHASH(), ADD_ATTESTOR_TYPEHASH);
        assertEq(ADD_ATTESTOR_TYPEHASH, vm.eip712HashType("AddAttestor(address publisher,uint256 deadline)"));
    }

    function test_DomainSeparator() public view {
        assertEq(registry.domainSeparator(), _domainSeparator(address(registry)));
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = registry.eip712Domain();
        assertEq(fields, hex"0f");
        assertEq(name, "ProvaProvenanceRegistry");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(registry));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
    }

    function test_DomainSeparator_FollowsChainId() public {
        bytes32 before = registry.domainSeparator();
        vm.chainId(10);
        assertEq(registry.domainSeparator(), _domainSeparator(address(registry)));
        assertTrue(registry.domainSeparator() != before);
    }

    /// @dev Cross-checks the digest against forge's own EIP-712 implementation (alloy), fed with JSON typed data.
    function test_HashRegisterModelVersion_MatchesTypedDataJson() public view {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.parent = keccak256("parent");
        r.commitSalt = keccak256("salt");
        bytes32 expected = vm.eip712HashTypedData(_typedDataJson(r));
        assertEq(_digest(address(registry), r), expected);
        assertEq(registry.hashRegisterModelVersion(r), expected);
    }

    /// @dev The same for every field value, with the struct hash checked against `vm.eip712HashStruct`.
    function testFuzz_HashRegisterModelVersion(IProvenanceRegistry.VersionClaim calldata claim) public view {
        IProvenanceRegistry.VersionClaim memory r = claim;
        // The cheatcode takes the struct ABI-encoded as one tuple.
        assertEq(_structHash(r), vm.eip712HashStruct(REGISTER_TYPE, abi.encode(r)));
        assertEq(registry.hashRegisterModelVersion(claim), _digest(address(registry), r));
    }

    /// @dev The commitment salt is signed: the same claim with another salt, or none, has another digest.
    function testFuzz_HashRegisterModelVersion_CoversCommitSalt(bytes32 salt, uint256 flip) public view {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = salt;
        bytes32 digest = registry.hashRegisterModelVersion(r);
        r.commitSalt = salt ^ bytes32(bound(flip, 1, type(uint256).max));
        assertTrue(registry.hashRegisterModelVersion(r) != digest);
    }

    function test_HashAddAttestor_MatchesTypedDataJson() public view {
        uint256 deadline = block.timestamp + 1 hours;
        string memory message =
            string.concat('"publisher":"', vm.toString(lab), '","deadline":"', vm.toString(deadline), '"');
        bytes32 expected = vm.eip712HashTypedData(
            _typedDataJson(
                "AddAttestor", '{"name":"publisher","type":"address"},{"name":"deadline","type":"uint256"}', message
            )
        );
        assertEq(_addAttestorDigest(address(registry), lab, deadline), expected);
        assertEq(registry.hashAddAttestor(lab, deadline), expected);
    }

    function testFuzz_HashAddAttestor(address publisher, uint256 deadline) public view {
        assertEq(
            registry.hashAddAttestor(publisher, deadline), _addAttestorDigest(address(registry), publisher, deadline)
        );
    }

    /// @dev Different primary types never share a digest: a key's `AddAttestor` signature cannot be replayed as a
    ///      claim, nor a claim's as a proof of possession.
    function test_HashAddAttestor_DiffersFromRegistration() public view {
        IProvenanceRegistry.VersionClaim memory r = _claim(bytes32(uint256(uint160(lab))));
        r.deadline = 1;
        assertTrue(registry.hashAddAttestor(lab, 1) != registry.hashRegisterModelVersion(r));
    }

    // ---------------------------------------------------------------------------------------------
    // registerPublisher
    // ---------------------------------------------------------------------------------------------

    function test_RegisterPublisher() public {
        address other = makeAddr("other lab");
        vm.warp(1_700_000_123);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.PublisherRegistered(other, other, "Other Lab", "https://other.example/lab.json");
        vm.prank(other);
        registry.registerPublisher("Other Lab", "https://other.example/lab.json");

        IProvenanceRegistry.Publisher memory p = registry.getPublisher(other);
        assertEq(p.admin, other);
        assertEq(p.registeredAt, 1_700_000_123);
        assertEq(p.pendingAdmin, address(0));
        assertEq(p.name, "Other Lab");
        assertEq(p.metadataURI, "https://other.example/lab.json");
    }

    function test_GetPublisher_Unknown() public view {
        IProvenanceRegistry.Publisher memory p = registry.getPublisher(stranger);
        assertEq(p.registeredAt, 0);
        assertEq(p.admin, address(0));
        assertEq(bytes(p.name).length, 0);
    }

    function test_RevertWhen_RegisterPublisher_AlreadyRegistered() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryPublisherExists.selector, lab));
        vm.prank(lab);
        registry.registerPublisher("Acme again", "");
    }

    /// @dev A former publisher id stays taken even after its admin moved to another address.
    function test_RevertWhen_RegisterPublisher_AfterAdminTransfer() public {
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryPublisherExists.selector, lab));
        vm.prank(lab);
        registry.registerPublisher("Acme again", "");
    }

    function testFuzz_RegisterPublisher(address who, string calldata name, string calldata uri) public {
        if (who == lab) who = stranger; // `lab` is registered by the fixture
        vm.prank(who);
        registry.registerPublisher(name, uri);
        IProvenanceRegistry.Publisher memory p = registry.getPublisher(who);
        assertEq(p.admin, who);
        assertEq(p.registeredAt, block.timestamp);
        assertEq(p.name, name);
        assertEq(p.metadataURI, uri);
    }

    // ---------------------------------------------------------------------------------------------
    // transferPublisherAdmin / acceptPublisherAdmin
    // ---------------------------------------------------------------------------------------------

    function test_TransferPublisherAdmin() public {
        address newAdmin = makeAddr("new admin");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.PublisherAdminTransferStarted(lab, lab, newAdmin);
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);

        IProvenanceRegistry.Publisher memory p = registry.getPublisher(lab);
        assertEq(p.admin, lab, "admin moves only on accept");
        assertEq(p.pendingAdmin, newAdmin);
    }

    function test_TransferPublisherAdmin_ZeroCancels() public {
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.PublisherAdminTransferStarted(lab, lab, address(0));
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, address(0));
        assertEq(registry.getPublisher(lab).pendingAdmin, address(0));

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPendingAdmin.selector, lab, newAdmin));
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);
    }

    function test_AcceptPublisherAdmin() public {
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.PublisherAdminTransferred(lab, lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);

        IProvenanceRegistry.Publisher memory p = registry.getPublisher(lab);
        assertEq(p.admin, newAdmin);
        assertEq(p.pendingAdmin, address(0));

        // The publisher id never changes; the old admin lost its rights, the new one has them.
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, lab));
        _addAttestor(lab, lab, keyPk);
        _addAttestor(newAdmin, lab, keyPk);
        assertTrue(registry.isActiveAttestor(lab, key));
    }

    function test_RevertWhen_AcceptPublisherAdmin_NotPendingAdmin() public {
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPendingAdmin.selector, lab, stranger));
        vm.prank(stranger);
        registry.acceptPublisherAdmin(lab);
    }

    function test_RevertWhen_AcceptPublisherAdmin_Twice() public {
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPendingAdmin.selector, lab, newAdmin));
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);
    }

    function test_RevertWhen_TransferPublisherAdmin_NotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, stranger));
        vm.prank(stranger);
        registry.transferPublisherAdmin(lab, stranger);
    }

    function test_RevertWhen_TransferPublisherAdmin_UnknownPublisher() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        vm.prank(stranger);
        registry.transferPublisherAdmin(stranger, lab);
    }

    // ---------------------------------------------------------------------------------------------
    // addAttestor
    // ---------------------------------------------------------------------------------------------

    function test_AddAttestor() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        vm.warp(1_700_000_500);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorAdded(lab, key);
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);

        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(key);
        assertEq(k.publisher, lab);
        assertEq(k.addedAt, 1_700_000_500);
        assertEq(k.revokedAt, 0);
        assertEq(k.compromisedSince, 0);
        assertTrue(registry.isActiveAttestor(lab, key));
    }

    /// @dev The key's signature is good until its deadline, inclusive, whoever the admin is when it is used.
    function test_AddAttestor_AtDeadline() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        vm.warp(deadline);
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
        assertTrue(registry.isActiveAttestor(lab, key));
    }

    function testFuzz_AddAttestor(uint256 keyPk, uint256 deadline) public {
        keyPk = bound(keyPk, 1, SECP256K1_N - 1);
        address key = vm.addr(keyPk);
        if (key == attestor) return; // already bound by the fixture
        deadline = bound(deadline, block.timestamp, type(uint256).max);
        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
        assertEq(registry.getAttestorKey(key).publisher, lab);
    }

    function test_IsActiveAttestor() public {
        address other = _otherPublisher();
        assertTrue(registry.isActiveAttestor(lab, attestor));
        assertFalse(registry.isActiveAttestor(other, attestor), "bound to another publisher");
        assertFalse(registry.isActiveAttestor(lab, stranger), "never added");
        assertFalse(registry.isActiveAttestor(address(0), stranger), "zero publisher, unbound key");
        assertFalse(registry.isActiveAttestor(address(0), address(0)));
    }

    function test_GetAttestorKey_Unknown() public view {
        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(stranger);
        assertEq(k.publisher, address(0));
        assertEq(k.addedAt, 0);
    }

    function test_RevertWhen_AddAttestor_ZeroKey() public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(attestorPk, lab, deadline);
        vm.expectRevert(IProvenanceRegistry.RegistryZeroAddress.selector);
        vm.prank(lab);
        registry.addAttestor(lab, address(0), deadline, keySignature);
    }

    function test_RevertWhen_AddAttestor_NotAdmin() public {
        (, uint256 keyPk) = makeAddrAndKey("key 2");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        _addAttestor(attestor, lab, keyPk); // an attestor key is not an admin
    }

    /// @dev The key itself cannot add itself: only the admin may, with the key's signature.
    function test_RevertWhen_AddAttestor_ByTheKeyItself() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, key));
        _addAttestor(key, lab, keyPk);
    }

    function test_RevertWhen_AddAttestor_UnknownPublisher() public {
        (, uint256 keyPk) = makeAddrAndKey("key 2");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        _addAttestor(stranger, stranger, keyPk);
    }

    function test_RevertWhen_AddAttestor_AlreadyAdded() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        _addAttestor(lab, lab, attestorPk);
    }

    /// @dev Even the key's own signature cannot move it to another publisher: keys are bound forever.
    function test_RevertWhen_AddAttestor_BoundToOtherPublisher() public {
        address other = _otherPublisher();
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        _addAttestor(other, other, attestorPk);
    }

    function test_RevertWhen_AddAttestor_Revoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        _addAttestor(lab, lab, attestorPk);
    }

    function test_RevertWhen_AddAttestor_Expired() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, deadline));
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
    }

    /// @dev A signature by any other key is no proof of possession of `key`.
    function testFuzz_RevertWhen_AddAttestor_SignedByOtherKey(uint256 signerPk) public {
        (address key,) = makeAddrAndKey("key 2");
        signerPk = bound(signerPk, 1, SECP256K1_N - 1);
        address signer = vm.addr(signerPk);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(signerPk, lab, deadline);
        vm.prank(lab);
        if (signer == key) {
            registry.addAttestor(lab, key, deadline, keySignature);
            return;
        }
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, signer));
        registry.addAttestor(lab, key, deadline, keySignature);
    }

    /// @dev The signature names the publisher and the deadline: changing either recovers another address.
    function test_RevertWhen_AddAttestor_SignedFieldChanged() public {
        address other = _otherPublisher();
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory keySignature = _signAddAttestor(keyPk, other, deadline);
        address recovered = _recover(_addAttestorDigest(address(registry), lab, deadline), keySignature);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, recovered));
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);

        keySignature = _signAddAttestor(keyPk, lab, deadline);
        recovered = _recover(_addAttestorDigest(address(registry), lab, deadline + 1), keySignature);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, key, recovered));
        vm.prank(lab);
        registry.addAttestor(lab, key, deadline + 1, keySignature);
    }

    function test_RevertWhen_AddAttestor_InvalidSignature() public {
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp + 1 hours;
        (bytes32 rr, bytes32 s, uint8 v) = _split(_signAddAttestor(keyPk, lab, deadline));
        bytes[4] memory bad = [
            bytes(""),
            abi.encodePacked(rr, s, v, hex"00"),
            abi.encodePacked(rr, s, uint8(29)),
            abi.encodePacked(rr, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27))
        ];
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
            vm.prank(lab);
            registry.addAttestor(lab, key, deadline, bad[i]);
        }
    }

    /// @dev Errors come in order: admin (publisher, then caller), zero key, deadline, signature, key holder, key
    ///      already bound. Each step below fixes one problem and expects the next error.
    function test_AddAttestor_CheckOrder() public {
        address other = _otherPublisher();
        (address key, uint256 keyPk) = makeAddrAndKey("key 2");
        uint256 deadline = block.timestamp - 1;
        bytes memory badSig = hex"1234";

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        vm.prank(lab);
        registry.addAttestor(stranger, address(0), deadline, badSig);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, other));
        vm.prank(other);
        registry.addAttestor(lab, address(0), deadline, badSig);

        vm.expectRevert(IProvenanceRegistry.RegistryZeroAddress.selector);
        vm.prank(lab);
        registry.addAttestor(lab, address(0), deadline, badSig);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, deadline));
        vm.prank(lab);
        registry.addAttestor(lab, attestor, deadline, badSig);
        deadline = block.timestamp;

        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        vm.prank(lab);
        registry.addAttestor(lab, attestor, deadline, badSig);

        bytes memory keySignature = _signAddAttestor(keyPk, lab, deadline);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotKeyHolder.selector, attestor, key));
        vm.prank(lab);
        registry.addAttestor(lab, attestor, deadline, keySignature);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        vm.prank(lab);
        registry.addAttestor(lab, attestor, deadline, _signAddAttestor(attestorPk, lab, deadline));

        vm.prank(lab);
        registry.addAttestor(lab, key, deadline, keySignature);
        assertTrue(registry.isActiveAttestor(lab, key));
    }

    // ---------------------------------------------------------------------------------------------
    // revokeAttestor
    // ---------------------------------------------------------------------------------------------

    function test_RevokeAttestor() public {
        vm.warp(1_700_000_900);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorRevoked(lab, attestor);
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);

        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(attestor);
        assertEq(k.publisher, lab, "binding is kept");
        assertEq(k.revokedAt, 1_700_000_900);
        assertEq(k.compromisedSince, 0);
        assertFalse(registry.isActiveAttestor(lab, attestor));
    }

    /// @dev Past attestations stay valid when their key is revoked.
    function test_RevokeAttestor_KeepsPastVersions() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        assertTrue(registry.isRegistered(lab, V1));
        assertEq(registry.getModelVersion(lab, V1).revokedAt, 0);
        assertFalse(registry.isSignedByCompromisedKey(lab, V1));
    }

    function test_RevertWhen_RevokeAttestor_UnknownAttestor() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownAttestor.selector, lab, stranger));
        vm.prank(lab);
        registry.revokeAttestor(lab, stranger);
    }

    function test_RevertWhen_RevokeAttestor_KeyOfOtherPublisher() public {
        address other = _otherPublisher();
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownAttestor.selector, other, attestor));
        vm.prank(other);
        registry.revokeAttestor(other, attestor);
    }

    function test_RevertWhen_RevokeAttestor_AlreadyRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorAlreadyRevoked.selector, attestor));
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
    }

    function test_RevertWhen_RevokeAttestor_NotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        vm.prank(attestor);
        registry.revokeAttestor(lab, attestor);
    }

    // ---------------------------------------------------------------------------------------------
    // markAttestorCompromised
    // ---------------------------------------------------------------------------------------------

    function test_MarkAttestorCompromised() public {
        uint64 since = uint64(block.timestamp - 1 days);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorRevoked(lab, attestor);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorCompromised(lab, attestor, since);
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, since);

        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(attestor);
        assertEq(k.compromisedSince, since);
        assertEq(k.revokedAt, block.timestamp);
        assertFalse(registry.isActiveAttestor(lab, attestor));
    }

    function test_MarkAttestorCompromised_AlreadyRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        uint64 revokedAt = registry.getAttestorKey(attestor).revokedAt;
        vm.warp(block.timestamp + 1 days);

        vm.recordLogs();
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "no second AttestorRevoked");
        assertEq(logs[0].topics[0], IProvenanceRegistry.AttestorCompromised.selector);
        assertEq(registry.getAttestorKey(attestor).revokedAt, revokedAt, "revocation time unchanged");
    }

    function test_MarkAttestorCompromised_MovesEarlier() public {
        vm.startPrank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp - 100));
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp - 100)); // same time is allowed
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorCompromised(lab, attestor, uint64(block.timestamp - 200));
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp - 200));
        vm.stopPrank();
        assertEq(registry.getAttestorKey(attestor).compromisedSince, block.timestamp - 200);
    }

    function test_RevertWhen_MarkAttestorCompromised_InFuture() public {
        uint64 since = uint64(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidCompromiseTime.selector, since));
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, since);
    }

    function test_RevertWhen_MarkAttestorCompromised_LaterThanExisting() public {
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp - 100));
        uint64 later = uint64(block.timestamp - 99);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidCompromiseTime.selector, later));
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, later);
    }

    /// @dev Zero means "never flagged", so it is refused as a compromise time.
    function test_RevertWhen_MarkAttestorCompromised_ZeroTime() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidCompromiseTime.selector, 0));
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, 0);
    }

    function test_RevertWhen_MarkAttestorCompromised_UnknownAttestor() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownAttestor.selector, lab, stranger));
        vm.prank(lab);
        registry.markAttestorCompromised(lab, stranger, 1);
    }

    function test_RevertWhen_MarkAttestorCompromised_NotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, stranger));
        vm.prank(stranger);
        registry.markAttestorCompromised(lab, attestor, 1);
    }

    function testFuzz_MarkAttestorCompromised(uint64 first, uint64 second) public {
        first = uint64(bound(first, 1, block.timestamp));
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, first);

        second = uint64(bound(second, 0, block.timestamp + 1000));
        vm.prank(lab);
        if (second == 0 || second > first) {
            vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidCompromiseTime.selector, second));
            registry.markAttestorCompromised(lab, attestor, second);
            assertEq(registry.getAttestorKey(attestor).compromisedSince, first);
        } else {
            registry.markAttestorCompromised(lab, attestor, second);
            assertEq(registry.getAttestorKey(attestor).compromisedSince, second);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // isSignedByCompromisedKey
    // ---------------------------------------------------------------------------------------------

    function test_IsSignedByCompromisedKey() public {
        uint64 t0 = uint64(block.timestamp);
        _registerVersion(V1); // at t0
        vm.warp(t0 + 100);
        _registerVersion(V2); // at t0 + 100
        vm.warp(t0 + 200);

        assertFalse(registry.isSignedByCompromisedKey(lab, V1));
        assertFalse(registry.isSignedByCompromisedKey(lab, V2));

        // Compromised from exactly V2's registration time: V2 is flagged, V1 is not.
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, t0 + 100);
        assertFalse(registry.isSignedByCompromisedKey(lab, V1));
        assertTrue(registry.isSignedByCompromisedKey(lab, V2));

        // Moving the time earlier flags V1 too.
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, t0);
        assertTrue(registry.isSignedByCompromisedKey(lab, V1));
    }

    function test_IsSignedByCompromisedKey_UnknownVersion() public view {
        assertFalse(registry.isSignedByCompromisedKey(lab, V1));
    }

    /// @dev The flag belongs to a claim, through its own attestor key: another publisher's claim of the same hash,
    ///      made with its own key, is not flagged when `lab`'s key is.
    function test_IsSignedByCompromisedKey_PerClaim() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        _registerVersion(V1);
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);

        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, uint64(block.timestamp));
        assertTrue(registry.isSignedByCompromisedKey(lab, V1));
        assertFalse(registry.isSignedByCompromisedKey(other, V1));
        assertFalse(registry.isSignedByCompromisedKey(stranger, V1), "no claim");
    }

    // ---------------------------------------------------------------------------------------------
    // registerModelVersion
    // ---------------------------------------------------------------------------------------------

    function test_RegisterModelVersion() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V1, r.modelId, lab, bytes32(0), attestor, r.metadataURI, r.metadataHash, 0, 0, "acme/llm-7b"
        );
        _registerSigned(r);

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, V1);
        assertEq(v.modelId, r.modelId);
        assertEq(v.parent, bytes32(0));
        assertEq(v.metadataHash, r.metadataHash);
        assertEq(v.publisher, lab);
        assertEq(v.registeredAt, block.timestamp);
        assertEq(v.attestor, attestor);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.revokedAt, 0);
        assertEq(v.committedAt, 0, "no commitment revealed");
        assertEq(v.committedBlock, 0);
        assertEq(v.metadataURI, r.metadataURI);
        assertTrue(registry.isRegistered(lab, V1));
        assertTrue(registry.isClaimed(V1));
        assertTrue(registry.isNonceUsed(attestor, r.nonce));
        assertFalse(registry.isNonceUsed(relayer, r.nonce), "nonces belong to the signer, not the sender");
    }

    function test_RegisterModelVersion_WithParent() public {
        _registerVersion(V1);
        IProvenanceRegistry.VersionClaim memory r = _claim(V2);
        r.parent = V1;
        r.modelId = keccak256("acme/llm-7b-q4");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V2, r.modelId, lab, V1, attestor, r.metadataURI, r.metadataHash, 0, 0, "acme/llm-7b-q4"
        );
        _registerSigned(r);
        assertEq(registry.getModelVersion(lab, V2).parent, V1);
    }

    /// @dev A name is optional; one given must hash to the signed model id and fit `MAX_MODEL_NAME_LENGTH`, so a
    ///      relayer cannot put another name on a lab's claim.
    function test_RegisterModelVersion_ModelNameIsBoundToTheSignedModelId() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        bytes memory signature = _sign(attestorPk, r);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidModelName.selector, r.modelId));
        registry.registerModelVersion(r, "evil/llm-7b", signature);

        r.modelId = keccak256(bytes(_longName(257)));
        signature = _sign(attestorPk, r);
        vm.prank(relayer);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryInvalidModelName.selector, r.modelId));
        registry.registerModelVersion(r, _longName(257), signature);

        r.modelId = keccak256(bytes(_longName(256)));
        signature = _sign(attestorPk, r);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V1, r.modelId, lab, bytes32(0), attestor, r.metadataURI, r.metadataHash, 0, 0, _longName(256)
        );
        vm.prank(relayer);
        registry.registerModelVersion(r, _longName(256), signature);

        IProvenanceRegistry.VersionClaim memory privateName = _claim(V2);
        signature = _sign(attestorPk, privateName);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V2,
            privateName.modelId,
            lab,
            bytes32(0),
            attestor,
            privateName.metadataURI,
            privateName.metadataHash,
            0,
            0,
            ""
        );
        vm.prank(relayer);
        registry.registerModelVersion(privateName, "", signature);
    }

    function _longName(uint256 length) private pure returns (string memory) {
        bytes memory name = new bytes(length);
        for (uint256 i = 0; i < length; i++) {
            name[i] = "a";
        }
        return string(name);
    }

    /// @dev A revoked version is still a registered version, so it can still be a parent.
    function test_RegisterModelVersion_RevokedParent() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "superseded");
        IProvenanceRegistry.VersionClaim memory r = _claim(V2);
        r.parent = V1;
        _registerSigned(r);
        assertEq(registry.getModelVersion(lab, V2).parent, V1);
    }

    function test_RegisterModelVersion_EmptyOptionalFields() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.modelId = bytes32(0);
        r.metadataURI = "";
        r.metadataHash = bytes32(0);
        _registerSigned(r);
        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, V1);
        assertEq(v.modelId, bytes32(0));
        assertEq(v.metadataHash, bytes32(0));
        assertEq(bytes(v.metadataURI).length, 0);
        assertEq(v.attestor, attestor);
    }

    function test_RegisterModelVersion_AtDeadline() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.deadline = block.timestamp;
        _registerSigned(r);
        assertTrue(registry.isRegistered(lab, V1));
    }

    /// @dev The key may also send its own transaction.
    function test_RegisterModelVersion_SentBySigner() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        _submitFrom(attestor, registry, r, _sign(attestorPk, r));
        assertEq(registry.getModelVersion(lab, V1).attestor, attestor);
    }

    function test_GetModelVersion_Unknown() public view {
        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, V1);
        assertEq(v.registeredAt, 0);
        assertEq(v.publisher, address(0));
        assertFalse(registry.isRegistered(lab, V1));
        assertFalse(registry.isClaimed(V1));
    }

    /// @dev Another publisher's claim of the same hash: a record of its own, which leaves `lab`'s untouched.
    function test_RegisterModelVersion_SameHashByAnotherPublisher() public {
        IProvenanceRegistry.VersionClaim memory ours = _registerVersion(V1);
        (address other, address otherKey, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        theirs.modelId = keccak256("other/model");
        theirs.metadataURI = "ipfs://other-card";
        theirs.metadataHash = bytes32(0);
        _nextBlock();

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V1,
            theirs.modelId,
            other,
            bytes32(0),
            otherKey,
            theirs.metadataURI,
            bytes32(0),
            0,
            0,
            _nameOf(theirs.modelId)
        );
        _submitAs(otherPk, theirs);

        IProvenanceRegistry.ModelVersion memory a = registry.getModelVersion(lab, V1);
        IProvenanceRegistry.ModelVersion memory b = registry.getModelVersion(other, V1);
        assertEq(a.publisher, lab);
        assertEq(a.attestor, attestor);
        assertEq(a.modelId, ours.modelId);
        assertEq(a.metadataURI, ours.metadataURI);
        assertEq(a.registeredAt, block.timestamp - 12);
        assertEq(b.publisher, other);
        assertEq(b.attestor, otherKey);
        assertEq(b.modelId, theirs.modelId);
        assertEq(b.metadataURI, theirs.metadataURI);
        assertEq(b.registeredAt, block.timestamp);
        assertTrue(registry.isRegistered(lab, V1) && registry.isRegistered(other, V1));
    }

    /// @dev A claim that reveals a commitment from an earlier block records that block as its priority.
    function test_RegisterModelVersion_RevealsCommitment() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = keccak256("salt");
        bytes32 commitment = _commit(r);
        (uint64 committedAt, uint64 committedBlock) = (uint64(block.timestamp), uint64(block.number));
        vm.warp(block.timestamp + 60);
        vm.roll(block.number + 5);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V1,
            r.modelId,
            lab,
            bytes32(0),
            attestor,
            r.metadataURI,
            r.metadataHash,
            committedAt,
            committedBlock,
            "acme/llm-7b"
        );
        _registerSigned(r);

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, V1);
        assertEq(v.committedAt, committedAt);
        assertEq(v.committedBlock, committedBlock);
        assertEq(v.registeredAt, block.timestamp);
        assertEq(v.registeredBlock, block.number);
        (uint64 at, uint64 blockNumber) = registry.getCommitment(commitment);
        assertEq(at, committedAt, "the commitment stays recorded");
        assertEq(blockNumber, committedBlock);
    }

    /// @dev The commitment of the block just before is enough.
    function test_RegisterModelVersion_RevealsCommitmentOfPreviousBlock() public {
        uint256 committedBlock = _commitAndRegister(attestorPk, _claim(V1), keccak256("salt"));
        assertEq(registry.getModelVersion(lab, V1).committedBlock, committedBlock);
        assertEq(registry.getModelVersion(lab, V1).registeredBlock, committedBlock + 1);
    }

    function testFuzz_RegisterModelVersion_RevealsCommitment(bytes32 salt, uint256 blocks) public {
        salt = bytes32(bound(uint256(salt), 1, type(uint256).max));
        blocks = bound(blocks, 1, 1_000_000);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = salt;
        _commit(r);
        uint256 committedBlock = block.number;
        vm.roll(block.number + blocks);
        _registerSigned(r);
        assertEq(registry.getModelVersion(lab, V1).committedBlock, committedBlock);
    }

    function testFuzz_RegisterModelVersion(
        bytes32 versionHash,
        bytes32 modelId,
        string calldata metadataURI,
        bytes32 metadataHash,
        uint256 nonce,
        uint256 deadline,
        uint256 elapsed
    ) public {
        versionHash = bytes32(bound(uint256(versionHash), 1, type(uint256).max));
        elapsed = bound(elapsed, 0, 365 days);
        deadline = bound(deadline, block.timestamp + elapsed, type(uint256).max);
        IProvenanceRegistry.VersionClaim memory r = IProvenanceRegistry.VersionClaim(
            lab, versionHash, modelId, 0, metadataURI, metadataHash, 0, nonce, deadline
        );

        vm.warp(block.timestamp + elapsed);
        vm.roll(block.number + elapsed / 12);
        _registerSigned(r);

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, versionHash);
        assertEq(v.modelId, modelId);
        assertEq(v.parent, bytes32(0));
        assertEq(v.metadataHash, metadataHash);
        assertEq(v.publisher, lab);
        assertEq(v.registeredAt, block.timestamp);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.attestor, attestor);
        assertEq(v.revokedAt, 0);
        assertEq(v.committedAt, 0);
        assertEq(v.committedBlock, 0);
        assertEq(v.metadataURI, metadataURI);
        assertTrue(registry.isNonceUsed(attestor, nonce));
    }

    function test_RevertWhen_RegisterModelVersion_Expired() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.warp(r.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, r.deadline));
        _registerSigned(r);
    }

    function testFuzz_RevertWhen_RegisterModelVersion_Expired(uint256 deadline, uint256 late) public {
        deadline = bound(deadline, 0, block.timestamp + 10 * 365 days);
        late = bound(late, 1, 365 days);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.deadline = deadline;
        vm.warp(deadline + late);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, deadline));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_ZeroVersionHash() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(bytes32(0));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidVersionHash.selector);
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_VersionExists() public {
        _registerVersion(V1);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.nonce = 999; // a fresh nonce: the duplicate claim alone is refused
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V1));
        _registerSigned(r);
    }

    /// @dev A publisher cannot claim a hash twice, even with a commitment (which would give the claim an
    ///      earlier priority than it had).
    function test_RevertWhen_RegisterModelVersion_VersionExistsWithCommitment() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = keccak256("salt");
        _commit(r);
        _nextBlock();
        _registerVersion(V1);
        r.nonce = 999;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V1));
        _registerSigned(r);
    }

    /// @dev A revoked claim still exists: the publisher cannot claim the hash again.
    function test_RevertWhen_RegisterModelVersion_RevokedClaimExists() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "");
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.nonce = 999;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V1));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_UnknownCommitment() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = keccak256("never committed");
        bytes32 commitment = _commitment(lab, V1, r.commitSalt);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownCommitment.selector, commitment));
        _registerSigned(r);
    }

    /// @dev The commitment binds the publisher and the version hash: one made for another publisher or another
    ///      hash, with the same salt, is not found.
    function test_RevertWhen_RegisterModelVersion_CommitmentOfOtherClaim() public {
        bytes32 salt = keccak256("salt");
        vm.startPrank(relayer);
        registry.commitModelVersion(_commitment(stranger, V1, salt));
        registry.commitModelVersion(_commitment(lab, V2, salt));
        vm.stopPrank();
        _nextBlock();
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = salt;
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownCommitment.selector, _commitment(lab, V1, salt))
        );
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_CommitmentTooRecent() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.commitSalt = keccak256("salt");
        bytes32 commitment = _commit(r);
        vm.warp(block.timestamp + 60); // time alone does not help: the block must change
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryCommitmentTooRecent.selector, commitment));
        _registerSigned(r);
        vm.roll(block.number + 1);
        _registerSigned(r);
        assertTrue(registry.isRegistered(lab, V1));
    }

    function test_RevertWhen_RegisterModelVersion_UnknownParent() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V2);
        r.parent = V1;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownParent.selector, V1));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_UnknownPublisher() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.publisher = stranger;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_SignatureWrongLength() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        bytes memory signature = _sign(attestorPk, r);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, bytes.concat(signature, hex"00"));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, "");
    }

    function test_RevertWhen_RegisterModelVersion_SignatureInvalidV() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        (bytes32 rr, bytes32 s,) = _split(_sign(attestorPk, r));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(rr, s, uint8(29)));
    }

    function test_RevertWhen_RegisterModelVersion_SignatureZeroed() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(bytes32(0), bytes32(0), uint8(27)));
    }

    /// @dev The high-s twin of a valid signature recovers the same key, but is refused (no malleability).
    function test_RevertWhen_RegisterModelVersion_SignatureMalleable() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        (bytes32 rr, bytes32 s, uint8 v) = _split(_sign(attestorPk, r));
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        assertEq(ecrecover(_digest(address(registry), r), flippedV, rr, highS), attestor);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(rr, highS, flippedV));
    }

    function test_RevertWhen_RegisterModelVersion_SignerNeverAdded() public {
        (address rogue, uint256 roguePk) = makeAddrAndKey("rogue");
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, rogue));
        _submitAs(roguePk, r);
    }

    function test_RevertWhen_RegisterModelVersion_SignerOfOtherPublisher() public {
        address other = _otherPublisher();
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        r.publisher = other; // the attestor key is bound to `lab`, not `other`
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, other, attestor)
        );
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_SignerRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, attestor));
        _registerSigned(r);
    }

    /// @dev The admin key is not an attestor key unless added as one.
    function test_RevertWhen_RegisterModelVersion_SignedByAdmin() public {
        (address admin, uint256 adminPk) = makeAddrAndKey("admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, admin);
        vm.prank(admin);
        registry.acceptPublisherAdmin(lab);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, admin));
        _submitAs(adminPk, r);
    }

    function testFuzz_RevertWhen_RegisterModelVersion_UnauthorizedKey(uint256 pk) public {
        pk = bound(pk, 1, SECP256K1_N - 1);
        address signer = vm.addr(pk);
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        if (signer == attestor) {
            _submitAs(pk, r);
            return;
        }
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, signer));
        _submitAs(pk, r);
    }

    /// @dev Changing any signed field after signing recovers another address, which is not an attestor.
    function testFuzz_RevertWhen_RegisterModelVersion_FieldTampered(uint8 field, bytes32 value) public {
        _registerVersion(V2); // a registered version to use as a tampered parent
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        bytes memory signature = _sign(attestorPk, r);

        field = uint8(bound(field, 0, 6));
        value = bytes32(bound(uint256(value), 1, type(uint256).max));
        if (field == 0) r.modelId = r.modelId ^ value;
        else if (field == 1) r.parent = V2;
        else if (field == 2) r.metadataURI = string.concat(r.metadataURI, "#");
        else if (field == 3) r.metadataHash = r.metadataHash ^ value;
        else if (field == 4) r.nonce = r.nonce ^ uint256(value);
        else if (field == 5) r.commitSalt = value; // the signed claim revealed no commitment
        else r.deadline = r.deadline + 1;

        address recovered = _recoverOn(registry, r, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(r, signature);
    }

    function test_RevertWhen_RegisterModelVersion_NonceUsed() public {
        IProvenanceRegistry.VersionClaim memory r = _claim(V1);
        vm.prank(attestor);
        registry.invalidateNonce(r.nonce);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, r.nonce));
        _registerSigned(r);
    }

    /// @dev Errors come in order: deadline, version hash, publisher, the publisher's duplicate claim, parent,
    ///      signature, signer, nonce, commitment (unknown, then too recent). Each step below fixes one problem and
    ///      expects the next error.
    function test_RegisterModelVersion_CheckOrder() public {
        _registerVersion(V2);
        vm.prank(attestor);
        registry.invalidateNonce(7);

        IProvenanceRegistry.VersionClaim memory r = _claim(V2); // duplicate
        r.parent = keccak256("unknown parent");
        r.publisher = stranger;
        r.nonce = 7;
        r.deadline = block.timestamp - 1;
        r.commitSalt = keccak256("salt");
        bytes memory badSig = hex"1234";

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, r.deadline));
        _submit(r, badSig);
        r.deadline = block.timestamp;

        r.versionHash = bytes32(0);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidVersionHash.selector);
        _submit(r, badSig);
        r.versionHash = V2;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        _submit(r, badSig);
        r.publisher = lab;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, lab, V2));
        _submit(r, badSig);
        r.versionHash = V1;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownParent.selector, r.parent));
        _submit(r, badSig);
        r.parent = V2;

        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, badSig);

        (, uint256 roguePk) = makeAddrAndKey("rogue");
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, vm.addr(roguePk))
        );
        _submitAs(roguePk, r);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, 7));
        _registerSigned(r);
        r.nonce = 8;

        bytes32 commitment = _commitment(lab, V1, r.commitSalt);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownCommitment.selector, commitment));
        _registerSigned(r);
        _commit(r);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryCommitmentTooRecent.selector, commitment));
        _registerSigned(r);
        vm.roll(block.number + 1);

        _registerSigned(r);
        assertTrue(registry.isRegistered(lab, V1));
    }

    // ---------------------------------------------------------------------------------------------
    // revokeModelVersion
    // ---------------------------------------------------------------------------------------------

    function test_RevokeModelVersion() public {
        _registerVersion(V1);
        vm.warp(block.timestamp + 1 days);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRevoked(V1, lab, "weights leaked");
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "weights leaked");

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(lab, V1);
        assertEq(v.revokedAt, block.timestamp);
        assertEq(v.attestor, attestor, "history is kept");
        assertTrue(registry.isRegistered(lab, V1), "revoked versions stay registered");
    }

    function test_RevokeModelVersion_ByNewAdmin() public {
        _registerVersion(V1);
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);
        vm.prank(newAdmin);
        registry.revokeModelVersion(lab, V1, "");
        assertTrue(registry.getModelVersion(lab, V1).revokedAt != 0);
    }

    function test_RevertWhen_RevokeModelVersion_UnknownVersion() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, lab, V1));
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "");
    }

    function test_RevertWhen_RevokeModelVersion_NotAdmin() public {
        _registerVersion(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        vm.prank(attestor); // the signing key is not the admin
        registry.revokeModelVersion(lab, V1, "");
    }

    function test_RevertWhen_RevokeModelVersion_AlreadyRevoked() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "first");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionAlreadyRevoked.selector, lab, V1));
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "second");
    }

    function test_RevertWhen_RevokeModelVersion_UnknownPublisher() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        vm.prank(stranger);
        registry.revokeModelVersion(stranger, V1, "");
    }

    /// @dev A publisher revokes only its own claims: `lab`'s admin can neither revoke `other`'s claim of a hash
    ///      nor find a claim of its own to revoke.
    function test_RevertWhen_RevokeModelVersion_ClaimOfOtherPublisher() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, other, lab));
        vm.prank(lab);
        registry.revokeModelVersion(other, V1, "");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, lab, V1));
        vm.prank(lab);
        registry.revokeModelVersion(lab, V1, "");
        assertEq(registry.getModelVersion(other, V1).revokedAt, 0);
    }

    // ---------------------------------------------------------------------------------------------
    // commitModelVersion / commitmentOf / getCommitment / isClaimed
    // ---------------------------------------------------------------------------------------------

    function test_CommitModelVersion() public {
        bytes32 commitment = _commitment(lab, V1, keccak256("salt"));
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionCommitted(commitment);
        vm.prank(stranger); // anyone may send it
        registry.commitModelVersion(commitment);
        (uint64 at, uint64 blockNumber) = registry.getCommitment(commitment);
        assertEq(at, block.timestamp);
        assertEq(blockNumber, block.number);
    }

    /// @dev Sending a recorded commitment again, later or from someone else, changes nothing and emits nothing.
    function test_CommitModelVersion_AgainKeepsFirstBlock() public {
        bytes32 commitment = _commitment(lab, V1, keccak256("salt"));
        vm.prank(lab);
        registry.commitModelVersion(commitment);
        (uint64 at, uint64 blockNumber) = (uint64(block.timestamp), uint64(block.number));
        vm.warp(block.timestamp + 1 days);
        vm.roll(block.number + 7200);

        vm.recordLogs();
        vm.prank(stranger);
        registry.commitModelVersion(commitment);
        assertEq(vm.getRecordedLogs().length, 0, "no second event");
        (uint64 at2, uint64 blockNumber2) = registry.getCommitment(commitment);
        assertEq(at2, at);
        assertEq(blockNumber2, blockNumber);
    }

    function test_GetCommitment_Unknown() public view {
        (uint64 at, uint64 blockNumber) = registry.getCommitment(keccak256("nothing"));
        assertEq(at, 0);
        assertEq(blockNumber, 0);
    }

    function testFuzz_CommitmentOf(address publisher, bytes32 versionHash, bytes32 salt) public view {
        assertEq(registry.commitmentOf(publisher, versionHash, salt), _commitment(publisher, versionHash, salt));
    }

    /// @dev A commitment reveals nothing of its version: commitments of the same hash with different salts, or by
    ///      different publishers, differ.
    function test_CommitmentOf_HidesVersion() public view {
        bytes32 a = registry.commitmentOf(lab, V1, keccak256("salt 1"));
        assertTrue(a != registry.commitmentOf(lab, V1, keccak256("salt 2")));
        assertTrue(a != registry.commitmentOf(stranger, V1, keccak256("salt 1")));
        assertTrue(a != registry.commitmentOf(lab, V2, keccak256("salt 1")));
    }

    /// @dev `isClaimed` is true once any publisher claims the hash, and stays true when the claim is revoked.
    function test_IsClaimed() public {
        (address other,, uint256 otherPk) = _newPublisher("other lab", "Other Lab");
        IProvenanceRegistry.VersionClaim memory theirs = _claim(V1);
        theirs.publisher = other;
        _submitAs(otherPk, theirs);
        assertTrue(registry.isClaimed(V1));
        assertFalse(registry.isRegistered(lab, V1));
        assertFalse(registry.isClaimed(V2));

        vm.prank(other);
        registry.revokeModelVersion(other, V1, "");
        assertTrue(registry.isClaimed(V1));
        assertFalse(registry.isClaimed(bytes32(0)));
    }

    // ---------------------------------------------------------------------------------------------
    // invalidateNonce
    // ---------------------------------------------------------------------------------------------

    function test_InvalidateNonce() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.NonceInvalidated(attestor, 42);
        vm.prank(attestor);
        registry.invalidateNonce(42);
        assertTrue(registry.isNonceUsed(attestor, 42));
        assertFalse(registry.isNonceUsed(attestor, 43));
        assertFalse(registry.isNonceUsed(lab, 42));
    }

    function test_RevertWhen_InvalidateNonce_AlreadyInvalidated() public {
        vm.prank(attestor);
        registry.invalidateNonce(42);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, 42));
        vm.prank(attestor);
        registry.invalidateNonce(42);
    }

    function test_RevertWhen_InvalidateNonce_AlreadyUsedByRegistration() public {
        IProvenanceRegistry.VersionClaim memory r = _registerVersion(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, r.nonce));
        vm.prank(attestor);
        registry.invalidateNonce(r.nonce);
    }

    function testFuzz_InvalidateNonce(address signer, uint256 nonce, uint256 offset) public {
        uint256 other = nonce ^ bound(offset, 1, type(uint256).max); // any nonce but `nonce`
        vm.prank(signer);
        registry.invalidateNonce(nonce);
        assertTrue(registry.isNonceUsed(signer, nonce));
        assertFalse(registry.isNonceUsed(signer, other));
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------

    function _recover(bytes32 digest, bytes memory signature) internal pure returns (address) {
        (bytes32 rr, bytes32 s, uint8 v) = _split(signature);
        return ecrecover(digest, v, rr, s);
    }

    function _otherPublisher() internal returns (address other) {
        other = makeAddr("other lab");
        vm.prank(other);
        registry.registerPublisher("Other Lab", "");
    }

    function _typedDataJson(IProvenanceRegistry.VersionClaim memory r) internal view returns (string memory) {
        string memory fields = string.concat(
            '{"name":"publisher","type":"address"},{"name":"versionHash","type":"bytes32"},',
            '{"name":"modelId","type":"bytes32"},{"name":"parent","type":"bytes32"},',
            '{"name":"metadataURI","type":"string"},{"name":"metadataHash","type":"bytes32"},',
            '{"name":"commitSalt","type":"bytes32"},{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}'
        );
        string memory message = string.concat(
            '"publisher":"',
            vm.toString(r.publisher),
            '","versionHash":"',
            vm.toString(r.versionHash),
            '","modelId":"',
            vm.toString(r.modelId),
            '","parent":"',
            vm.toString(r.parent),
            '","metadataURI":"',
            r.metadataURI,
            '","metadataHash":"',
            vm.toString(r.metadataHash),
            '","commitSalt":"',
            vm.toString(r.commitSalt),
            '","nonce":"',
            vm.toString(r.nonce),
            '","deadline":"',
            vm.toString(r.deadline),
            '"'
        );
        return _typedDataJson("RegisterModelVersion", fields, message);
    }
}
