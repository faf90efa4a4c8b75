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

    // ---------------------------------------------------------------------------------------------
    // EIP-712
    // ---------------------------------------------------------------------------------------------

    function test_Typehash() public view {
        assertEq(registry.REGISTER_MODEL_VERSION_TYPEHASH(), TYPEHASH);
        assertEq(
            TYPEHASH,
            vm.eip712HashType(
                "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
            )
        );
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
        Registration memory r = _registration(V1);
        r.parent = keccak256("parent");
        bytes32 expected = vm.eip712HashTypedData(_typedDataJson(r));
        assertEq(_digest(address(registry), r), expected);
        assertEq(
            registry.hashRegisterModelVersion(
                r.publisher, r.versionHash, r.modelId, r.parent, r.metadataURI, r.metadataHash, r.nonce, r.deadline
            ),
            expected
        );
    }

    function testFuzz_HashRegisterModelVersion(
        address publisher,
        bytes32 versionHash,
        bytes32 modelId,
        bytes32 parent,
        string calldata metadataURI,
        bytes32 metadataHash,
        uint256 nonce,
        uint256 deadline
    ) public view {
        Registration memory r = Registration(
            publisher, versionHash, modelId, parent, metadataURI, metadataHash, nonce, deadline
        );
        assertEq(
            registry.hashRegisterModelVersion(
                publisher, versionHash, modelId, parent, metadataURI, metadataHash, nonce, deadline
            ),
            _digest(address(registry), r)
        );
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
        address key = makeAddr("key 2");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, lab));
        vm.prank(lab);
        registry.addAttestor(lab, key);
        vm.prank(newAdmin);
        registry.addAttestor(lab, key);
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
        address key = makeAddr("key 2");
        vm.warp(1_700_000_500);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.AttestorAdded(lab, key);
        vm.prank(lab);
        registry.addAttestor(lab, key);

        IProvenanceRegistry.AttestorKey memory k = registry.getAttestorKey(key);
        assertEq(k.publisher, lab);
        assertEq(k.addedAt, 1_700_000_500);
        assertEq(k.revokedAt, 0);
        assertEq(k.compromisedSince, 0);
        assertTrue(registry.isActiveAttestor(lab, key));
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
        vm.expectRevert(IProvenanceRegistry.RegistryZeroAddress.selector);
        vm.prank(lab);
        registry.addAttestor(lab, address(0));
    }

    function test_RevertWhen_AddAttestor_NotAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        vm.prank(attestor); // an attestor key is not an admin
        registry.addAttestor(lab, stranger);
    }

    function test_RevertWhen_AddAttestor_UnknownPublisher() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        vm.prank(stranger);
        registry.addAttestor(stranger, makeAddr("key 2"));
    }

    function test_RevertWhen_AddAttestor_AlreadyAdded() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        vm.prank(lab);
        registry.addAttestor(lab, attestor);
    }

    function test_RevertWhen_AddAttestor_BoundToOtherPublisher() public {
        address other = _otherPublisher();
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        vm.prank(other);
        registry.addAttestor(other, attestor);
    }

    function test_RevertWhen_AddAttestor_Revoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryAttestorExists.selector, attestor));
        vm.prank(lab);
        registry.addAttestor(lab, attestor);
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
        assertTrue(registry.isRegistered(V1));
        assertEq(registry.getModelVersion(V1).revokedAt, 0);
        assertFalse(registry.isSignedByCompromisedKey(V1));
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

        assertFalse(registry.isSignedByCompromisedKey(V1));
        assertFalse(registry.isSignedByCompromisedKey(V2));

        // Compromised from exactly V2's registration time: V2 is flagged, V1 is not.
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, t0 + 100);
        assertFalse(registry.isSignedByCompromisedKey(V1));
        assertTrue(registry.isSignedByCompromisedKey(V2));

        // Moving the time earlier flags V1 too.
        vm.prank(lab);
        registry.markAttestorCompromised(lab, attestor, t0);
        assertTrue(registry.isSignedByCompromisedKey(V1));
    }

    function test_IsSignedByCompromisedKey_UnknownVersion() public view {
        assertFalse(registry.isSignedByCompromisedKey(V1));
    }

    // ---------------------------------------------------------------------------------------------
    // registerModelVersion
    // ---------------------------------------------------------------------------------------------

    function test_RegisterModelVersion() public {
        Registration memory r = _registration(V1);

        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(
            V1, r.modelId, lab, bytes32(0), attestor, r.metadataURI, r.metadataHash
        );
        _registerSigned(r);

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(V1);
        assertEq(v.modelId, r.modelId);
        assertEq(v.parent, bytes32(0));
        assertEq(v.metadataHash, r.metadataHash);
        assertEq(v.publisher, lab);
        assertEq(v.registeredAt, block.timestamp);
        assertEq(v.attestor, attestor);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.revokedAt, 0);
        assertEq(v.metadataURI, r.metadataURI);
        assertTrue(registry.isRegistered(V1));
        assertTrue(registry.isNonceUsed(attestor, r.nonce));
        assertFalse(registry.isNonceUsed(relayer, r.nonce), "nonces belong to the signer, not the sender");
    }

    function test_RegisterModelVersion_WithParent() public {
        _registerVersion(V1);
        Registration memory r = _registration(V2);
        r.parent = V1;
        r.modelId = keccak256("acme/llm-7b-q4");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProvenanceRegistry.ModelVersionRegistered(V2, r.modelId, lab, V1, attestor, r.metadataURI, r.metadataHash);
        _registerSigned(r);
        assertEq(registry.getModelVersion(V2).parent, V1);
    }

    /// @dev A revoked version is still a registered version, so it can still be a parent.
    function test_RegisterModelVersion_RevokedParent() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeModelVersion(V1, "superseded");
        Registration memory r = _registration(V2);
        r.parent = V1;
        _registerSigned(r);
        assertEq(registry.getModelVersion(V2).parent, V1);
    }

    function test_RegisterModelVersion_EmptyOptionalFields() public {
        Registration memory r = _registration(V1);
        r.modelId = bytes32(0);
        r.metadataURI = "";
        r.metadataHash = bytes32(0);
        _registerSigned(r);
        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(V1);
        assertEq(v.modelId, bytes32(0));
        assertEq(v.metadataHash, bytes32(0));
        assertEq(bytes(v.metadataURI).length, 0);
        assertEq(v.attestor, attestor);
    }

    function test_RegisterModelVersion_AtDeadline() public {
        Registration memory r = _registration(V1);
        r.deadline = block.timestamp;
        _registerSigned(r);
        assertTrue(registry.isRegistered(V1));
    }

    /// @dev The key may also send its own transaction.
    function test_RegisterModelVersion_SentBySigner() public {
        Registration memory r = _registration(V1);
        _submitFrom(attestor, registry, r, _sign(attestorPk, r));
        assertEq(registry.getModelVersion(V1).attestor, attestor);
    }

    function test_GetModelVersion_Unknown() public view {
        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(V1);
        assertEq(v.registeredAt, 0);
        assertEq(v.publisher, address(0));
        assertFalse(registry.isRegistered(V1));
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
        Registration memory r = Registration(lab, versionHash, modelId, 0, metadataURI, metadataHash, nonce, deadline);

        vm.warp(block.timestamp + elapsed);
        vm.roll(block.number + elapsed / 12);
        _registerSigned(r);

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(versionHash);
        assertEq(v.modelId, modelId);
        assertEq(v.parent, bytes32(0));
        assertEq(v.metadataHash, metadataHash);
        assertEq(v.publisher, lab);
        assertEq(v.registeredAt, block.timestamp);
        assertEq(v.registeredBlock, block.number);
        assertEq(v.attestor, attestor);
        assertEq(v.revokedAt, 0);
        assertEq(v.metadataURI, metadataURI);
        assertTrue(registry.isNonceUsed(attestor, nonce));
    }

    function test_RevertWhen_RegisterModelVersion_Expired() public {
        Registration memory r = _registration(V1);
        vm.warp(r.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, r.deadline));
        _registerSigned(r);
    }

    function testFuzz_RevertWhen_RegisterModelVersion_Expired(uint256 deadline, uint256 late) public {
        deadline = bound(deadline, 0, block.timestamp + 10 * 365 days);
        late = bound(late, 1, 365 days);
        Registration memory r = _registration(V1);
        r.deadline = deadline;
        vm.warp(deadline + late);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, deadline));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_ZeroVersionHash() public {
        Registration memory r = _registration(bytes32(0));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidVersionHash.selector);
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_VersionExists() public {
        _registerVersion(V1);
        Registration memory r = _registration(V1);
        r.nonce = 999; // a fresh nonce: the duplicate version alone is refused
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, V1));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_UnknownParent() public {
        Registration memory r = _registration(V2);
        r.parent = V1;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownParent.selector, V1));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_UnknownPublisher() public {
        Registration memory r = _registration(V1);
        r.publisher = stranger;
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_SignatureWrongLength() public {
        Registration memory r = _registration(V1);
        bytes memory signature = _sign(attestorPk, r);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, bytes.concat(signature, hex"00"));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, "");
    }

    function test_RevertWhen_RegisterModelVersion_SignatureInvalidV() public {
        Registration memory r = _registration(V1);
        (bytes32 rr, bytes32 s,) = _split(_sign(attestorPk, r));
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(rr, s, uint8(29)));
    }

    function test_RevertWhen_RegisterModelVersion_SignatureZeroed() public {
        Registration memory r = _registration(V1);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(bytes32(0), bytes32(0), uint8(27)));
    }

    /// @dev The high-s twin of a valid signature recovers the same key, but is refused (no malleability).
    function test_RevertWhen_RegisterModelVersion_SignatureMalleable() public {
        Registration memory r = _registration(V1);
        (bytes32 rr, bytes32 s, uint8 v) = _split(_sign(attestorPk, r));
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        assertEq(ecrecover(_digest(address(registry), r), flippedV, rr, highS), attestor);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidSignature.selector);
        _submit(r, abi.encodePacked(rr, highS, flippedV));
    }

    function test_RevertWhen_RegisterModelVersion_SignerNeverAdded() public {
        (address rogue, uint256 roguePk) = makeAddrAndKey("rogue");
        Registration memory r = _registration(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, rogue));
        _submitAs(roguePk, r);
    }

    function test_RevertWhen_RegisterModelVersion_SignerOfOtherPublisher() public {
        address other = _otherPublisher();
        Registration memory r = _registration(V1);
        r.publisher = other; // the attestor key is bound to `lab`, not `other`
        vm.expectRevert(
            abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, other, attestor)
        );
        _registerSigned(r);
    }

    function test_RevertWhen_RegisterModelVersion_SignerRevoked() public {
        vm.prank(lab);
        registry.revokeAttestor(lab, attestor);
        Registration memory r = _registration(V1);
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
        Registration memory r = _registration(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, admin));
        _submitAs(adminPk, r);
    }

    function testFuzz_RevertWhen_RegisterModelVersion_UnauthorizedKey(uint256 pk) public {
        pk = bound(pk, 1, SECP256K1_N - 1);
        address signer = vm.addr(pk);
        Registration memory r = _registration(V1);
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
        Registration memory r = _registration(V1);
        bytes memory signature = _sign(attestorPk, r);

        field = uint8(bound(field, 0, 5));
        value = bytes32(bound(uint256(value), 1, type(uint256).max));
        if (field == 0) r.modelId = r.modelId ^ value;
        else if (field == 1) r.parent = V2;
        else if (field == 2) r.metadataURI = string.concat(r.metadataURI, "#");
        else if (field == 3) r.metadataHash = r.metadataHash ^ value;
        else if (field == 4) r.nonce = r.nonce ^ uint256(value);
        else r.deadline = r.deadline + 1;

        address recovered = _recoverOn(registry, r, signature);
        assertTrue(recovered != attestor);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnauthorizedSigner.selector, lab, recovered));
        _submit(r, signature);
    }

    function test_RevertWhen_RegisterModelVersion_NonceUsed() public {
        Registration memory r = _registration(V1);
        vm.prank(attestor);
        registry.invalidateNonce(r.nonce);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNonceUsed.selector, attestor, r.nonce));
        _registerSigned(r);
    }

    /// @dev Errors come in the documented order: deadline, version hash, duplicate, parent, publisher, signature,
    ///      signer, nonce. Each step below fixes one problem and expects the next error.
    function test_RegisterModelVersion_CheckOrder() public {
        _registerVersion(V2);
        vm.prank(attestor);
        registry.invalidateNonce(7);

        Registration memory r = _registration(V2); // duplicate
        r.parent = keccak256("unknown parent");
        r.publisher = stranger;
        r.nonce = 7;
        r.deadline = block.timestamp - 1;
        bytes memory badSig = hex"1234";

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistrySignatureExpired.selector, r.deadline));
        _submit(r, badSig);
        r.deadline = block.timestamp;

        r.versionHash = bytes32(0);
        vm.expectRevert(IProvenanceRegistry.RegistryInvalidVersionHash.selector);
        _submit(r, badSig);
        r.versionHash = V2;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionExists.selector, V2));
        _submit(r, badSig);
        r.versionHash = V1;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownParent.selector, r.parent));
        _submit(r, badSig);
        r.parent = V2;

        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownPublisher.selector, stranger));
        _submit(r, badSig);
        r.publisher = lab;

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
        _registerSigned(r);
        assertTrue(registry.isRegistered(V1));
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
        registry.revokeModelVersion(V1, "weights leaked");

        IProvenanceRegistry.ModelVersion memory v = registry.getModelVersion(V1);
        assertEq(v.revokedAt, block.timestamp);
        assertEq(v.attestor, attestor, "history is kept");
        assertTrue(registry.isRegistered(V1), "revoked versions stay registered");
    }

    function test_RevokeModelVersion_ByNewAdmin() public {
        _registerVersion(V1);
        address newAdmin = makeAddr("new admin");
        vm.prank(lab);
        registry.transferPublisherAdmin(lab, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(lab);
        vm.prank(newAdmin);
        registry.revokeModelVersion(V1, "");
        assertTrue(registry.getModelVersion(V1).revokedAt != 0);
    }

    function test_RevertWhen_RevokeModelVersion_UnknownVersion() public {
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryUnknownVersion.selector, V1));
        vm.prank(lab);
        registry.revokeModelVersion(V1, "");
    }

    function test_RevertWhen_RevokeModelVersion_NotAdmin() public {
        _registerVersion(V1);
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryNotPublisherAdmin.selector, lab, attestor));
        vm.prank(attestor); // the signing key is not the admin
        registry.revokeModelVersion(V1, "");
    }

    function test_RevertWhen_RevokeModelVersion_AlreadyRevoked() public {
        _registerVersion(V1);
        vm.prank(lab);
        registry.revokeModelVersion(V1, "first");
        vm.expectRevert(abi.encodeWithSelector(IProvenanceRegistry.RegistryVersionAlreadyRevoked.selector, V1));
        vm.prank(lab);
        registry.revokeModelVersion(V1, "second");
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
        Registration memory r = _registerVersion(V1);
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

    function _otherPublisher() internal returns (address other) {
        other = makeAddr("other lab");
        vm.prank(other);
        registry.registerPublisher("Other Lab", "");
    }

    function _typedDataJson(Registration memory r) internal view returns (string memory) {
        string memory fields = string.concat(
            '{"name":"publisher","type":"address"},{"name":"versionHash","type":"bytes32"},',
            '{"name":"modelId","type":"bytes32"},{"name":"parent","type":"bytes32"},',
            '{"name":"metadataURI","type":"string"},{"name":"metadataHash","type":"bytes32"},',
            '{"name":"nonce","type":"uint256"},{"name":"deadline","type":"uint256"}'
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
            '","nonce":"',
            vm.toString(r.nonce),
            '","deadline":"',
            vm.toString(r.deadline),
            '"'
        );
        return _typedDataJson("RegisterModelVersion", fields, message);
    }
}
