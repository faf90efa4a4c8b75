// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IReputationRegistry
/// @notice ERC-8004 "Trustless Agents" reputation registry: clients give agents of an identity registry feedback
///         (a signed fixed-point value with 0 to 18 decimals and two tags), revoke it, and anyone may append
///         responses to it.
/// @dev Self-contained (no imports) so that Rust's `sol!` can read it. Items marked "prova extension" are not in
///      ERC-8004; everything else has the standard's exact signature, so existing ERC-8004 indexers work.
///
///      prova extensions:
///      - Interaction receipts: a signer of the agent (its wallet or its owner) signs an EIP-712
///        `InteractionReceipt` for one interaction (a job, a payment) with one client, and the client submits it
///        with `giveFeedbackWithReceipt`. Each (agentId, interactionHash) counts once, so verified feedback is one
///        per receipt. A receipt stays usable until its deadline if its signer was the agent's signer when it was
///        issued, even after the wallet is rotated, unset or the agent transferred, so the agent cannot void
///        receipts it handed out. Receipts protect against feedback from third parties that never dealt with the
///        agent; they do not stop an agent from issuing receipts to addresses it controls (a Sybil ring), so
///        readers still weigh who the clients are. Readers can keep only verified entries (`isVerified`,
///        `VerifiedFeedback`, `FeedbackEntry.verified`).
///      - Paginated views (`getClientsPaginated`, `readAllFeedbackPaginated`), so that no read needs an unbounded
///        loop.
///      - Stricter checks than the standard asks for: the agent's wallet may not rate the agent (like its owner and
///        operators), and `getSummary` saturates instead of wrapping (see there).
interface IReputationRegistry {
    // ---------------------------------------------------------------------------------------------
    // Types (prova extensions)
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: the EIP-712 message `InteractionReceipt(uint256 agentId,address client,bytes32
    ///         interactionHash,address signer,uint256 issuedAt,uint256 deadline)` in the domain
    ///         `{name: "prova ReputationRegistry", version: "1", chainId, verifyingContract}`, signed by `signer`.
    ///         Contract wallets sign with ERC-1271.
    struct InteractionReceipt {
        /// @notice The agent that served the interaction.
        uint256 agentId;
        /// @notice The client that may give feedback with this receipt (the caller of `giveFeedbackWithReceipt`).
        address client;
        /// @notice Identifies the interaction, e.g. keccak256 of a job id or a payment transaction hash. Each
        ///         (agentId, interactionHash) can back one feedback only.
        bytes32 interactionHash;
        /// @notice Who signs the receipt: a signer of the agent (its owner or its wallet) at `issuedAt`, as the
        ///         identity registry's `isAgentSignerSince(agentId, signer, issuedAt)` tells.
        address signer;
        /// @notice Unix time at which the receipt is issued (chain time).
        uint256 issuedAt;
        /// @notice Unix time after which the receipt can no longer be used; at most `issuedAt` plus 30 days.
        uint256 deadline;
    }

    /// @notice prova extension: one feedback entry, as returned by `readAllFeedbackPaginated`.
    struct FeedbackEntry {
        /// @notice The client that gave the feedback.
        address client;
        /// @notice Its index among that client's feedback to the agent, from 1.
        uint64 feedbackIndex;
        /// @notice The value, a fixed-point number with `valueDecimals` decimals.
        int128 value;
        /// @notice 0 to 18.
        uint8 valueDecimals;
        /// @notice First tag ("" for none).
        string tag1;
        /// @notice Second tag ("" for none).
        string tag2;
        /// @notice True if the client revoked it.
        bool isRevoked;
        /// @notice True if it was given with an interaction receipt of the agent.
        bool verified;
    }

