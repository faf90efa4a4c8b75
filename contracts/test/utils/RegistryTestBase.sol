// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {ProvenanceRegistry} from "../../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../../src/interfaces/IProvenanceRegistry.sol";

/// @notice Shared fixture: one registry, one publisher (`lab`, its own admin) with one active attestor key, and
///         helpers that sign the registry's EIP-712 messages with real private keys and submit them:
///         `RegisterModelVersion` claims (`_submitAs(pk, ...)` for any key, `_registerSigned` / `_registerVersion`
///         for the fixture's key), commitments (`_commit`, `_commitAndRegister`), `AddAttestor` proofs of
///         possession (`_signAddAttestor`, `_addAttestor`, `_newPublisher`) and `AttestOutputs` batches.
abstract contract RegistryTestBase is Test {
    /// @dev Hashed independently of the contract, so that a typo in either place fails the tests.
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant TYPEHASH = keccak256(
        "RegisterModelVersion(address publisher,bytes32 versionHash,bytes32 modelId,bytes32 parent,string metadataURI,bytes32 metadataHash,bytes32 commitSalt,uint256 nonce,uint256 deadline)"
    );

    bytes32 internal constant ADD_ATTESTOR_TYPEHASH = keccak256("AddAttestor(address publisher,uint256 deadline)");

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
        _addAttestor(registry, lab, lab, attestorPk);
    }

    // ---------------------------------------------------------------------------------------------
    // Publishers and attestor keys
    // ---------------------------------------------------------------------------------------------

    /// @dev The `AddAttestor` digest for `verifyingContract` on the current chain, computed without the contract.
    function _addAttestorDigest(address verifyingContract, address publisher, uint256 deadline)
        internal
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encodePacked(
                "\x19\x01",
                _domainSeparator(verifyingContract),
                keccak256(abi.encode(ADD_ATTESTOR_TYPEHASH, publisher, deadline))
            )
        );
    }

    /// @dev The key `keyPk`'s proof of possession: its signature of `AddAttestor(publisher, deadline)`.
    function _signAddAttestor(uint256 keyPk, address verifyingContract, address publisher, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keyPk, _addAttestorDigest(verifyingContract, publisher, deadline));
        return abi.encodePacked(rr, s, v);
    }

    function _signAddAttestor(uint256 keyPk, address publisher, uint256 deadline) internal view returns (bytes memory) {
        return _signAddAttestor(keyPk, address(registry), publisher, deadline);
    }

    /// @dev `admin` adds the key `keyPk` to `publisher` on `target`, with the key's own signature valid for one
    ///      hour. Its only call before the registry's is to the `vm.sign` cheatcode, so it may follow
    ///      `vm.expectRevert` or `vm.expectEmit`.
    function _addAttestor(ProvenanceRegistry target, address admin, address publisher, uint256 keyPk) internal {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _signAddAttestor(keyPk, address(target), publisher, deadline);
        vm.prank(admin);
        target.addAttestor(publisher, vm.addr(keyPk), deadline, signature);
    }

    /// @dev `admin` adds the key `keyPk` to `publisher` on `registry`.
    function _addAttestor(address admin, address publisher, uint256 keyPk) internal {
        _addAttestor(registry, admin, publisher, keyPk);
    }

    /// @dev A new publisher named `name`, registered by the address labelled `label` (its admin), with one active
    ///      attestor key labelled `label + " key"`.
    function _newPublisher(string memory label, string memory name)
        internal
        returns (address publisher, address key, uint256 keyPk)
    {
        publisher = makeAddr(label);
        (key, keyPk) = makeAddrAndKey(string.concat(label, " key"));
        vm.prank(publisher);
        registry.registerPublisher(name, "");
        _addAttestor(publisher, publisher, keyPk);
    }

    // ---------------------------------------------------------------------------------------------
    // Typed data
    // ---------------------------------------------------------------------------------------------

    /// @dev A claim of a fresh version by `lab`, revealing no commitment, valid for one hour.
    function _claim(bytes32 versionHash) internal view returns (IProvenanceRegistry.VersionClaim memory c) {
        c = IProvenanceRegistry.VersionClaim({
            publisher: lab,
            versionHash: versionHash,
            modelId: keccak256("acme/llm-7b"),
            parent: bytes32(0),
            metadataURI: "ipfs://bafy-model-card",
            metadataHash: keccak256("model card"),
            commitSalt: bytes32(0),
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

    function _structHash(IProvenanceRegistry.VersionClaim memory c) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                TYPEHASH,
                c.publisher,
                c.versionHash,
                c.modelId,
                c.parent,
                keccak256(bytes(c.metadataURI)),
                c.metadataHash,
                c.commitSalt,
                c.nonce,
                c.deadline
            )
        );
    }

    /// @dev The digest for `verifyingContract` on the current chain, computed without the contract.
    function _digest(address verifyingContract, IProvenanceRegistry.VersionClaim memory c)
        internal
        view
        returns (bytes32)
    {
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract), _structHash(c)));
    }

    function _sign(uint256 pk, address verifyingContract, IProvenanceRegistry.VersionClaim memory c)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(pk, _digest(verifyingContract, c));
        return abi.encodePacked(rr, s, v);
    }

    function _sign(uint256 pk, IProvenanceRegistry.VersionClaim memory c) internal view returns (bytes memory) {
        return _sign(pk, address(registry), c);
    }

    function _submit(IProvenanceRegistry.VersionClaim memory c, bytes memory signature) internal {
        _submit(registry, c, signature);
    }

    /// @dev Submits `c` with `signature` through the relayer.
    function _submit(ProvenanceRegistry target, IProvenanceRegistry.VersionClaim memory c, bytes memory signature)
        internal
    {
        _submitFrom(relayer, target, c, signature);
    }

    /// @dev Submits `c` with `signature`, sent by `sender` (the relayer, the signing key itself, anyone).
    function _submitFrom(
        address sender,
        ProvenanceRegistry target,
        IProvenanceRegistry.VersionClaim memory c,
        bytes memory signature
    ) internal {
        vm.prank(sender);
        target.registerModelVersion(c, _nameOf(c.modelId), signature);
    }

    /// @dev The name behind the model ids the tests use ("acme/llm-7b", "acme/llm-7b-q4"), or empty: a private name.
    function _nameOf(bytes32 modelId) internal pure returns (string memory) {
        if (modelId == keccak256("acme/llm-7b")) return "acme/llm-7b";
        if (modelId == keccak256("acme/llm-7b-q4")) return "acme/llm-7b-q4";
        return "";
    }

    /// @dev Signs `c` with `pk` for `registry` and submits it through the relayer. Its only call before the
    ///      registry's is to the `vm.sign` cheatcode, so it may follow `vm.expectRevert` or `vm.expectEmit`.
    function _submitAs(uint256 pk, IProvenanceRegistry.VersionClaim memory c) internal {
        _submitAs(pk, registry, c);
    }

    /// @dev Signs `c` with `pk` for `target` and submits it there through the relayer.
    function _submitAs(uint256 pk, ProvenanceRegistry target, IProvenanceRegistry.VersionClaim memory c) internal {
        _submit(target, c, _sign(pk, address(target), c));
    }

    /// @dev Signs with the fixture's attestor key and submits through the relayer.
    function _registerSigned(IProvenanceRegistry.VersionClaim memory c) internal {
        _submitAs(attestorPk, c);
    }

    function _registerVersion(bytes32 versionHash) internal returns (IProvenanceRegistry.VersionClaim memory c) {
        c = _claim(versionHash);
        _registerSigned(c);
    }

    /// @dev Address that `signature` recovers to for `c` on `target` at the current chain id (or zero).
    function _recoverOn(ProvenanceRegistry target, IProvenanceRegistry.VersionClaim memory c, bytes memory signature)
        internal
        view
        returns (address)
    {
        (bytes32 rr, bytes32 s, uint8 v) = _split(signature);
        return ecrecover(_digest(address(target), c), v, rr, s);
    }

    // ---------------------------------------------------------------------------------------------
    // Commitments
    // ---------------------------------------------------------------------------------------------

    /// @dev `keccak256(abi.encode(publisher, versionHash, salt))`, computed without the contract.
    function _commitment(address publisher, bytes32 versionHash, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(publisher, versionHash, salt));
    }

    /// @dev Records the commitment that `c` reveals, sent by the relayer (anyone may send it).
    function _commit(IProvenanceRegistry.VersionClaim memory c) internal returns (bytes32 commitment) {
        commitment = _commitment(c.publisher, c.versionHash, c.commitSalt);
        vm.prank(relayer);
        registry.commitModelVersion(commitment);
    }

    /// @dev Moves to the next block, 12 seconds later.
    function _nextBlock() internal {
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 12);
    }

    /// @dev Commits to `c` (with salt `salt`) in this block, then signs it with `pk` and registers it in the next
    ///      block; returns the commitment's block.
    function _commitAndRegister(uint256 pk, IProvenanceRegistry.VersionClaim memory c, bytes32 salt)
        internal
        returns (uint256 committedBlock)
    {
        c.commitSalt = salt;
        _commit(c);
        committedBlock = block.number;
        _nextBlock();
        _submitAs(pk, c);
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
