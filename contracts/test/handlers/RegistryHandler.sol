// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {ProvenanceRegistry} from "../../src/ProvenanceRegistry.sol";
import {IProvenanceRegistry} from "../../src/interfaces/IProvenanceRegistry.sol";

/// @notice Drives ProvenanceRegistry with random but well-formed calls, and keeps a shadow model of what each call
///         should do. Signatures are real: each claim, each output batch and each key's proof of possession is
///         signed by a key from a small pool, which may be an active key of the publisher, a key of another
///         publisher, a revoked key or a key never added.
/// @dev Three publishers (two of them named "Acme AI") claim hashes from one small space, so that several
///      publishers claim the same hash; claims reveal commitments made earlier, in the same block, or never; output
///      batches are one-leaf trees whose leaf is kept, so that the invariants can call `verifyOutput`, with leaf
///      times inside and outside the window and windows ending before and after the block. Small value spaces
///      (16 version hashes, 8 nonces, 8 keys, 3 salts) make collisions, and so the interesting reverts, frequent.
///      The contract's outcome (success or revert) is compared with the shadow model on every call.
contract RegistryHandler is CommonBase, StdCheats, StdUtils {
    uint256 public constant VERSION_SPACE = 16;
    uint256 public constant NONCE_SPACE = 8;
    uint256 public constant KEY_COUNT = 8;
    uint256 public constant PUBLISHER_COUNT = 3;
    uint256 public constant SALT_SPACE = 3;
    string internal constant BATCH_URI = "ipfs://batch";

    /// @dev One successful registration (a claim), with every field the registry should keep for it, and the
    ///      shadow model's view of its signer just before the call.
    struct Record {
        address publisher;
        bytes32 versionHash;
        address signer;
        uint256 nonce;
        bytes32 modelId;
        bytes32 parent;
        bytes32 metadataHash;
        uint64 registeredAt;
        uint64 registeredBlock;
        uint64 committedAt;
        uint64 committedBlock;
        bool signerWasActive;
    }

    /// @dev The varying arguments of one `registerModelVersion` call.
    struct Call {
        address publisher;
        bytes32 versionHash;
        bytes32 parent;
        bytes32 commitSalt;
        uint256 nonce;
        uint256 deadline;
    }

    /// @dev One `attestOutputs` call, and the single leaf of its tree.
    struct BatchCall {
        bytes32 versionHash;
        bytes32 root;
        uint64 leafCount;
        uint64 windowStart;
        uint64 windowEnd;
        uint256 nonce;
        uint256 deadline;
        bytes32 requestHash;
        bytes32 responseHash;
        uint64 timestamp;
        bytes32 salt;
    }

    /// @dev One anchored batch, with the publisher and key it belongs to, and its leaf.
    struct AnchoredBatch {
        bytes32 root;
        bytes32 versionHash;
        address publisher;
        address signer;
        uint64 windowStart;
        uint64 windowEnd;
        uint64 anchoredAt;
        bytes32 requestHash;
        bytes32 responseHash;
        uint64 timestamp;
        bytes32 salt;
    }

    /// @dev One commitment sent, and what it commits to.
    struct Commitment {
        address publisher;
        bytes32 versionHash;
        bytes32 salt;
    }

    ProvenanceRegistry public immutable registry;

    address[PUBLISHER_COUNT] public publishers;
    /// @dev Never registered: registrations naming it must fail.
    address public immutable unknownPublisher;
    address[KEY_COUNT] public keys;
    uint256[KEY_COUNT] internal pks;

    // Shadow model.
    uint256 public currentTime;
    uint256 public currentBlock;
    mapping(address publisher => address) public adminOf;
    mapping(address key => address) public keyPublisher;
    mapping(address key => bool) public keyRevoked;
    mapping(address key => uint64) public keyCompromisedSince;
    mapping(address publisher => mapping(bytes32 versionHash => bool)) public registered;
    /// @dev True once any publisher claimed the hash.
    mapping(bytes32 versionHash => bool) public claimed;
    /// @dev Set only when the claim's own publisher's admin revoked it.
    mapping(address publisher => mapping(bytes32 versionHash => uint64)) public versionRevokedAt;
    mapping(bytes32 commitment => uint64) public commitmentTime;
    mapping(bytes32 commitment => uint64) public commitmentBlock;
    /// @dev Index + 1 of each anchored root in `_batches` (zero: not anchored).
    mapping(bytes32 root => uint256) public batchIndex;
    /// @dev Set only when the batch's own publisher's admin revoked it.
    mapping(bytes32 root => bool) public batchRevoked;
    /// @dev How many successful calls (registrations, batches and invalidations) consumed each nonce.
    mapping(address signer => mapping(uint256 nonce => uint256)) public nonceUses;

    // Ghost records.
    Record[] internal _records;
    AnchoredBatch[] internal _batches;
    Commitment[] internal _commitments;
    /// @dev Calls whose outcome differed from the shadow model's prediction; must stay zero.
    uint256 public mismatches;
    /// @dev Successful calls per registry function, to check that a campaign is not vacuous.
    mapping(bytes4 selector => uint256) public successes;

    modifier atCurrentTime() {
        vm.warp(currentTime);
        vm.roll(currentBlock);
        _;
    }

    constructor(ProvenanceRegistry registry_) {
        registry = registry_;
        currentTime = block.timestamp;
        currentBlock = block.number;
        unknownPublisher = makeAddr("unknown publisher");
        for (uint256 i; i < KEY_COUNT; ++i) {
            (keys[i], pks[i]) = makeAddrAndKey(string.concat("key ", vm.toString(i)));
        }
        for (uint256 i; i < PUBLISHER_COUNT; ++i) {
            address p = makeAddr(string.concat("publisher ", vm.toString(i)));
            publishers[i] = p;
            // Names are not unique: publishers 0 and 1 are both "Acme AI" (one of them a squatter).
            vm.prank(p);
            registry.registerPublisher(i < 2 ? "Acme AI" : "Other Lab", "");
            adminOf[p] = p;
            // One active key each to start with; the other keys are added (or not) by the fuzzer.
            uint256 deadline = block.timestamp;
            bytes memory keySignature = _signDigest(pks[i], registry.hashAddAttestor(p, deadline));
            vm.prank(p);
            registry.addAttestor(p, keys[i], deadline, keySignature);
            keyPublisher[keys[i]] = p;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Actions
    // ---------------------------------------------------------------------------------------------

    /// @dev Records a commitment to a claim of any publisher (known or not) and hash of the space. Always succeeds;
    ///      only the first block to send a commitment is kept.
    function commitModelVersion(uint256 publisherSeed, uint256 versionSeed, uint256 saltSeed) external atCurrentTime {
        Commitment memory c = Commitment({
            publisher: _pickPublisher(publisherSeed),
            versionHash: bytes32(versionSeed % (VERSION_SPACE + 1)),
            salt: bytes32(saltSeed % SALT_SPACE + 1)
        });
        bytes32 commitment = _commitmentOf(c.publisher, c.versionHash, c.salt);

        bool ok;
        try registry.commitModelVersion(commitment) {
            ok = true;
        } catch {}
        _check(ok, true, registry.commitModelVersion.selector);
        if (commitmentTime[commitment] == 0) {
            (commitmentTime[commitment], commitmentBlock[commitment]) = (_now(), _block());
            _commitments.push(c);
        }
        (uint64 at, uint64 blockNumber) = registry.getCommitment(commitment);
        if (at != commitmentTime[commitment] || blockNumber != commitmentBlock[commitment]) mismatches++;
    }

    /// @dev A claim, a quarter of the time of a hash some publisher already claims; half the time revealing no
    ///      commitment, three times in eight revealing a commitment sent earlier (in this block or an earlier one),
    ///      and one time in eight revealing a salt of the space, usually never committed.
    function registerModelVersion(
        uint256 publisherSeed,
        uint256 keySeed,
        uint256 versionSeed,
        uint256 parentSeed,
        uint256 nonceSeed,
        uint256 deadlineSeed,
        uint256 commitSeed
    ) external atCurrentTime {
        Call memory c = Call({
            publisher: _pickPublisher(publisherSeed),
            // 1..VERSION_SPACE, and the invalid zero hash one time in VERSION_SPACE + 1.
            versionHash: bytes32((versionSeed % (VERSION_SPACE + 1) + 1) % (VERSION_SPACE + 1)),
            parent: _pickParent(parentSeed),
            commitSalt: bytes32(0),
            nonce: nonceSeed % NONCE_SPACE,
            // Between 100 s in the future and 20 s in the past; one in six is expired.
            deadline: currentTime + 100 - bound(deadlineSeed, 0, 120)
        });
        if (versionSeed % 4 == 0 && _records.length != 0) {
            c.versionHash = _records[(versionSeed / 4) % _records.length].versionHash;
        }
        uint256 mode = commitSeed % 8;
        if (mode >= 4 && mode < 7 && _commitments.length != 0) {
            Commitment memory known = _commitments[(commitSeed / 8) % _commitments.length];
            (c.publisher, c.versionHash, c.commitSalt) = (known.publisher, known.versionHash, known.salt);
        } else if (mode == 7) {
            c.commitSalt = bytes32((commitSeed / 8) % SALT_SPACE + 1);
        }
        uint256 k = _pickKey(c.publisher, keySeed);
        address signer = keys[k];
        bytes32 commitment = _commitmentOf(c.publisher, c.versionHash, c.commitSalt);

        bool signerActive = keyPublisher[signer] == c.publisher && !keyRevoked[signer];
        bool expected = c.deadline >= currentTime && c.versionHash != 0 && c.publisher != unknownPublisher
            && !registered[c.publisher][c.versionHash] && (c.parent == 0 || claimed[c.parent]) && signerActive
            && nonceUses[signer][c.nonce] == 0
            && (c.commitSalt == 0 || (commitmentTime[commitment] != 0 && commitmentBlock[commitment] < currentBlock));

        bool ok = _tryRegister(c, pks[k]);
        _check(ok, expected, registry.registerModelVersion.selector);
        if (!ok) return;

        registered[c.publisher][c.versionHash] = true;
        claimed[c.versionHash] = true;
        nonceUses[signer][c.nonce]++;
        Record memory rec;
        (rec.publisher, rec.versionHash, rec.signer, rec.nonce) = (c.publisher, c.versionHash, signer, c.nonce);
        (rec.modelId, rec.parent, rec.metadataHash) = (modelIdOf(c.publisher), c.parent, _metadataHash(c));
        (rec.registeredAt, rec.registeredBlock) = (_now(), _block());
        if (c.commitSalt != 0) {
            (rec.committedAt, rec.committedBlock) = (commitmentTime[commitment], commitmentBlock[commitment]);
        }
        rec.signerWasActive = signerActive;
        _records.push(rec);
    }

    /// @dev A one-leaf batch of a version (three times in four one a publisher claims, unrevoked), signed seven
    ///      times in eight by an active key of that publisher. Sometimes the root is zero or already anchored, the
    ///      leaf count zero, or the window ends after the block; one time in four the leaf's time is outside the
    ///      window (the attestor lies about it).
    function attestOutputs(
        uint256 claimSeed,
        uint256 keySeed,
        uint256 shapeSeed,
        uint256 leafSeed,
        uint256 nonceSeed,
        uint256 deadlineSeed
    ) external atCurrentTime {
        (bytes32 versionHash, address publisher) = _pickClaim(claimSeed);
        uint256 k = _pickKey(publisher, keySeed);
        address signer = keys[k];
        BatchCall memory c = _batchCall(versionHash, shapeSeed, leafSeed);
        c.nonce = bound(nonceSeed, 0, NONCE_SPACE - 1);
        c.deadline = currentTime + 100 - bound(deadlineSeed, 0, 120);

        // The batch belongs to the signer's publisher, whatever publisher the fuzzer had in mind.
        address owner = keyPublisher[signer];
        bool expected = c.deadline >= currentTime && c.root != 0 && c.leafCount != 0 && c.windowEnd <= currentTime
            && batchIndex[c.root] == 0 && owner != address(0) && !keyRevoked[signer] && registered[owner][versionHash]
            && versionRevokedAt[owner][versionHash] == 0 && nonceUses[signer][c.nonce] == 0;

        bool ok = _tryAttest(c, pks[k]);
        _check(ok, expected, registry.attestOutputs.selector);
        if (!ok) return;

        nonceUses[signer][c.nonce]++;
        _batches.push(
            AnchoredBatch({
                root: c.root,
                versionHash: versionHash,
                publisher: owner,
                signer: signer,
                windowStart: c.windowStart,
                windowEnd: c.windowEnd,
                anchoredAt: _now(),
                requestHash: c.requestHash,
                responseHash: c.responseHash,
                timestamp: c.timestamp,
                salt: c.salt
            })
        );
        batchIndex[c.root] = _batches.length;
    }

    /// @dev Revokes an anchored batch, as its publisher's admin or as another publisher's admin.
    function revokeOutputBatch(uint256 batchSeed, bool asOwner) external atCurrentTime {
        if (_batches.length == 0) return;
        AnchoredBatch memory b = _batches[batchSeed % _batches.length];
        address caller = asOwner ? adminOf[b.publisher] : adminOf[_otherPublisher(b.publisher, batchSeed)];
        bool expected = caller == adminOf[b.publisher] && !batchRevoked[b.root];

        vm.prank(caller);
        bool ok;
        try registry.revokeOutputBatch(b.root, "invariant") {
            ok = true;
        } catch {}
        _check(ok, expected, registry.revokeOutputBatch.selector);
        if (ok && caller == adminOf[b.publisher]) batchRevoked[b.root] = true;
    }

    /// @dev Adds a key, half the time with the key's valid proof of possession, otherwise with a signature by
    ///      another key, the key's signature for another publisher, an expired signature, or sent by another
    ///      publisher's admin: only the first kind may succeed, and only for a key never bound.
    function addAttestor(uint256 publisherSeed, uint256 keySeed, uint256 modeSeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % PUBLISHER_COUNT];
        uint256 k = keySeed % KEY_COUNT;
        address key = keys[k];
        uint256 mode = modeSeed % 8;
        uint256 deadline = mode == 2 ? currentTime - 1 : currentTime + 1 hours;
        uint256 signerPk = mode == 0 ? pks[(k + 1 + (modeSeed / 8) % (KEY_COUNT - 1)) % KEY_COUNT] : pks[k];
        address signedFor = mode == 1 ? _otherPublisher(publisher, modeSeed) : publisher;
        address caller = mode == 3 ? adminOf[_otherPublisher(publisher, modeSeed)] : adminOf[publisher];
        bytes memory keySignature = _signDigest(signerPk, registry.hashAddAttestor(signedFor, deadline));
        bool expected = mode >= 4 && keyPublisher[key] == address(0);

        vm.prank(caller);
        bool ok;
        try registry.addAttestor(publisher, key, deadline, keySignature) {
            ok = true;
        } catch {}
        _check(ok, expected, registry.addAttestor.selector);
        if (ok && expected) keyPublisher[key] = publisher;
    }

    function revokeAttestor(uint256 publisherSeed, uint256 keySeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % PUBLISHER_COUNT];
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

    /// @dev Flags a key, half the time the key of an anchored batch (by its publisher), from a time in the last two
    ///      hours (before or after the batch's anchoring), or just in the future (refused).
    function markAttestorCompromised(uint256 publisherSeed, uint256 keySeed, uint256 sinceSeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % PUBLISHER_COUNT];
        address key = keys[keySeed % KEY_COUNT];
        if (keySeed % 2 == 0 && _batches.length != 0) {
            AnchoredBatch storage b = _batches[(keySeed / 2) % _batches.length];
            (publisher, key) = (b.publisher, b.signer);
        }
        // Mostly in the past, sometimes just in the future.
        uint64 since = uint64(bound(sinceSeed, currentTime - 2 hours, currentTime + 10));
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

    /// @dev Revokes a claim, as its publisher's admin, as another publisher's admin, or as the key that signed it.
    function revokeModelVersion(uint256 recordSeed, uint256 callerSeed) external atCurrentTime {
        if (_records.length == 0) return;
        Record memory rec = _records[recordSeed % _records.length];
        uint256 mode = callerSeed % 3;
        address caller = mode == 0
            ? adminOf[rec.publisher]
            : mode == 1 ? adminOf[_otherPublisher(rec.publisher, callerSeed)] : rec.signer;
        bool expected = versionRevokedAt[rec.publisher][rec.versionHash] == 0 && caller == adminOf[rec.publisher];

        vm.prank(caller);
        bool ok;
        try registry.revokeModelVersion(rec.publisher, rec.versionHash, "invariant") {
            ok = true;
        } catch {}
        _check(ok, expected, registry.revokeModelVersion.selector);
        if (ok && caller == adminOf[rec.publisher]) versionRevokedAt[rec.publisher][rec.versionHash] = _now();
    }

    /// @dev Both steps of an admin transfer; the new admin is one of a few fixed addresses.
    function transferPublisherAdmin(uint256 publisherSeed, uint256 adminSeed) external atCurrentTime {
        address publisher = publishers[publisherSeed % PUBLISHER_COUNT];
        address newAdmin =
            address(uint160(uint256(keccak256(abi.encode("admin", publisherSeed % PUBLISHER_COUNT, adminSeed % 4)))));

        vm.prank(adminOf[publisher]);
        registry.transferPublisherAdmin(publisher, newAdmin);
        vm.prank(newAdmin);
        registry.acceptPublisherAdmin(publisher);
        adminOf[publisher] = newAdmin;
        successes[registry.acceptPublisherAdmin.selector]++;
    }

    /// @dev Moves time forward by up to an hour and the chain by up to three blocks (either may stay put).
    function warp(uint256 secondsSeed, uint256 blocksSeed) external {
        currentTime += bound(secondsSeed, 0, 1 hours);
        currentBlock += bound(blocksSeed, 0, 3);
        vm.warp(currentTime);
        vm.roll(currentBlock);
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

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function batch(uint256 i) external view returns (AnchoredBatch memory) {
        return _batches[i];
    }

    function commitmentCount() external view returns (uint256) {
        return _commitments.length;
    }

    function committed(uint256 i) external view returns (Commitment memory) {
        return _commitments[i];
    }

    /// @dev The model id and metadata URI each publisher puts in its claims (the metadata hash also names the
    ///      version): different per publisher, so that a claim overwritten by another publisher's would show.
    function modelIdOf(address publisher) public pure returns (bytes32) {
        return keccak256(abi.encode("model", publisher));
    }

    function metadataURIOf(address publisher) public pure returns (string memory) {
        return string.concat("ipfs://card-of-", vm.toString(publisher));
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev The shadow clock and block number, as the registry's views return them.
    function _now() internal view returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(currentTime); // unix seconds: fits for billions of years
    }

    function _block() internal view returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(currentBlock);
    }

    function _metadataHash(Call memory c) internal pure returns (bytes32) {
        return keccak256(abi.encode(c.publisher, c.versionHash));
    }

    /// @dev One time in eight the unknown publisher, otherwise one of the registered ones.
    function _pickPublisher(uint256 seed) internal view returns (address) {
        return seed % 8 == 7 ? unknownPublisher : publishers[seed % PUBLISHER_COUNT];
    }

    /// @dev A registered publisher other than `publisher`.
    function _otherPublisher(address publisher, uint256 seed) internal view returns (address) {
        for (uint256 i; i < PUBLISHER_COUNT; ++i) {
            address p = publishers[(seed + i) % PUBLISHER_COUNT];
            if (p != publisher) return p;
        }
        return publishers[0];
    }

    /// @dev Seven times in eight an active key of `publisher` if it has one; otherwise any key of the pool.
    function _pickKey(address publisher, uint256 seed) internal view returns (uint256) {
        uint256 start = (seed / 8) % KEY_COUNT;
        if (seed % 8 != 0) {
            for (uint256 i; i < KEY_COUNT; ++i) {
                uint256 k = (start + i) % KEY_COUNT;
                if (keyPublisher[keys[k]] == publisher && !keyRevoked[keys[k]]) return k;
            }
        }
        return start;
    }

    /// @dev Half the time zero, three times in eight a claimed version (of any publisher), else any hash of the
    ///      space (claimed or not).
    function _pickParent(uint256 seed) internal view returns (bytes32) {
        uint256 mode = seed % 8;
        if (mode < 4 || _records.length == 0) return bytes32(0);
        if (mode < 7) return _records[(seed / 8) % _records.length].versionHash;
        return bytes32((seed / 8) % (VERSION_SPACE + 1));
    }

    /// @dev Three times in four an unrevoked claim if there is one; otherwise any publisher and any hash of the
    ///      space (claimed or not, revoked or not, or zero).
    function _pickClaim(uint256 seed) internal view returns (bytes32, address) {
        for (uint256 i; seed % 4 != 0 && i < _records.length; ++i) {
            Record storage rec = _records[(seed / 4 + i) % _records.length];
            if (versionRevokedAt[rec.publisher][rec.versionHash] == 0) return (rec.versionHash, rec.publisher);
        }
        return (bytes32((seed / 4) % (VERSION_SPACE + 1)), publishers[(seed / 64) % PUBLISHER_COUNT]);
    }

    /// @dev A batch's window, leaf and root. The window ends within the last day, or one time in eight up to 10 s
    ///      after the block; the leaf's time is in the window three times in four, else just before or just after
    ///      it. The root is the leaf's hash (a one-leaf tree), one time in sixteen zero, one in sixteen an anchored
    ///      root.
    function _batchCall(bytes32 versionHash, uint256 shapeSeed, uint256 leafSeed)
        internal
        view
        returns (BatchCall memory c)
    {
        c.versionHash = versionHash;
        // Spread the seeds' bits: the fuzzer often passes small values, whose high bits are all zero.
        shapeSeed = uint256(keccak256(abi.encode(shapeSeed)));
        leafSeed = uint256(keccak256(abi.encode(leafSeed)));
        c.windowEnd = (shapeSeed >> 192) % 8 == 0
            ? uint64(bound(shapeSeed, currentTime + 1, currentTime + 10))
            : uint64(bound(shapeSeed, currentTime - 1 days, currentTime));
        c.windowStart = c.windowEnd - uint64(bound(shapeSeed >> 64, 0, 1 hours));
        c.leafCount = (shapeSeed >> 128) % 16 == 2 ? 0 : 1;
        c.requestHash = keccak256(abi.encode(leafSeed, "request"));
        c.responseHash = keccak256(abi.encode(leafSeed, "response"));
        c.salt = keccak256(abi.encode(leafSeed, "salt"));
        uint256 where = leafSeed % 8;
        if (where == 0) c.timestamp = c.windowStart - 1;
        else if (where == 1) c.timestamp = c.windowEnd + 1;
        else c.timestamp = c.windowStart + uint64((leafSeed >> 8) % (c.windowEnd - c.windowStart + 1));
        uint256 rootMode = (shapeSeed >> 128) % 16;
        if (rootMode == 0) {
            c.root = bytes32(0);
        } else if (rootMode == 1 && _batches.length != 0) {
            c.root = _batches[(shapeSeed >> 136) % _batches.length].root;
        } else {
            c.root = keccak256(
                bytes.concat(keccak256(abi.encode(versionHash, c.requestHash, c.responseHash, c.timestamp, c.salt)))
            );
        }
    }

    function _commitmentOf(address publisher, bytes32 versionHash, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(publisher, versionHash, salt));
    }

    function _signDigest(uint256 pk, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pk, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signs `c` with `pk` and submits it; returns whether the call succeeded.
    function _tryRegister(Call memory c, uint256 pk) internal returns (bool ok) {
        IProvenanceRegistry.VersionClaim memory claim = IProvenanceRegistry.VersionClaim({
            publisher: c.publisher,
            versionHash: c.versionHash,
            modelId: modelIdOf(c.publisher),
            parent: c.parent,
            metadataURI: metadataURIOf(c.publisher),
            metadataHash: _metadataHash(c),
            commitSalt: c.commitSalt,
            nonce: c.nonce,
            deadline: c.deadline
        });
        bytes memory signature = _signDigest(pk, registry.hashRegisterModelVersion(claim));
        try registry.registerModelVersion(claim, "", signature) {
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
