// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";

/// @notice The paginated views of the reputation and validation registries. Bounds, for a list of `total` items:
///         a page is items [offset, min(offset + limit, total)); it is empty when offset >= total or limit == 0;
///         `total` is always the full count; nothing reverts and nothing overflows, even at type(uint256).max.
contract PaginationTest is AgentTestBase {
    uint256 internal constant N = 5;
    uint256 internal constant MAX = type(uint256).max;

    address[] internal clients;
    bytes32[] internal requests;

    function setUp() public override {
        super.setUp();
        for (uint256 i; i < N; ++i) {
            address client = makeAddr(string.concat("client ", vm.toString(i)));
            clients.push(client);
            // Client i gives i + 1 entries: 15 in all, tagged "even"/"odd" by index parity.
            for (uint256 j; j <= i; ++j) {
                // forge-lint: disable-next-line(unsafe-typecast)
                _give(client, agent, int128(int256(i * 10 + j)), j % 2 == 0 ? "odd" : "even", "");
            }
            bytes32 requestHash = keccak256(abi.encode("request", i));
            requests.push(requestHash);
            vm.prank(alice);
            validation.validationRequest(i % 2 == 0 ? validator : bob, agent, "", requestHash);
        }
        // Revoke client 4's first entry.
        vm.prank(clients[4]);
        reputation.revokeFeedback(agent, 1);
    }

    // ---------------------------------------------------------------------------------------------
    // Clients
    // ---------------------------------------------------------------------------------------------

    function _clientsPage(uint256 offset, uint256 limit) internal view returns (address[] memory page) {
        uint256 total;
        (page, total) = reputation.getClientsPaginated(agent, offset, limit);
        assertEq(total, N, "total is always the full count");
    }

    function test_ClientsPaginated_Bounds() public view {
        address[] memory page = _clientsPage(0, 2);
        assertEq(page, _addresses(clients[0], clients[1]), "first page");
        page = _clientsPage(2, 2);
        assertEq(page, _addresses(clients[2], clients[3]), "middle page");
        page = _clientsPage(4, 2);
        assertEq(page, _addresses(clients[4]), "last page, short");
        assertEq(_clientsPage(5, 2).length, 0, "offset == total");
        assertEq(_clientsPage(6, 2).length, 0, "offset > total");
        assertEq(_clientsPage(MAX, MAX).length, 0, "huge offset");
        assertEq(_clientsPage(0, 0).length, 0, "limit 0");
        assertEq(_clientsPage(0, MAX), reputation.getClients(agent), "huge limit: everything");
        assertEq(_clientsPage(3, MAX), _addresses(clients[3], clients[4]), "huge limit from the middle");
        (address[] memory none, uint256 total) = reputation.getClientsPaginated(agent + 1, 0, 10);
        assertEq(none.length, 0);
        assertEq(total, 0, "agent without clients");
    }

    function testFuzz_ClientsPaginated_IsSlice(uint256 offset, uint256 limit) public view {
        offset = bound(offset, 0, N + 2);
        limit = bound(limit, 0, N + 2);
        address[] memory all = reputation.getClients(agent);
        address[] memory page = _clientsPage(offset, limit);
        uint256 end = offset + limit > N ? N : offset + limit;
        assertEq(page.length, offset >= N ? 0 : end - offset);
        for (uint256 i; i < page.length; ++i) {
            assertEq(page[i], all[offset + i]);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Feedback
    // ---------------------------------------------------------------------------------------------

    function _feedbackPage(uint256 offset, uint256 limit)
        internal
        view
        returns (IReputationRegistry.FeedbackEntry[] memory page, uint256 total)
    {
        return reputation.readAllFeedbackPaginated(agent, new address[](0), "", "", true, offset, limit);
    }

    function test_ReadAllFeedbackPaginated_Bounds() public view {
        (IReputationRegistry.FeedbackEntry[] memory page, uint256 total) = _feedbackPage(0, 4);
        assertEq(total, 15);
        assertEq(page.length, 4, "first page");
        assertEq(page[0].client, clients[0]);
        assertEq(page[0].feedbackIndex, 1);
        assertEq(page[1].client, clients[1]);
        assertEq(page[2].client, clients[1]);
        assertEq(page[2].feedbackIndex, 2);
        assertEq(page[2].value, 11);
        assertEq(page[2].tag1, "even");
        assertEq(page[3].client, clients[2]);

        (page, total) = _feedbackPage(6, 4);
        assertEq(total, 15);
        assertEq(page.length, 4, "middle page");
        assertEq(page[0].client, clients[3]);
        assertEq(page[0].feedbackIndex, 1);

        (page, total) = _feedbackPage(12, 4);
        assertEq(page.length, 3, "last page, short");
        assertEq(page[2].client, clients[4]);
        assertEq(page[2].feedbackIndex, 5);
        assertEq(page[2].value, 44);

        (page, total) = _feedbackPage(15, 4);
        assertEq(page.length, 0, "offset == total");
        assertEq(total, 15);
        (page, total) = _feedbackPage(16, 4);
        assertEq(page.length, 0, "offset > total");
        assertEq(total, 15);
        (page, total) = _feedbackPage(MAX, MAX);
        assertEq(page.length, 0, "huge offset");
        (page, total) = _feedbackPage(0, 0);
        assertEq(page.length, 0, "limit 0");
        assertEq(total, 15);
        (page, total) = _feedbackPage(14, MAX);
        assertEq(page.length, 1, "huge limit");
    }

    function test_ReadAllFeedbackPaginated_Filters() public view {
        // Revoked excluded: client 4's first entry (position 10) drops out.
        (IReputationRegistry.FeedbackEntry[] memory page, uint256 total) =
            reputation.readAllFeedbackPaginated(agent, new address[](0), "", "", false, 10, 10);
        assertEq(total, 14);
        assertEq(page.length, 4);
        assertEq(page[0].client, clients[4]);
        assertEq(page[0].feedbackIndex, 2);
        assertFalse(page[0].isRevoked);

        // Tag filter: "even" entries are those with an even index, 6 in all.
        (page, total) = reputation.readAllFeedbackPaginated(agent, new address[](0), "even", "", true, 1, 2);
        assertEq(total, 6);
        assertEq(page.length, 2);
        assertEq(page[0].client, clients[2]);
        assertEq(page[0].feedbackIndex, 2);
        assertEq(page[1].client, clients[3]);
        assertEq(page[1].feedbackIndex, 2);

        // Given clients, duplicates repeated.
        (page, total) =
            reputation.readAllFeedbackPaginated(agent, _addresses(clients[1], clients[1]), "", "", true, 1, 2);
        assertEq(total, 4);
        assertEq(page.length, 2);
        assertEq(page[0].feedbackIndex, 2);
        assertEq(page[1].feedbackIndex, 1);
    }

    /// @dev Every page is the matching slice of `readAllFeedback` with the same arguments.
    function testFuzz_ReadAllFeedbackPaginated_IsSlice(uint256 offset, uint256 limit, bool includeRevoked, bool even)
        public
        view
    {
        offset = bound(offset, 0, 17);
        limit = bound(limit, 0, 17);
        string memory tag1 = even ? "even" : "";
        (IReputationRegistry.FeedbackEntry[] memory page, uint256 total) =
            reputation.readAllFeedbackPaginated(agent, new address[](0), tag1, "", includeRevoked, offset, limit);
        _assertSliceOfReadAll(page, total, offset, limit, tag1, includeRevoked);
    }

    function _assertSliceOfReadAll(
        IReputationRegistry.FeedbackEntry[] memory page,
        uint256 total,
        uint256 offset,
        uint256 limit,
        string memory tag1,
        bool includeRevoked
    ) internal view {
        (address[] memory all, uint64[] memory indexes, int128[] memory values,,,, bool[] memory revoked) =
            reputation.readAllFeedback(agent, new address[](0), tag1, "", includeRevoked);
        assertEq(total, all.length);
        uint256 expected = offset >= total ? 0 : (limit < total - offset ? limit : total - offset);
        assertEq(page.length, expected);
        for (uint256 i; i < page.length; ++i) {
            assertEq(page[i].client, all[offset + i]);
            assertEq(page[i].feedbackIndex, indexes[offset + i]);
            assertEq(page[i].value, values[offset + i]);
            assertEq(page[i].isRevoked, revoked[offset + i]);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Validations
    // ---------------------------------------------------------------------------------------------

    function test_AgentValidationsPaginated_Bounds() public view {
        (bytes32[] memory page, uint256 total) = validation.getAgentValidationsPaginated(agent, 0, 2);
        assertEq(total, N);
        assertEq(page.length, 2);
        assertEq(page[0], requests[0]);
        assertEq(page[1], requests[1]);
        (page,) = validation.getAgentValidationsPaginated(agent, 2, 2);
        assertEq(page[0], requests[2]);
        assertEq(page[1], requests[3]);
        (page,) = validation.getAgentValidationsPaginated(agent, 4, 2);
        assertEq(page.length, 1);
        assertEq(page[0], requests[4]);
        (page, total) = validation.getAgentValidationsPaginated(agent, 5, 2);
        assertEq(page.length, 0);
        assertEq(total, N);
        (page,) = validation.getAgentValidationsPaginated(agent, 6, 2);
        assertEq(page.length, 0);
        (page,) = validation.getAgentValidationsPaginated(agent, MAX, MAX);
        assertEq(page.length, 0);
        (page, total) = validation.getAgentValidationsPaginated(agent, 0, 0);
        assertEq(page.length, 0);
        assertEq(total, N);
        (page,) = validation.getAgentValidationsPaginated(agent, 0, MAX);
        assertEq(page, validation.getAgentValidations(agent));
    }

    function test_ValidatorRequestsPaginated_Bounds() public view {
        // validator got requests 0, 2, 4; bob got 1, 3.
        (bytes32[] memory page, uint256 total) = validation.getValidatorRequestsPaginated(validator, 0, 2);
        assertEq(total, 3);
        assertEq(page.length, 2);
        assertEq(page[0], requests[0]);
        assertEq(page[1], requests[2]);
        (page,) = validation.getValidatorRequestsPaginated(validator, 2, 2);
        assertEq(page.length, 1);
        assertEq(page[0], requests[4]);
        (page, total) = validation.getValidatorRequestsPaginated(validator, 3, 2);
        assertEq(page.length, 0);
        assertEq(total, 3);
        (page,) = validation.getValidatorRequestsPaginated(validator, 4, 2);
        assertEq(page.length, 0);
        (page,) = validation.getValidatorRequestsPaginated(validator, 0, 0);
        assertEq(page.length, 0);
        (page,) = validation.getValidatorRequestsPaginated(bob, 1, MAX);
        assertEq(page.length, 1);
        assertEq(page[0], requests[3]);
        (page, total) = validation.getValidatorRequestsPaginated(stranger, 0, 10);
        assertEq(page.length, 0);
        assertEq(total, 0);
        assertEq(validation.getValidatorRequests(bob).length, 2);
    }
}
