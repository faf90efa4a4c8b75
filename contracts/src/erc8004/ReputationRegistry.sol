// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IIdentityRegistry} from "../interfaces/erc8004/IIdentityRegistry.sol";
import {IReputationRegistry} from "../interfaces/erc8004/IReputationRegistry.sol";

/// @title ReputationRegistry
/// @notice ERC-8004 reputation registry of prova, with interaction receipts (feedback verified by a signature of the
///         agent, one per interaction) and paginated views.
/// @dev Storage is packed so that a feedback writes as few fresh slots as possible:
///      - each entry's fixed-size fields (value, decimals, revoked, verified, response count) share one slot
///        (`FeedbackHeader`), and its tags are strings (one slot each up to 31 bytes, none when empty);
///      - a client's last index lives in that same slot of the client's entry number 1 (`clientLastIndex`), so
///        the first feedback of a client writes it for free and later ones update a slot the call reads anyway;
///      - the client list keeps its length in its first position (`ClientSlot`), so an agent's first client
///        writes one fresh slot.
///      The identity registry answers "does the agent exist, and is the caller its owner, an operator or its
///      wallet" in one call (`isAgentInsider`), and "was this account the agent's signer when the receipt was
///      issued" in another (`isAgentSignerSince`); both are prova extensions, so this registry needs prova's
///      identity registry.
contract ReputationRegistry is IReputationRegistry, EIP712 {
    /// @dev keccak256("InteractionReceipt(uint256 agentId,address client,bytes32 interactionHash,address signer,
    ///      uint256 issuedAt,uint256 deadline)")
    bytes32 public constant INTERACTION_RECEIPT_TYPEHASH = keccak256(
        "InteractionReceipt(uint256 agentId,address client,bytes32 interactionHash,address signer,uint256 issuedAt,uint256 deadline)"
    );

    /// @dev The largest |value| a feedback may carry (the reference's bound).
    int128 public constant MAX_ABS_VALUE = 1e38;

    /// @dev The longest a receipt may stay usable after it is issued. It bounds how long a retired signer's
    ///      receipts (or a retired key, should it leak) can back feedback: at most this long after the retirement.
    uint256 public constant MAX_RECEIPT_LIFETIME = 30 days;

    /// @dev Slot 0 of a feedback entry: 128 + 8 + 8 + 8 + 32 + 64 = 248 bits.
    struct FeedbackHeader {
        int128 value;
        uint8 valueDecimals;
        bool isRevoked;
        bool verified;
        /// @dev Responses to this entry by anyone. 32 bits: appending a 4,294,967,296th response reverts.
        uint32 responseCount;
        /// @dev Only in entry number 1 of a client: the client's last index (its number of entries).
        uint64 clientLastIndex;
    }

    struct FeedbackRecord {
        FeedbackHeader header;
        string tag1;
        string tag2;
    }

    /// @dev One position of an agent's client list. `count` (the list's length) is kept only in position 0, so that
    ///      an agent's first client writes one fresh slot rather than a length and an element.
    struct ClientSlot {
        address client;
        uint96 count;
    }

    /// @dev Which entries a view keeps: revoked ones only if `includeRevoked`; a tag matches if `any`, or if its
    ///      keccak256 equals `hash`.
    struct Filter {
        bool includeRevoked;
        bool any1;
        bytes32 hash1;
        bool any2;
        bytes32 hash2;
    }

    /// @dev A page being filled by `_collect`: entries at positions [offset, offset + entries.length) of the
    ///      matching sequence; `filled` of them so far, and `total` matches seen.
    struct Page {
        uint256 offset;
        uint256 filled;
        uint256 total;
        FeedbackEntry[] entries;
    }

    /// @dev `getSummary`'s running totals: the sum of scaled values, the number of entries, and that number per
    ///      valueDecimals (0..18).
    struct Summary {
        int256 sum;
        uint64 count;
        uint256[19] perDecimals;
    }

    IIdentityRegistry private immutable _identity;

    mapping(uint256 agentId => mapping(address client => mapping(uint64 feedbackIndex => FeedbackRecord))) private
        _feedback;
    /// @dev Each agent's clients in order of first feedback, by position; position 0 also holds their number.
    mapping(uint256 agentId => mapping(uint256 position => ClientSlot)) private _clients;
    mapping(
        uint256 agentId
            => mapping(address client => mapping(uint64 feedbackIndex => mapping(address responder => uint64)))
    ) private _responses;
    mapping(uint256 agentId => mapping(bytes32 interactionHash => bool)) private _receiptUsed;

    /// @param identityRegistry The ERC-8004 identity registry (prova's `IdentityRegistry`) whose agents are rated.
    constructor(address identityRegistry) EIP712("prova ReputationRegistry", "1") {
        if (identityRegistry.code.length == 0) revert ReputationInvalidIdentityRegistry(identityRegistry);
        _identity = IIdentityRegistry(identityRegistry);
    }

    // ---------------------------------------------------------------------------------------------
    // Feedback
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IReputationRegistry
    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @inheritdoc IReputationRegistry
    /// @dev The strings are taken in memory (the ABI is the same as calldata's): the event needs them there anyway,
    ///      and as calldata (two stack slots each) the arguments of `giveFeedbackWithReceipt` would not fit the
    ///      stack of the ABI decoder without via-IR.
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) external {
        _checkFeedbackAllowed(agentId, value, valueDecimals);
        uint64 feedbackIndex = _recordFeedback(agentId, value, valueDecimals, tag1, tag2, false);
        _emitNewFeedback(agentId, feedbackIndex, value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash);
    }

    /// @inheritdoc IReputationRegistry
    function giveFeedbackWithReceipt(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash,
        InteractionReceipt calldata receipt,
        bytes calldata signature
    ) external {
        _checkFeedbackAllowed(agentId, value, valueDecimals);
        _useReceipt(agentId, receipt, signature);
        uint64 feedbackIndex = _recordFeedback(agentId, value, valueDecimals, tag1, tag2, true);
        _emitNewFeedback(agentId, feedbackIndex, value, valueDecimals, tag1, tag2, endpoint, feedbackURI, feedbackHash);
        emit VerifiedFeedback(agentId, msg.sender, feedbackIndex, receipt.interactionHash, receipt.signer);
    }

    /// @inheritdoc IReputationRegistry
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external {
        FeedbackRecord storage f = _existingFeedback(agentId, msg.sender, feedbackIndex);
        if (f.header.isRevoked) revert ReputationFeedbackAlreadyRevoked(agentId, msg.sender, feedbackIndex);
        f.header.isRevoked = true;
        emit FeedbackRevoked(agentId, msg.sender, feedbackIndex);
    }

    /// @inheritdoc IReputationRegistry
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external {
        if (bytes(responseURI).length == 0) revert ReputationEmptyResponseURI();
        FeedbackRecord storage f = _existingFeedback(agentId, clientAddress, feedbackIndex);
        ++f.header.responseCount;
        ++_responses[agentId][clientAddress][feedbackIndex][msg.sender];
        emit ResponseAppended(agentId, clientAddress, feedbackIndex, msg.sender, responseURI, responseHash);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IReputationRegistry
    /// @dev Follows the numbered steps of the interface's NatSpec exactly.
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals)
    {
        if (clientAddresses.length == 0) revert ReputationEmptyClients();
        Summary memory acc = _summarize(agentId, clientAddresses, _filter(false, tag1, tag2));
        count = acc.count;
        if (count == 0) return (0, 0, 0);
        uint256 best;
        for (uint8 d; d <= 18; ++d) {
            // Strictly greater: on a tie the smaller decimals, seen first, stays.
            if (acc.perDecimals[d] > best) {
                best = acc.perDecimals[d];
                summaryValueDecimals = d;
            }
        }
        // |sum| <= count * 1e38 * 1e18, far inside int256.
        int256 avg = acc.sum / int256(uint256(count));
        summaryValue = _saturatingInt128(avg / int256(10 ** (18 - summaryValueDecimals)));
    }

    /// @inheritdoc IReputationRegistry
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked)
    {
        FeedbackRecord storage f = _existingFeedback(agentId, clientAddress, feedbackIndex);
        FeedbackHeader memory h = f.header;
        return (h.value, h.valueDecimals, f.tag1, f.tag2, h.isRevoked);
    }

    /// @inheritdoc IReputationRegistry
    /// @dev Arguments in memory (the ABI is the same) to keep the stack shallow; it is a view.
    function readAllFeedback(
        uint256 agentId,
        address[] memory clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked
    )
        external
        view
        returns (
            address[] memory clients,
            uint64[] memory feedbackIndexes,
            int128[] memory values,
            uint8[] memory valueDecimals,
            string[] memory tag1s,
            string[] memory tag2s,
            bool[] memory revokedStatuses
        )
    {
        (FeedbackEntry[] memory entries,) = _collect(
            agentId, clientAddresses, _filter(includeRevoked, tag1, tag2), 0, type(uint256).max
        );
        uint256 n = entries.length;
        clients = new address[](n);
        feedbackIndexes = new uint64[](n);
        values = new int128[](n);
        valueDecimals = new uint8[](n);
        tag1s = new string[](n);
        tag2s = new string[](n);
        revokedStatuses = new bool[](n);
        for (uint256 i; i < n; ++i) {
            FeedbackEntry memory e = entries[i];
            clients[i] = e.client;
            feedbackIndexes[i] = e.feedbackIndex;
            values[i] = e.value;
            valueDecimals[i] = e.valueDecimals;
            tag1s[i] = e.tag1;
            tag2s[i] = e.tag2;
            revokedStatuses[i] = e.isRevoked;
        }
    }

    /// @inheritdoc IReputationRegistry
    function getResponseCount(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) external view returns (uint64 count) {
        if (clientAddress != address(0)) {
            return _clientResponses(agentId, clientAddress, feedbackIndex, responders);
        }
        mapping(uint256 => ClientSlot) storage list = _clients[agentId];
        uint256 n = list[0].count;
        for (uint256 c; c < n; ++c) {
            count += _clientResponses(agentId, list[c].client, 0, responders);
        }
    }

    /// @inheritdoc IReputationRegistry
    function getClients(uint256 agentId) external view returns (address[] memory) {
        return _clientList(agentId, 0, type(uint256).max);
    }

    /// @inheritdoc IReputationRegistry
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64) {
        return _feedback[agentId][clientAddress][1].header.clientLastIndex;
    }

    // ---------------------------------------------------------------------------------------------
    // Interaction receipts
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IReputationRegistry
    function isVerified(uint256 agentId, address client, uint64 feedbackIndex) external view returns (bool) {
        return _feedback[agentId][client][feedbackIndex].header.verified;
    }

    /// @inheritdoc IReputationRegistry
    function receiptUsed(uint256 agentId, bytes32 interactionHash) external view returns (bool) {
        return _receiptUsed[agentId][interactionHash];
    }

    /// @inheritdoc IReputationRegistry
    function hashReceipt(InteractionReceipt calldata receipt) external view returns (bytes32) {
        return _hashReceipt(receipt);
    }

    /// @inheritdoc IReputationRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------------------
    // Paginated views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IReputationRegistry
    function getClientsPaginated(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory clients, uint256 total)
    {
        total = _clients[agentId][0].count;
        clients = _clientList(agentId, offset, limit);
    }

    /// @inheritdoc IReputationRegistry
    function readAllFeedbackPaginated(
        uint256 agentId,
        address[] memory clientAddresses,
        string memory tag1,
        string memory tag2,
        bool includeRevoked,
        uint256 offset,
        uint256 limit
    ) external view returns (FeedbackEntry[] memory entries, uint256 total) {
        return _collect(agentId, clientAddresses, _filter(includeRevoked, tag1, tag2), offset, limit);
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev Reverts unless the decimals and the value are valid, the agent exists and the caller is not its owner,
    ///      an operator or its wallet.
    function _checkFeedbackAllowed(uint256 agentId, int128 value, uint8 valueDecimals) private view {
        if (valueDecimals > 18) revert ReputationInvalidValueDecimals(valueDecimals);
        if (value > MAX_ABS_VALUE || value < -MAX_ABS_VALUE) revert ReputationValueOutOfRange(value);
        bool insider;
        try _identity.isAgentInsider(msg.sender, agentId) returns (bool result) {
            insider = result;
        } catch {
            revert ReputationUnknownAgent(agentId);
        }
        if (insider) revert ReputationSelfFeedback(agentId, msg.sender);
    }

    /// @dev Stores a checked feedback of the caller as its next entry and returns its index; the one writer for
    ///      both entry points.
    function _recordFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        bool verified
    ) private returns (uint64 feedbackIndex) {
        mapping(uint64 => FeedbackRecord) storage entries = _feedback[agentId][msg.sender];
        FeedbackHeader storage first = entries[1].header;
        // Checked: a client's 2**64-th feedback to one agent reverts.
        feedbackIndex = first.clientLastIndex + 1;
        if (feedbackIndex == 1) {
            _appendClient(agentId);
        } else {
            first.clientLastIndex = feedbackIndex;
        }
        FeedbackRecord storage f = entries[feedbackIndex];
        // One SSTORE for the whole header; entry 1 carries the client's last index (1 on a first feedback).
        f.header = FeedbackHeader({
            value: value,
            valueDecimals: valueDecimals,
            isRevoked: false,
            verified: verified,
            responseCount: 0,
            clientLastIndex: feedbackIndex == 1 ? 1 : 0
        });
        // A fresh entry's tags are empty already.
        if (bytes(tag1).length != 0) f.tag1 = tag1;
        if (bytes(tag2).length != 0) f.tag2 = tag2;
    }

    /// @dev Appends the caller to the client list of `agentId`.
    function _appendClient(uint256 agentId) private {
        mapping(uint256 => ClientSlot) storage list = _clients[agentId];
        uint96 count = list[0].count;
        if (count == 0) {
            list[0] = ClientSlot({client: msg.sender, count: 1});
        } else {
            list[count].client = msg.sender;
            list[0].count = count + 1;
        }
    }

    /// @dev Positions [offset, offset + limit) of the client list of `agentId` (empty at or past its end).
    function _clientList(uint256 agentId, uint256 offset, uint256 limit)
        private
        view
        returns (address[] memory clients)
    {
        mapping(uint256 => ClientSlot) storage list = _clients[agentId];
        uint256 n = _pageLength(list[0].count, offset, limit);
        clients = new address[](n);
        for (uint256 i; i < n; ++i) {
            clients[i] = list[offset + i].client;
        }
    }

    /// @dev Emits `NewFeedback` (a frame of its own: the event's arguments fill the stack).
    function _emitNewFeedback(
        uint256 agentId,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string memory tag1,
        string memory tag2,
        string memory endpoint,
        string memory feedbackURI,
        bytes32 feedbackHash
    ) private {
        emit NewFeedback(
            agentId,
            msg.sender,
            feedbackIndex,
            value,
            valueDecimals,
            tag1,
            tag1,
            tag2,
            endpoint,
            feedbackURI,
            feedbackHash
        );
    }

    /// @dev Checks an interaction receipt for the caller's feedback to `agentId` and marks it used.
    function _useReceipt(uint256 agentId, InteractionReceipt calldata receipt, bytes calldata signature) private {
        if (receipt.agentId != agentId) revert ReceiptWrongAgent(receipt.agentId, agentId);
        if (receipt.client != msg.sender) revert ReceiptWrongClient(receipt.client, msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > receipt.deadline) revert ReceiptExpired(receipt.deadline);
        if (receipt.deadline > receipt.issuedAt && receipt.deadline - receipt.issuedAt > MAX_RECEIPT_LIFETIME) {
            revert ReceiptLifetimeTooLong(receipt.issuedAt, receipt.deadline);
        }
        mapping(bytes32 => bool) storage used = _receiptUsed[agentId];
        if (used[receipt.interactionHash]) revert ReceiptAlreadyUsed(agentId, receipt.interactionHash);
        address signer = receipt.signer;
        if (signer == msg.sender) revert ReputationSelfFeedback(agentId, msg.sender);
        if (!_identity.isAgentSignerSince(agentId, signer, receipt.issuedAt)) {
            revert ReceiptUnauthorizedSigner(signer, receipt.issuedAt);
        }
        if (!SignatureChecker.isValidSignatureNow(signer, _hashReceipt(receipt), signature)) {
            revert InvalidReceiptSignature(signer);
        }
        used[receipt.interactionHash] = true;
    }

    /// @dev The EIP-712 digest of an `InteractionReceipt` for this deployment and the current chain id.
    function _hashReceipt(InteractionReceipt calldata receipt) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    INTERACTION_RECEIPT_TYPEHASH,
                    receipt.agentId,
                    receipt.client,
                    receipt.interactionHash,
                    receipt.signer,
                    receipt.issuedAt,
                    receipt.deadline
                )
            )
        );
    }

    /// @dev Responses to the feedback of `client` to `agentId`: entry `feedbackIndex`, or every entry when it is 0.
    function _clientResponses(uint256 agentId, address client, uint64 feedbackIndex, address[] calldata responders)
        private
        view
        returns (uint64 count)
    {
        if (feedbackIndex != 0) return _responsesTo(agentId, client, feedbackIndex, responders);
        uint64 last = _feedback[agentId][client][1].header.clientLastIndex;
        for (uint64 i = 1; i <= last; ++i) {
            count += _responsesTo(agentId, client, i, responders);
        }
    }

    /// @dev Responses to one entry, by anyone if `responders` is empty (zero for an entry that does not exist).
    function _responsesTo(uint256 agentId, address client, uint64 feedbackIndex, address[] calldata responders)
        private
        view
        returns (uint64 count)
    {
        if (responders.length == 0) return _feedback[agentId][client][feedbackIndex].header.responseCount;
        mapping(address => uint64) storage byResponder = _responses[agentId][client][feedbackIndex];
        for (uint256 i; i < responders.length; ++i) {
            count += byResponder[responders[i]];
        }
    }

    /// @dev The entry `feedbackIndex` of `client` to `agentId`, reverting `ReputationUnknownFeedback` unless
    ///      1 <= feedbackIndex <= the client's last index.
    function _existingFeedback(uint256 agentId, address client, uint64 feedbackIndex)
        private
        view
        returns (FeedbackRecord storage)
    {
        mapping(uint64 => FeedbackRecord) storage entries = _feedback[agentId][client];
        if (feedbackIndex == 0 || feedbackIndex > entries[1].header.clientLastIndex) {
            revert ReputationUnknownFeedback(agentId, client, feedbackIndex);
        }
        return entries[feedbackIndex];
    }

    /// @dev The entries of `clientAddresses` (all clients if empty) that pass the filter, at positions
    ///      [offset, offset + limit) of the matching sequence, and the number of all matching entries.
    function _collect(
        uint256 agentId,
        address[] memory clientAddresses,
        Filter memory filter,
        uint256 offset,
        uint256 limit
    ) private view returns (FeedbackEntry[] memory, uint256) {
        address[] memory clients = clientAddresses;
        if (clients.length == 0) clients = _clientList(agentId, 0, type(uint256).max);
        // Every match is one of the clients' entries, so their number bounds the page.
        uint256 bound;
        for (uint256 c; c < clients.length; ++c) {
            bound += _feedback[agentId][clients[c]][1].header.clientLastIndex;
        }
        Page memory page = Page({
            offset: offset, filled: 0, total: 0, entries: new FeedbackEntry[](_pageLength(bound, offset, limit))
        });
        for (uint256 c; c < clients.length; ++c) {
            _collectClient(page, _feedback[agentId][clients[c]], clients[c], filter);
        }
        // Shrink to the entries filled (fewer than the bound when some entries did not match).
        FeedbackEntry[] memory entries = page.entries;
        uint256 filled = page.filled;
        assembly ("memory-safe") {
            mstore(entries, filled)
        }
        return (entries, page.total);
    }

    /// @dev Visits one client's entries in index order, counting matches and copying those that fall in the page.
    function _collectClient(
        Page memory page,
        mapping(uint64 => FeedbackRecord) storage list,
        address client,
        Filter memory filter
    ) private view {
        uint64 last = list[1].header.clientLastIndex;
        for (uint64 i = 1; i <= last; ++i) {
            FeedbackRecord storage f = list[i];
            FeedbackHeader memory h = f.header;
            if (!_matches(f, h, filter)) continue;
            if (page.total >= page.offset && page.filled < page.entries.length) {
                page.entries[page.filled++] = FeedbackEntry({
                    client: client,
                    feedbackIndex: i,
                    value: h.value,
                    valueDecimals: h.valueDecimals,
                    tag1: f.tag1,
                    tag2: f.tag2,
                    isRevoked: h.isRevoked,
                    verified: h.verified
                });
            }
            ++page.total;
        }
    }

    /// @dev Steps 2 and 3 of `getSummary`: the totals over the clients' entries that pass the filter.
    function _summarize(uint256 agentId, address[] calldata clientAddresses, Filter memory filter)
        private
        view
        returns (Summary memory acc)
    {
        for (uint256 c; c < clientAddresses.length; ++c) {
            mapping(uint64 => FeedbackRecord) storage entries = _feedback[agentId][clientAddresses[c]];
            uint64 last = entries[1].header.clientLastIndex;
            for (uint64 i = 1; i <= last; ++i) {
                FeedbackRecord storage f = entries[i];
                FeedbackHeader memory h = f.header;
                if (!_matches(f, h, filter)) continue;
                acc.sum += int256(h.value) * int256(10 ** (18 - h.valueDecimals));
                ++acc.count;
                ++acc.perDecimals[h.valueDecimals];
            }
        }
    }

    /// @dev The filter keeping revoked entries if `includeRevoked`, and tags equal to `tag1` and `tag2` ("" matching
    ///      anything).
    function _filter(bool includeRevoked, string memory tag1, string memory tag2) private pure returns (Filter memory) {
        return Filter({
            includeRevoked: includeRevoked,
            any1: bytes(tag1).length == 0,
            hash1: keccak256(bytes(tag1)),
            any2: bytes(tag2).length == 0,
            hash2: keccak256(bytes(tag2))
        });
    }

    /// @dev True if the entry `f` (whose header is `h`) passes the filter. Tags are read only when filtered on.
    function _matches(FeedbackRecord storage f, FeedbackHeader memory h, Filter memory filter)
        private
        view
        returns (bool)
    {
        return (!h.isRevoked || filter.includeRevoked) && (filter.any1 || keccak256(bytes(f.tag1)) == filter.hash1)
            && (filter.any2 || keccak256(bytes(f.tag2)) == filter.hash2);
    }

    /// @dev `x` clamped to the int128 range.
    function _saturatingInt128(int256 x) private pure returns (int128) {
        if (x > type(int128).max) return type(int128).max;
        if (x < type(int128).min) return type(int128).min;
        // In range after the clamps above.
        // forge-lint: disable-next-line(unsafe-typecast)
        return int128(x);
    }

    /// @dev The length of the page [offset, offset + limit) of a list of `total` items: zero at or past the end.
    function _pageLength(uint256 total, uint256 offset, uint256 limit) private pure returns (uint256) {
        if (offset >= total) return 0;
        uint256 remaining = total - offset;
        return limit < remaining ? limit : remaining;
    }
}
