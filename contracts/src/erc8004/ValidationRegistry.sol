// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IIdentityRegistry} from "../interfaces/erc8004/IIdentityRegistry.sol";
import {IValidationRegistry} from "../interfaces/erc8004/IValidationRegistry.sol";

/// @title ValidationRegistry
/// @notice ERC-8004 validation registry of prova, with paginated views.
/// @dev A request's validator, agent, latest response and its time share one slot (`RequestRecord` slot 0), so a
///      request writes one fresh slot besides the two index lists, and a response rewrites that slot instead of
///      filling a fresh one. The agentId is kept in 48 bits: agent ids are sequential, and 2**48 registrations
///      would cost more gas than the chain will ever carry (`SafeCast` reverts should one not fit).
contract ValidationRegistry is IValidationRegistry {
    /// @dev The stored `response` of a request not answered yet (a real response is 0 to 100).
    uint8 private constant NO_RESPONSE = type(uint8).max;

    /// @dev Slot 0: validator | agentId | response | lastUpdate (160 + 48 + 8 + 40 = 256 bits). The validator is
    ///      never zero for an existing request; `response` is `NO_RESPONSE` until the first response; `lastUpdate`
    ///      (unix seconds) is the time of the request, then of the latest response.
    struct RequestRecord {
        address validator;
        uint48 agentId;
        uint8 response;
        uint40 lastUpdate;
        bytes32 responseHash;
        string tag;
    }

    IIdentityRegistry private immutable _identity;

    mapping(bytes32 requestHash => RequestRecord) private _requests;
    mapping(uint256 agentId => bytes32[]) private _agentRequests;
    mapping(address validator => bytes32[]) private _validatorRequests;

    /// @param identityRegistry The ERC-8004 identity registry (prova's `IdentityRegistry`) whose agents are validated.
    constructor(address identityRegistry) {
        if (identityRegistry.code.length == 0) revert ValidationInvalidIdentityRegistry(identityRegistry);
        _identity = IIdentityRegistry(identityRegistry);
    }

    // ---------------------------------------------------------------------------------------------
    // Requests and responses
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IValidationRegistry
    function getIdentityRegistry() external view returns (address) {
        return address(_identity);
    }

    /// @inheritdoc IValidationRegistry
    function validationRequest(
        address validatorAddress,
        uint256 agentId,
        string calldata requestURI,
        bytes32 requestHash
    ) external {
        if (validatorAddress == address(0)) revert ValidationZeroValidator();
        RequestRecord storage r = _requests[requestHash];
        if (r.validator != address(0)) revert ValidationRequestExists(requestHash);
        bool authorized;
        try _identity.isAuthorizedOrOwner(msg.sender, agentId) returns (bool ok) {
            authorized = ok;
        } catch {
            revert ValidationUnknownAgent(agentId);
        }
        if (!authorized) revert ValidationUnauthorized(agentId, msg.sender);

        // All four fields share slot 0. 40 bits of unix seconds last until the year 36812.
        r.validator = validatorAddress;
        r.agentId = SafeCast.toUint48(agentId);
        r.response = NO_RESPONSE;
        // forge-lint: disable-next-line(unsafe-typecast)
        r.lastUpdate = uint40(block.timestamp);
        _agentRequests[agentId].push(requestHash);
        _validatorRequests[validatorAddress].push(requestHash);
        emit ValidationRequest(validatorAddress, agentId, requestURI, requestHash);
    }

    /// @inheritdoc IValidationRegistry
    function validationResponse(
        bytes32 requestHash,
        uint8 response,
        string calldata responseURI,
        bytes32 responseHash,
        string calldata tag
    ) external {
        RequestRecord storage r = _existingRequest(requestHash);
        if (r.validator != msg.sender) revert ValidationNotValidator(requestHash, msg.sender);
        if (response > 100) revert ValidationInvalidResponse(response);
        r.response = response;
        // 40 bits of unix seconds last until the year 36812.
        // forge-lint: disable-next-line(unsafe-typecast)
        r.lastUpdate = uint40(block.timestamp);
        r.responseHash = responseHash;
        r.tag = tag;
        emit ValidationResponse(msg.sender, r.agentId, requestHash, response, responseURI, responseHash, tag);
    }

    // ---------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IValidationRegistry
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
        )
    {
        RequestRecord storage r = _existingRequest(requestHash);
        uint8 stored = r.response;
        return (r.validator, r.agentId, stored == NO_RESPONSE ? 0 : stored, r.responseHash, r.tag, r.lastUpdate);
    }

    /// @inheritdoc IValidationRegistry
    function getSummary(uint256 agentId, address[] calldata validatorAddresses, string calldata tag)
        external
        view
        returns (uint64 count, uint8 averageResponse)
    {
        bytes32[] storage hashes = _agentRequests[agentId];
        bool anyTag = bytes(tag).length == 0;
        bytes32 tagHash = keccak256(bytes(tag));
        uint256 sum;
        for (uint256 i; i < hashes.length; ++i) {
            RequestRecord storage r = _requests[hashes[i]];
            if (r.response == NO_RESPONSE) continue;
            if (validatorAddresses.length != 0 && !_contains(validatorAddresses, r.validator)) continue;
            if (!anyTag && keccak256(bytes(r.tag)) != tagHash) continue;
            sum += r.response;
            ++count;
        }
        // The average of values of at most 100 is at most 100.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (count != 0) averageResponse = uint8(sum / count);
    }

    /// @inheritdoc IValidationRegistry
    function getAgentValidations(uint256 agentId) external view returns (bytes32[] memory) {
        return _agentRequests[agentId];
    }

    /// @inheritdoc IValidationRegistry
    function getValidatorRequests(address validatorAddress) external view returns (bytes32[] memory) {
        return _validatorRequests[validatorAddress];
    }

    // ---------------------------------------------------------------------------------------------
    // prova extensions
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IValidationRegistry
    function hasResponse(bytes32 requestHash) external view returns (bool) {
        return _existingRequest(requestHash).response != NO_RESPONSE;
    }

    /// @inheritdoc IValidationRegistry
    function getAgentValidationsPaginated(uint256 agentId, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory hashes, uint256 total)
    {
        return _page(_agentRequests[agentId], offset, limit);
    }

    /// @inheritdoc IValidationRegistry
    function getValidatorRequestsPaginated(address validatorAddress, uint256 offset, uint256 limit)
        external
        view
        returns (bytes32[] memory hashes, uint256 total)
    {
        return _page(_validatorRequests[validatorAddress], offset, limit);
    }

    // ---------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------

    /// @dev The record of `requestHash`, reverting `ValidationUnknownRequest` if there is none.
    function _existingRequest(bytes32 requestHash) private view returns (RequestRecord storage r) {
        r = _requests[requestHash];
        if (r.validator == address(0)) revert ValidationUnknownRequest(requestHash);
    }

    /// @dev `list[offset : offset + limit]`, shorter at the end and empty at or past it, and the list's length.
    function _page(bytes32[] storage list, uint256 offset, uint256 limit)
        private
        view
        returns (bytes32[] memory hashes, uint256 total)
    {
        total = list.length;
        uint256 n;
        if (offset < total) {
            uint256 remaining = total - offset;
            n = limit < remaining ? limit : remaining;
        }
        hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = list[offset + i];
        }
    }

    /// @dev True if `list` contains `item`.
    function _contains(address[] calldata list, address item) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == item) return true;
        }
        return false;
    }
}
