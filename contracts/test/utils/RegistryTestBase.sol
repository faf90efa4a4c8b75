// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {ProvenanceRegistry} from "../../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../../src/interfaces/IProvenanceRegistry.sol";

/// @notice Shared fixture: one registry, one publisher (`lab`, its own admin) with one active attestor key, and
///         helpers that sign `RegisterModelVersion` and `AttestOutputs` typed data with a real private key and
///         submit it: `_submitAs(pk, ...)` for any key, `_registerSigned` / `_attestSigned` for the fixture's key.
abstract contract RegistryTestBase is Test {
    /// @dev Hashed independently of the contract, so that a typo in either place fails the tests.
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant TYPEHASH = keccak256(
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );

    bytes32 internal constant OUTPUTS_TYPEHASH = keccak256(
        "AttestOutputs(bytes32 versionHash,bytes32 root,uint64 leafCount,uint64 windowStart,uint64 windowEnd,string batchURI,uint256 nonce,uint256 deadline)"
    );

    /// @dev Every field of one `attestOutputs` call, except the signature.
    struct Batch {
        bytes32 versionHash;
        bytes32 root;
        uint64 leafCount;
        uint64 windowStart;
        uint64 windowEnd;
        string batchURI;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev Every field of one `registerModelVersion` call, except the signature.
    struct Registration {
        address publisher;
        bytes32 versionHash;
        bytes32 modelId;
        bytes32 parent;
        string metadataURI;
        bytes32 metadataHash;
        uint256 nonce;
        uint256 deadline;
    }

    ProvenanceRegistry internal registry;

    address internal lab;
    address internal attestor;
    uint256 internal attestorPk;
    address internal relayer;
    address internal stranger;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        vm.roll(100);
        registry = new ProvenanceRegistry();
        lab = makeAddr("lab");
        (attestor, attestorPk) = makeAddrAndKey("attestor");
        relayer = makeAddr("relayer");
        stranger = makeAddr("stranger");

        vm.prank(lab);
        registry.registerPublisher("Acme AI", "ipfs://acme");
        vm.prank(lab);
        registry.addAttestor(lab, attestor);
    }

    // ---------------------------------------------------------------------------------------------
    // Typed data
    // ---------------------------------------------------------------------------------------------

    /// @dev A registration of a fresh version by `lab`, valid for one hour.
    function _registration(bytes32 versionHash) internal view returns (Registration memory r) {
        r = Registration({
            publisher: lab,
            versionHash: versionHash,
            modelId: keccak256("acme/llm-7b"),
            parent: bytes32(0),
            metadataURI: "ipfs://bafy-model-card",
            metadataHash: keccak256("model card"),
            nonce: uint256(versionHash),
            deadline: block.timestamp + 1 hours
        });
    }

    function _domainSeparator(address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("ProvaProvenanceRegistry"), keccak256("1"), block.chainid, verifyingContract
            )
        );
    }

    function _structHash(Registration memory r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                TYPEHASH,
                r.publisher,
                r.versionHash,
                r.modelId,
                r.parent,
                keccak256(bytes(r.metadataURI)),
                r.metadataHash,
                r.nonce,
                r.deadline
            )
        );
    }

    /// @dev The digest for `verifyingContract` on the current chain, computed without the contract.
    function _digest(address verifyingContract, Registration memory r) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract), _structHash(r)));
    }

    function _sign(uint256 pk, address verifyingContract, Registration memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(pk, _digest(verifyingContract, r));
        return abi.encodePacked(rr, s, v);
    }

    function _sign(uint256 pk, Registration memory r) internal view returns (bytes memory) {
        return _sign(pk, address(registry), r);
    }

    function _submit(Registration memory r, bytes memory signature) internal {
        _submit(registry, r, signature);
    }

    /// @dev Submits `r` with `signature` through the relayer.
    function _submit(ProvenanceRegistry target, Registration memory r, bytes memory signature) internal {
        _submitFrom(relayer, target, r, signature);
    }

    /// @dev Submits `r` with `signature`, sent by `sender` (the relayer, the signing key itself, anyone).
    function _submitFrom(address sender, ProvenanceRegistry target, Registration memory r, bytes memory signature)
        internal
    {
        vm.prank(sender);
        target.registerModelVersion(
            r.publisher,
            r.versionHash,
            r.modelId,
            r.parent,
            r.metadataURI,
            r.metadataHash,
            r.nonce,
            r.deadline,
            signature
        );
    }

    /// @dev Signs `r` with `pk` for `registry` and submits it through the relayer. Its only call before the
    ///      registry's is to the `vm.sign` cheatcode, so it may follow `vm.expectRevert` or `vm.expectEmit`.
    function _submitAs(uint256 pk, Registration memory r) internal {
        _submitAs(pk, registry, r);
    }

    /// @dev Signs `r` with `pk` for `target` and submits it there through the relayer.
    function _submitAs(uint256 pk, ProvenanceRegistry target, Registration memory r) internal {
        _submit(target, r, _sign(pk, address(target), r));
    }

    /// @dev Signs with the fixture's attestor key and submits through the relayer.
    function _registerSigned(Registration memory r) internal {
        _submitAs(attestorPk, r);
    }

    function _registerVersion(bytes32 versionHash) internal returns (Registration memory r) {
        r = _registration(versionHash);
        _registerSigned(r);
    }

    /// @dev Address that `signature` recovers to for `r` on `target` at the current chain id (or zero).
    function _recoverOn(ProvenanceRegistry target, Registration memory r, bytes memory signature)
        internal
        view
        returns (address)
    {
        (bytes32 rr, bytes32 s, uint8 v) = _split(signature);
        return ecrecover(_digest(address(target), r), v, rr, s);
    }

    // ---------------------------------------------------------------------------------------------
    // Output batches
    // ---------------------------------------------------------------------------------------------

    /// @dev A batch of 4096 outputs of `versionHash` from the last hour, valid for one hour.
    function _batch(bytes32 versionHash, bytes32 root) internal view returns (Batch memory b) {
        b = Batch({
            versionHash: versionHash,
            root: root,
            leafCount: 4096,
            windowStart: uint64(block.timestamp - 1 hours),
            windowEnd: uint64(block.timestamp),
            batchURI: "ipfs://bafybeigdyrztktx5b5m5kqrgmnkvrbl2kfdsdmbxgd4xoaqsdkb6qbejdu",
            nonce: uint256(keccak256(abi.encode("batch", root))),
            deadline: block.timestamp + 1 hours
        });
    }

    function _structHash(Batch memory b) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                OUTPUTS_TYPEHASH,
                b.versionHash,
                b.root,
                b.leafCount,
                b.windowStart,
                b.windowEnd,
                keccak256(bytes(b.batchURI)),
                b.nonce,
                b.deadline
            )
        );
    }

    /// @dev The digest for `verifyingContract` on the current chain, computed without the contract.
    function _digest(address verifyingContract, Batch memory b) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract), _structHash(b)));
    }

    function _sign(uint256 pk, address verifyingContract, Batch memory b) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(pk, _digest(verifyingContract, b));
        return abi.encodePacked(rr, s, v);
    }

    function _sign(uint256 pk, Batch memory b) internal view returns (bytes memory) {
        return _sign(pk, address(registry), b);
    }

    function _submit(Batch memory b, bytes memory signature) internal {
        _submit(registry, b, signature);
    }

    /// @dev Submits `b` with `signature` through the relayer.
    function _submit(ProvenanceRegistry target, Batch memory b, bytes memory signature) internal {
        _submitFrom(relayer, target, b, signature);
    }

    /// @dev Submits `b` with `signature`, sent by `sender` (the relayer, the signing key itself, anyone).
    function _submitFrom(address sender, ProvenanceRegistry target, Batch memory b, bytes memory signature) internal {
        vm.prank(sender);
        target.attestOutputs(
            b.versionHash, b.root, b.leafCount, b.windowStart, b.windowEnd, b.batchURI, b.nonce, b.deadline, signature
        );
    }

    /// @dev Signs `b` with `pk` for `registry` and submits it through the relayer. Its only call before the
    ///      registry's is to the `vm.sign` cheatcode, so it may follow `vm.expectRevert` or `vm.expectEmit`.
    function _submitAs(uint256 pk, Batch memory b) internal {
        _submitAs(pk, registry, b);
    }

    /// @dev Signs `b` with `pk` for `target` and submits it there through the relayer.
    function _submitAs(uint256 pk, ProvenanceRegistry target, Batch memory b) internal {
        _submit(target, b, _sign(pk, address(target), b));
    }

    /// @dev Signs with the fixture's attestor key and submits through the relayer.
    function _attestSigned(Batch memory b) internal {
        _submitAs(attestorPk, b);
    }

    /// @dev Address that `signature` recovers to for `b` on `target` at the current chain id (or zero).
    function _recoverOn(ProvenanceRegistry target, Batch memory b, bytes memory signature)
        internal
        view
        returns (address)
    {
        (bytes32 rr, bytes32 s, uint8 v) = _split(signature);
        return ecrecover(_digest(address(target), b), v, rr, s);
    }

    function _split(bytes memory signature) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly ("memory-safe") {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
    }

    /// @dev EIP-712 typed-data JSON (for `vm.eip712HashTypedData`) for this registry's domain on the current chain.
    ///      `typeFields` and `message` are the JSON members of the primary type's field list and of the message.
    function _typedDataJson(string memory primaryType, string memory typeFields, string memory message)
        internal
        view
        returns (string memory)
    {
        return string.concat(
            '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},',
            '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],"',
            primaryType,
            '":[',
            typeFields,
            ']},"primaryType":"',
            primaryType,
            '","domain":{"name":"ProvaProvenanceRegistry","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(address(registry)),
            '"},"message":{',
            message,
            "}}"
        );
    }
}
