// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IValidationRegistry
/// @notice ERC-8004 "Trustless Agents" validation registry: the owner or an operator of an agent asks a validator
///         (a re-executor, a TEE verifier, a zkML verifier, ...) to check some work of the agent, and the validator
///         answers with a score from 0 to 100, which it may update later.
/// @dev Self-contained (no imports) so that Rust's `sol!` can read it. Items marked "prova extension" are not in
///      ERC-8004; everything else has the standard's exact signature, so existing ERC-8004 indexers work.
///
///      A request is identified by its `requestHash` alone, first come first served, as in the standard. Anyone
///      who sees a request in the mempool can register the same hash first for an agent of theirs, and the
///      validator's answer then goes to that agent. The standard's ABI leaves no room to prevent it on-chain, so a
///      validator checks `getValidationStatus(requestHash).agentId` before answering, and the requester checks
///      that its own transaction went through.
interface IValidationRegistry {
    // ---------------------------------------------------------------------------------------------
    // Events (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice Agent `agentId` asked `validatorAddress` to validate the work described at `requestURI`.
    event ValidationRequest(
        address indexed validatorAddress, uint256 indexed agentId, string requestURI, bytes32 indexed requestHash
    );

    /// @notice `validatorAddress` answered (or updated its answer to) request `requestHash` of agent `agentId`.
    event ValidationResponse(
        address indexed validatorAddress,
        uint256 indexed agentId,
        bytes32 indexed requestHash,
        uint8 response,
        string responseURI,
        bytes32 responseHash,
        string tag
    );

    // ---------------------------------------------------------------------------------------------
    // Errors (prova; the standard names none)
    // ---------------------------------------------------------------------------------------------

    /// @notice The identity registry given to the constructor has no code.
    error ValidationInvalidIdentityRegistry(address identityRegistry);

    /// @notice Agent `agentId` does not exist in the identity registry.
    error ValidationUnknownAgent(uint256 agentId);

    /// @notice `caller` is not the owner or an operator of agent `agentId`.
    error ValidationUnauthorized(uint256 agentId, address caller);

    /// @notice A request names no validator (the zero address).
    error ValidationZeroValidator();

    /// @notice Request `requestHash` already exists.
    error ValidationRequestExists(bytes32 requestHash);

    /// @notice Request `requestHash` does not exist.
    error ValidationUnknownRequest(bytes32 requestHash);

    /// @notice `caller` is not the validator named in request `requestHash`.
    error ValidationNotValidator(bytes32 requestHash, address caller);

    /// @notice A response must be from 0 to 100.
    error ValidationInvalidResponse(uint8 response);

    // ---------------------------------------------------------------------------------------------
    // Requests and responses (ERC-8004)
    // ---------------------------------------------------------------------------------------------

    /// @notice The identity registry whose agents are validated.
    function getIdentityRegistry() external view returns (address);

    /// @notice Asks `validatorAddress` to validate work of `agentId` (owner or operator only). Reverts
    ///         `ValidationZeroValidator`, `ValidationRequestExists`, `ValidationUnknownAgent` or
    ///         `ValidationUnauthorized`. Emits `ValidationRequest`. The request's `lastUpdate` is the block time.
    /// @param requestURI Where the validator finds the inputs (emitted, not stored).
    /// @param requestHash Commitment to the request (e.g. keccak256 of the request file); identifies it, so it
    ///        must be new (zero is allowed, as in the reference, and then taken like any other value).
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external;

    /// @notice Answers request `requestHash` (its validator only) with `response` from 0 to 100. May be called
    ///         again; the last answer replaces the previous one (response, responseHash, tag) and `lastUpdate`
    ///         becomes the block timestamp. Reverts `ValidationUnknownRequest`, `ValidationNotValidator` or
    ///         `ValidationInvalidResponse`. Emits `ValidationResponse`.
    /// @param responseURI Evidence (emitted, not stored).
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external;

    /// @notice A request and its latest response: `lastUpdate` is the time of the request until the first
    ///         response, then of the latest response; `response`, `responseHash` and `tag` are zero and empty while
    ///         unanswered (`hasResponse` tells an unanswered request from a response of 0). Reverts
    ///         `ValidationUnknownRequest` if it does not exist.
    function getValidationStatus(bytes32 requestHash)
        external
        view
        returns (
            address validatorAddress,
            uint256 agentId,
            uint8 response,
            bytes32 responseHash,
            string memory tag,
            uint256 lastUpdate
        );

    /// @notice Over the answered requests of `agentId` whose validator is in `validatorAddresses` (any validator if
    ///         empty) and whose tag equals `tag` (any tag if ""): their number, and the sum of their responses
    ///         divided by it (truncated). (0, 0) when there are none.
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 averageResponse);

    /// @notice Every request hash of `agentId`, in order of request. Unbounded: prefer the paginated view.
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory);

    /// @notice Every request hash addressed to `validatorAddress`, in order of request. Unbounded: prefer the
    ///         paginated view.
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory);

    // ---------------------------------------------------------------------------------------------
    // prova extensions
    // ---------------------------------------------------------------------------------------------

    /// @notice prova extension: true once the validator answered request `requestHash`. Reverts
    ///         `ValidationUnknownRequest` if it does not exist.
    function hasResponse(bytes32 requestHash) external view returns (bool);

    /// @notice prova extension: `getAgentValidations(agentId)[offset : offset + limit]` (shorter at the end) and
    ///         the total number. An offset at or past the end gives an empty page, never a revert.
    function getAgentValidationsPaginated(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory hashes, uint256 total);

    /// @notice prova extension: `getValidatorRequests(validatorAddress)[offset : offset + limit]` and the total
    ///         number, with the same bounds.
    function getValidatorRequestsPaginated(address validatorAddress, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory hashes, uint256 total);
}
