// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {ProvenanceRegistry} from "../../src/ProvenanceRegistry.sol";

/// @notice Drives ProvenanceRegistry with random but well-formed calls, and keeps a shadow model of what each call
///         should do. Signatures are real: each registration and each output batch is signed by a key from a small
///         pool, which may be an active key of the publisher, a key of another publisher, a revoked key or a key
///         never added.
/// @dev Small value spaces (32 version hashes, 16 batch roots, 8 nonces, 8 keys) make collisions, and so the
///      interesting reverts, frequent. The contract's outcome (success or revert) is compared with the shadow model
///      on every call.
contract RegistryHandler is CommonBase, StdCheats, StdUtils {
    uint256 public constant VERSION_SPACE = 32;
    uint256 public constant NONCE_SPACE = 8;
    uint256 public constant KEY_COUNT = 8;
    uint256 public constant ROOT_SPACE = 16;
    bytes32 internal constant MODEL_ID = keccak256("acme/model");
    string internal constant METADATA_URI = "ipfs://card";
    string internal constant BATCH_URI = "ipfs://batch";

    /// @dev One successful registration, with the shadow model's view of its signer just before the call.
    struct Record {
        bytes32 versionHash;
        address publisher;
        address signer;
        uint256 nonce;
        uint256 registeredAt;
        bool signerWasActive;
    }

    /// @dev The varying arguments of one `registerModelVersion` call.
    struct Call {
        address publisher;
        bytes32 versionHash;
        bytes32 parent;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev The varying arguments of one `attestOutputs` call.
    struct BatchCall {
        bytes32 versionHash;
        bytes32 root;
        uint64 leafCount;
        uint64 windowStart;
        uint64 windowEnd;
        uint256 nonce;
        uint256 deadline;
    }

    ProvenanceRegistry public immutable registry;

    address[2] public publishers;
    /// @dev Never registered: registrations naming it must fail.
    address public immutable unknownPublisher;
    address[KEY_COUNT] public keys;
    uint256[KEY_COUNT] internal pks;

    // Shadow model.
    uint256 public currentTime;
    mapping(address publisher => address) public adminOf;
    mapping(address key => address) public keyPublisher;
    mapping(address key => bool) public keyRevoked;
    mapping(address key => uint64) public keyCompromisedSince;
    mapping(bytes32 versionHash => bool) public registered;
    mapping(bytes32 versionHash => address) public versionPublisher;
    mapping(bytes32 versionHash => bool) public versionRevoked;
    /// @dev The key that anchored each batch root (zero: none).
    mapping(bytes32 root => address) public batchAttestor;
    /// @dev How many successful calls (registrations, batches and invalidations) consumed each nonce.
    mapping(address signer => mapping(uint256 nonce => uint256)) public nonceUses;

    // Ghost records.
    Record[] internal _records;
    /// @dev Calls whose outcome differed from the shadow model's prediction; must stay zero.
    uint256 public mismatches;
    /// @dev Successful calls per registry function, to check that a campaign is not vacuous.
    mapping(bytes4 selector => uint256) public successes;

    modifier atCurrentTime() {
        vm.warp(currentTime);
        _;
    }

    constructor(ProvenanceRegistry registry_) {
        registry = registry_;
        currentTime = block.timestamp;
        publishers[0] = makeAddr("publisher 0");
        publishers[1] = makeAddr("publisher 1");
        unknownPublisher = makeAddr("unknown publisher");
        for (uint256 i; i < KEY_COUNT; ++i) {
            (keys[i], pks[i]) = makeAddrAndKey(string.concat("key ", vm.toString(i)));
        }
        for (uint256 i; i < 2; ++i) {
            address p = publishers[i];
            vm.prank(p);
            registry.registerPublisher(string.concat("publisher ", vm.toString(i)), "");
            adminOf[p] = p;
            // One active key each to start with; keys 2.. are added (or not) by the fuzzer.
            vm.prank(p);
            registry.addAttestor(p, keys[i]);
            keyPublisher[keys[i]] = p;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Actions
    // ---------------------------------------------------------------------------------------------

    function registerModelVersion(
        uint256 publisherSeed,
        uint256 keySeed,
        uint256 versionSeed,
        uint256 parentSeed,
        uint256 nonceSeed,
        uint256 deadlineSeed
    ) external atCurrentTime {
        Call memory c = Call({
            publisher: publisherSeed % 8 == 7 ? unknownPublisher : publishers[publisherSeed % 2],
            // 1..VERSION_SPACE, and the invalid zero hash one time in VERSION_SPACE + 1.
            versionHash: bytes32((versionSeed % (VERSION_SPACE + 1) + 1) % (VERSION_SPACE + 1)),
            parent: _pickParent(parentSeed),
            nonce: nonceSeed % NONCE_SPACE,
            // Between 100 s in the future and 20 s in the past; one in six is expired.
            deadline: currentTime + 100 - bound(deadlineSeed, 0, 120)
        });
        uint256 k = _pickKey(c.publisher, keySeed);
        address signer = keys[k];

        bool signerActive = keyPublisher[signer] == c.publisher && !keyRevoked[signer];
        bool expected = c.deadline >= currentTime && c.versionHash != 0 && !registered[c.versionHash]
            && (c.parent == 0 || registered[c.parent]) && c.publisher != unknownPublisher && signerActive
            && nonceUses[signer][c.nonce] == 0;

        bool ok = _tryRegister(c, pks[k]);
        _check(ok, expected, registry.registerModelVersion.selector);
        if (!ok) return;

        registered[c.versionHash] = true;
        versionPublisher[c.versionHash] = c.publisher;
        nonceUses[signer][c.nonce]++;
        _records.push(Record(c.versionHash, c.publisher, signer, c.nonce, currentTime, signerActive));
    }

    /// @dev A batch of outputs of a version (three times in four a registered, unrevoked one), signed three times in
    ///      four by an active key of the version's publisher. The window is always well formed; the root or the leaf
    ///      count is sometimes zero (invalid).
    function attestOutputs(
        uint256 versionSeed,
        uint256 keySeed,
        uint256 rootSeed,
        uint256 shapeSeed,
        uint256 nonceSeed,
        uint256 deadlineSeed
    ) external atCurrentTime {
        BatchCall memory c;
        c.versionHash = _pickVersion(versionSeed);
        c.root = bytes32(bound(rootSeed, 0, ROOT_SPACE));
        c.leafCount = uint64(bound(uint64(shapeSeed), 0, 4096));
        c.windowEnd = uint64(bound(uint64(shapeSeed >> 64), currentTime - 1 days, currentTime));
        c.windowStart = c.windowEnd - uint64(bound(shapeSeed >> 128, 0, 1 hours));
        c.nonce = bound(nonceSeed, 0, NONCE_SPACE - 1);
        c.deadline = currentTime + 100 - bound(deadlineSeed, 0, 120);
        address publisher = versionPublisher[c.versionHash];
        uint256 k = _pickKey(publisher, keySeed);
        address signer = keys[k];

        bool expected = c.deadline >= currentTime && c.root != 0 && c.leafCount != 0
            && batchAttestor[c.root] == address(0) && registered[c.versionHash] && !versionRevoked[c.versionHash]
            && keyPublisher[signer] == publisher && !keyRevoked[signer] && nonceUses[signer][c.nonce] == 0;

        bool ok = _tryAttest(c, pks[k]);
        _check(ok, expected, registry.attestOutputs.selector);
        if (!ok) return;

        batchAttestor[c.root] = signer;
        nonceUses[signer][c.nonce]++;
    }

    function addAttestor(uint256 publisherSeed, uint256 keySeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % 2];
        address key = keys[keySeed % KEY_COUNT];
        bool expected = keyPublisher[key] == address(0);

        vm.prank(adminOf[publisher]);
        bool ok;
        try registry.addAttestor(publisher, key) {
            ok = true;
        } catch {}
        _check(ok, expected, registry.addAttestor.selector);
        if (ok) keyPublisher[key] = publisher;
    }

    function revokeAttestor(uint256 publisherSeed, uint256 keySeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % 2];
        address key = keys[keySeed % KEY_COUNT];
        bool expected = keyPublisher[key] == publisher && !keyRevoked[key];

        vm.prank(adminOf[publisher]);
        bool ok;
        try registry.revokeAttestor(publisher, key) {
            ok = true;
        } catch {}
        _check(ok, expected, registry.revokeAttestor.selector);
        if (ok) keyRevoked[key] = true;
    }

    function markAttestorCompromised(uint256 publisherSeed, uint256 keySeed, uint256 sinceSeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % 2];
        address key = keys[keySeed % KEY_COUNT];
        // Mostly in the past, sometimes just in the future.
        uint64 since = uint64(bound(sinceSeed, currentTime - 1000, currentTime + 10));
        uint64 current = keyCompromisedSince[key];
        bool expected = keyPublisher[key] == publisher && since <= currentTime && (current == 0 || since <= current);

        vm.prank(adminOf[publisher]);
        bool ok;
        try registry.markAttestorCompromised(publisher, key, since) {
            ok = true;
        } catch {}
        _check(ok, expected, registry.markAttestorCompromised.selector);
        if (ok) {
            keyCompromisedSince[key] = since;
            keyRevoked[key] = true;
        }
    }

    function invalidateNonce(uint256 keySeed, uint256 nonceSeed) external atCurrentTime {
        address signer = keys[keySeed % KEY_COUNT];
        uint256 nonce = nonceSeed % NONCE_SPACE;
        bool expected = nonceUses[signer][nonce] == 0;

        vm.prank(signer);
        bool ok;
        try registry.invalidateNonce(nonce) {
            ok = true;
        } catch {}
        _check(ok, expected, registry.invalidateNonce.selector);
        if (ok) nonceUses[signer][nonce]++;
    }

    function revokeModelVersion(uint256 recordSeed, bool asAdmin) external atCurrentTime {
        if (_records.length == 0) return;
        Record memory rec = _records[recordSeed % _records.length];
        address caller = asAdmin ? adminOf[rec.publisher] : rec.signer;
        bool expected = !versionRevoked[rec.versionHash] && caller == adminOf[rec.publisher];

        vm.prank(caller);
        bool ok;
        try registry.revokeModelVersion(rec.versionHash, "invariant") {
            ok = true;
        } catch {}
        _check(ok, expected, registry.revokeModelVersion.selector);
        if (ok) versionRevoked[rec.versionHash] = true;
    }

    /// @dev Both steps of an admin transfer; the new admin is one of a few fixed addresses.
    function transferPublisherAdmin(uint256 publisherSeed, uint256 adminSeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % 2];
        address newAdmin = address(uint160(uint256(keccak256(abi.encode("admin", adminSeed % 4)))));

        vm.prank(adminOf[publisher]);
        registry.transferPublisherAdmin(publisher, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(publisher);
        adminOf[publisher] = newAdmin;
        successes[registry.acceptPublisherAdmin.selector]++;
    }

    function warp(uint256 secondsSeed) external {
        currentTime += bound(secondsSeed, 0, 1 hours);
        vm.warp(currentTime);
    }

    // ---------------------------------------------------------------------------------------------
    // Views for the invariants
    // ---------------------------------------------------------------------------------------------

    function recordCount() external view returns (uint256) {
        return _records.length;
    }

    function record(uint256 i) external view returns (Record memory) {
        return _records[i];
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev Three times in four an active key of `publisher` if it has one; otherwise any key of the pool.
    function _pickKey(address publisher, uint256 seed) internal view returns (uint256) {
        uint256 start = (seed / 4) % KEY_COUNT;
        if (seed % 4 != 0) {
            for (uint256 i; i < KEY_COUNT; ++i) {
                uint256 k = (start + i) % KEY_COUNT;
                if (keyPublisher[keys[k]] == publisher && !keyRevoked[keys[k]]) return k;
            }
        }
        return start;
    }

    /// @dev Half the time zero, else a registered version, else any hash of the space (registered or not).
    function _pickParent(uint256 seed) internal view returns (bytes32) {
        uint256 mode = seed % 4;
        if (mode < 2 || _records.length == 0) return bytes32(0);
        if (mode == 2) return _records[(seed / 4) % _records.length].versionHash;
        return bytes32((seed / 4) % (VERSION_SPACE + 1));
    }

    /// @dev Three times in four a registered, unrevoked version if there is one; otherwise any hash of the space
    ///      (registered or not, revoked or not, or zero).
    function _pickVersion(uint256 seed) internal view returns (bytes32 v) {
        for (uint256 i; seed % 4 != 0 && i < _records.length; ++i) {
            v = _records[(seed / 4 + i) % _records.length].versionHash;
            if (!versionRevoked[v]) return v;
        }
        return bytes32((seed / 4) % (VERSION_SPACE + 1));
    }

    function _signDigest(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signs `c` with `pk` and submits it; returns whether the call succeeded.
    function _tryRegister(Call memory c, uint256 pk) internal returns (bool ok) {
        bytes32 digest = registry.hashRegisterModelVersion(
            c.publisher, c.versionHash, MODEL_ID, c.parent, METADATA_URI, bytes32(0), c.nonce, c.deadline
        );
        try registry.registerModelVersion(
            c.publisher,
            c.versionHash,
            MODEL_ID,
            c.parent,
            METADATA_URI,
            bytes32(0),
            c.nonce,
            c.deadline,
            _signDigest(pk, digest)
        ) {
            ok = true;
        } catch {}
    }

    /// @dev Signs `c` with `pk` and submits it; returns whether the call succeeded.
    function _tryAttest(BatchCall memory c, uint256 pk) internal returns (bool ok) {
        bytes32 digest = registry.hashAttestOutputs(
            c.versionHash, c.root, c.leafCount, c.windowStart, c.windowEnd, BATCH_URI, c.nonce, c.deadline
        );
        try registry.attestOutputs(
            c.versionHash,
            c.root,
            c.leafCount,
            c.windowStart,
            c.windowEnd,
            BATCH_URI,
            c.nonce,
            c.deadline,
            _signDigest(pk, digest)
        ) {
            ok = true;
        } catch {}
    }

    function _check(bool ok, bool expected, bytes4 selector) internal {
        if (ok != expected) mismatches++;
        if (ok) successes[selector]++;
    }
}