    // ---------------------------------------------------------------------------------------------
    // Events (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice `clientAddress` gave agent `agentId` feedback number `feedbackIndex`. `indexedTag1` is `tag1`; as an
    ///         indexed string its topic holds only its keccak256.
    event NewFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        int128 value,
        uint8 valueDecimals,
        string indexed indexedTag1,
        string tag1,
        string tag2,
        string endpoint,
        string feedbackURI,
        bytes32 feedbackHash
    );

    /// @notice `clientAddress` revoked its feedback number `feedbackIndex` to agent `agentId`.
    event FeedbackRevoked(uint256 indexed agentId, address indexed clientAddress, uint64 indexed feedbackIndex);

    /// @notice `responder` responded to feedback number `feedbackIndex` of `clientAddress` to agent `agentId`.
    event ResponseAppended(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        address indexed responder,
        string responseURI,
        bytes32 responseHash
    );

    // ---------------------------------------------------------------------------------------------
    // Events (prova extensions)
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: feedback `feedbackIndex` of `clientAddress` to `agentId` (announced by the
    ///         `NewFeedback` just before this event) is backed by interaction receipt `interactionHash`, signed by
    ///         `signer` (the agent's owner or wallet when the receipt was issued).
    event VerifiedFeedback(
        uint256 indexed agentId,
        address indexed clientAddress,
        uint64 feedbackIndex,
        bytes32 indexed interactionHash,
        address signer
    );

    // ---------------------------------------------------------------------------------------------
    // Errors (prova; the standard names none)
    // ---------------------------------------------------------------------------------------------

    /// @notice The identity registry given to the constructor has no code.
    error ReputationInvalidIdentityRegistry(address identityRegistry);

    /// @notice Agent `agentId` does not exist in the identity registry.
    error ReputationUnknownAgent(uint256 agentId);

    /// @notice `caller` is the owner, an operator or the wallet of agent `agentId` (or the signer of the receipt it
    ///         submits), which cannot rate itself.
    error ReputationSelfFeedback(uint256 agentId, address caller);

    /// @notice `valueDecimals` must be at most 18.
    error ReputationInvalidValueDecimals(uint8 valueDecimals);

    /// @notice A feedback value must be within ±1e38 (the reference's bound).
    error ReputationValueOutOfRange(int128 value);

    /// @notice `appendResponse` needs a non-empty `responseURI`.
    error ReputationEmptyResponseURI();

    /// @notice `clientAddress` has no feedback number `feedbackIndex` for agent `agentId`.
    error ReputationUnknownFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex);

    /// @notice The feedback is already revoked.
    error ReputationFeedbackAlreadyRevoked(uint256 agentId, address clientAddress, uint64 feedbackIndex);

    /// @notice `getSummary` needs at least one client address (the standard's Sybil guard).
    error ReputationEmptyClients();

    /// @notice prova extension: the receipt is for agent `receiptAgentId`, not `agentId`.
    error ReceiptWrongAgent(uint256 receiptAgentId, uint256 agentId);

    /// @notice prova extension: the receipt names client `receiptClient`, not the caller `caller`.
    error ReceiptWrongClient(address receiptClient, address caller);

    /// @notice prova extension: the receipt expired at `deadline` (unix seconds).
    error ReceiptExpired(uint256 deadline);

    /// @notice prova extension: the receipt's `deadline` is more than 30 days after its `issuedAt`.
    error ReceiptLifetimeTooLong(uint256 issuedAt, uint256 deadline);

    /// @notice prova extension: `signer` was not the agent's owner or wallet at `issuedAt` (nor at any time since).
    error ReceiptUnauthorizedSigner(address signer, uint256 issuedAt);

    /// @notice prova extension: the signature is not `expectedSigner`'s (the receipt's `signer`) over the receipt.
    error InvalidReceiptSignature(address expectedSigner);

    /// @notice prova extension: a feedback was already given with this receipt (or another receipt with the same
    ///         agent and interaction hash).
    error ReceiptAlreadyUsed(uint256 agentId, bytes32 interactionHash);

    // ---------------------------------------------------------------------------------------------
    // Feedback (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice The identity registry whose agents this registry rates.
    function getIdentityRegistry() external view returns (address);

    /// @notice Gives agent `agentId` feedback from the caller, which becomes the caller's feedback number
    ///         `getLastIndex(agentId, caller)` (counting from 1). The caller joins `getClients(agentId)` on its first
    ///         feedback. Reverts `ReputationInvalidValueDecimals` above 18 decimals, `ReputationValueOutOfRange` when
    ///         |value| > 1e38, `ReputationUnknownAgent` for an unknown agent and `ReputationSelfFeedback` when the
    ///         caller is the agent's owner, an operator or its wallet (`isAgentInsider`). Emits `NewFeedback`.
    /// @param value The rating, a fixed-point number: `value / 10**valueDecimals`, from -1e38 to 1e38.
    /// @param tag1 First tag ("" for none), stored; e.g. "quality".
    /// @param tag2 Second tag ("" for none), stored.
    /// @param endpoint The agent endpoint the feedback is about (emitted, not stored).
    /// @param feedbackURI Off-chain feedback file (emitted, not stored).
    /// @param feedbackHash keccak256 of the feedback file, or zero (emitted, not stored).
    function giveFeedback(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash
    ) external;

    /// @notice Revokes the caller's feedback `feedbackIndex` to `agentId`. Reverts `ReputationUnknownFeedback` if
    ///         the caller has no such feedback and `ReputationFeedbackAlreadyRevoked` if it is revoked. Emits
    ///         `FeedbackRevoked`.
    function revokeFeedback(uint256 agentId, uint64 feedbackIndex) external;

    /// @notice Appends a response by the caller (anyone: the agent, an auditor, ...) to feedback `feedbackIndex` of
    ///         `clientAddress` to `agentId`. Revoked feedback may be responded to as well: revocation does not erase
    ///         the record, and a response can still explain it. Reverts `ReputationEmptyResponseURI` for an empty
    ///         `responseURI` and `ReputationUnknownFeedback` if the feedback does not exist. Emits
    ///         `ResponseAppended`; the URI and hash are emitted, not stored.
    function appendResponse(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        string calldata responseURI,
        bytes32 responseHash
    ) external;

    /// @notice Aggregates the feedback of `clientAddresses` to `agentId`. Exact semantics (normative; other
    ///         implementations reproduce it bit for bit):
    ///         1. Revert `ReputationEmptyClients` if `clientAddresses` is empty.
    ///         2. For each address in `clientAddresses`, in order (a duplicate is visited again), and each of its
    ///            feedback indexes 1..getLastIndex: skip revoked entries; skip the entry if `tag1` is not "" and
    ///            differs from the entry's tag1; likewise for `tag2`.
    ///         3. For each kept entry: `scaled = int256(value) * 10**(18 - valueDecimals)`; `sum += scaled`;
    ///            `count += 1`; and count one more entry with that `valueDecimals`.
    ///         4. If `count == 0`, return (0, 0, 0).
    ///         5. `mode` = the valueDecimals (0..18) with the most kept entries; ties go to the smallest decimals.
    ///         6. `avg = sum / int256(count)` (signed division, truncating toward zero);
    ///            `scaled = avg / int256(10**(18 - mode))` (again truncating toward zero);
    ///            `summaryValue = scaled` clamped to [type(int128).min, type(int128).max]. (The reference converts
    ///            with `int128(scaled)`, which keeps the low 128 bits, so that one client in the list can wrap the
    ///            summary to a plausible value of its choice; here it saturates instead.)
    ///         7. Return (count, summaryValue, mode).
    function getSummary(uint256 agentId, address[] calldata clientAddresses, string calldata tag1, string calldata tag2)
        external
        view
        returns (uint64 count, int128 summaryValue, uint8 summaryValueDecimals);

    /// @notice One feedback entry. Reverts `ReputationUnknownFeedback` if it does not exist.
    function readFeedback(uint256 agentId, address clientAddress, uint64 feedbackIndex)
        external
        view
        returns (int128 value, uint8 valueDecimals, string memory tag1, string memory tag2, bool isRevoked);

    /// @notice Every feedback entry of `clientAddresses` (all clients, in `getClients` order, if empty) to `agentId`
    ///         whose tags match (`tag1`/`tag2` "" match anything), revoked ones only if `includeRevoked`; in client
    ///         order (duplicates as given), then by index. Returned as parallel arrays. Unbounded: prefer
    ///         `readAllFeedbackPaginated` for agents with much feedback.
    function readAllFeedback(
        uint256 agentId,
        address[] calldata clientAddresses,
        string calldata tag1,
        string calldata tag2,
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
        );

    /// @notice The number of responses to feedback of `agentId`. Only `agentId` is mandatory; the others filter:
    ///         - `clientAddress` zero: every feedback of every client (`feedbackIndex` is then ignored, as in the
    ///           reference); else `feedbackIndex` zero: every feedback of `clientAddress`; else that one feedback
    ///           (zero if it does not exist);
    ///         - `responders` empty: responses by anyone; else the sum over `responders` of each one's responses
    ///           (a duplicate address is counted again).
    ///         Revoked feedback counts like any other. Unbounded over clients and indexes when they are not given.
    function getResponseCount(
        uint256 agentId,
        address clientAddress,
        uint64 feedbackIndex,
        address[] calldata responders
    ) external view returns (uint64);

    /// @notice Every client that gave `agentId` feedback, in order of first feedback. Unbounded: prefer
    ///         `getClientsPaginated`.
    function getClients(uint256 agentId) external view returns (address[] memory);

    /// @notice The number of feedback entries `clientAddress` gave `agentId` (the index of the last one).
    function getLastIndex(uint256 agentId, address clientAddress) external view returns (uint64);

    // ---------------------------------------------------------------------------------------------
    // Interaction receipts (prova extensions)
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: `giveFeedback` backed by an interaction receipt of the agent. Besides the checks of
    ///         `giveFeedback`, requires, in this order: `receipt.agentId == agentId` (`ReceiptWrongAgent`),
    ///         `receipt.client == msg.sender` (`ReceiptWrongClient`), `block.timestamp <= receipt.deadline`
    ///         (`ReceiptExpired`), `receipt.deadline <= receipt.issuedAt + 30 days` (`ReceiptLifetimeTooLong`), that
    ///         (agentId, receipt.interactionHash) was never used (`ReceiptAlreadyUsed`), `receipt.signer !=
    ///         msg.sender` (`ReputationSelfFeedback`), that `receipt.signer` is the agent's owner or wallet now or was
    ///         one at some time at or after `receipt.issuedAt` (identity registry `isAgentSignerSince`;
    ///         `ReceiptUnauthorizedSigner`), and a valid signature of the receipt by `receipt.signer`
    ///         (`InvalidReceiptSignature`). So a receipt outlives a rotation, unset or transfer that happened after
    ///         it was issued, but a retired signer's receipts live at most 30 days past its retirement. Records the
    ///         feedback exactly as `giveFeedback` does, marked verified, and emits `NewFeedback` then
    ///         `VerifiedFeedback`.
    function giveFeedbackWithReceipt(
        uint256 agentId,
        int128 value,
        uint8 valueDecimals,
        string calldata tag1,
        string calldata tag2,
        string calldata endpoint,
        string calldata feedbackURI,
        bytes32 feedbackHash,
        InteractionReceipt calldata receipt,
        bytes calldata signature
    ) external;

    /// @notice prova extension: true if the feedback was given with an interaction receipt (false if it does not
    ///         exist). Revocation does not change it.
    function isVerified(uint256 agentId, address client, uint64 feedbackIndex) external view returns (bool);

    /// @notice prova extension: true if a feedback was given with a receipt for (agentId, interactionHash).
    function receiptUsed(uint256 agentId, bytes32 interactionHash) external view returns (bool);

    /// @notice prova extension: the EIP-712 digest of `receipt` that `receipt.signer` signs.
    function hashReceipt(InteractionReceipt calldata receipt) external view returns (bytes32);

    /// @notice prova extension: the EIP-712 domain separator of this deployment on the current chain.
    function domainSeparator() external view returns (bytes32);

    // ---------------------------------------------------------------------------------------------
    // Paginated views (prova extensions)
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: `getClients(agentId)[offset : offset + limit]` (shorter at the end) and the total
    ///         number of clients. An offset at or past the end gives an empty page, never a revert.
    function getClientsPaginated(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory clients, uint256 total);

    /// @notice prova extension: the entries `readAllFeedback` would return (same arguments, same order), as
    ///         structs, restricted to positions [offset, offset + limit), and `total`, the number of all matching
    ///         entries. An offset at or past `total` gives an empty page, never a revert. Each call still visits
    ///         every feedback of the given clients (to count `total`) but copies only one page of tags.
    function readAllFeedbackPaginated(
        uint256 agentId,
        address[] calldata clientAddresses,
        string calldata tag1,
        string calldata tag2,
        bool includeRevoked,
        uint256 offset,
        uint256 limit
    ) external view returns (FeedbackEntry[] memory entries, uint256 total);
}
