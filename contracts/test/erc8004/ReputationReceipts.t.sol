// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {ReputationRegistry} from "../../src/erc8004/ReputationRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";
import {MockERC1271Wallet} from "./MockERC1271Wallet.sol";

/// @notice The prova extension "interaction receipts": `giveFeedbackWithReceipt` and its views.
contract ReputationReceiptsTest is AgentTestBase {
    bytes32 internal constant JOB = keccak256("job 1");

    function _submit(address client, IReputationRegistry.InteractionReceipt memory r, bytes memory sig) internal {
        vm.prank(client);
        reputation.giveFeedbackWithReceipt(
            r.agentId, 90, 0, "quality", "", "https://agent.example/a2a", "ipfs://fb", keccak256("fb"), r, sig
        );
    }

    /// @dev Signs `r` with `pk` and submits it as `client`. Its only call before the registry's is to the `vm.sign`
    ///      cheatcode, so it may follow `vm.expectRevert` or `vm.expectEmit`.
    function _submitAs(uint256 pk, address client, IReputationRegistry.InteractionReceipt memory r) internal {
        _submit(client, r, _signReceipt(pk, r));
    }

    // ---------------------------------------------------------------------------------------------
    // Happy paths
    // ---------------------------------------------------------------------------------------------

    function test_GiveFeedbackWithReceipt_SignedByWallet() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);

        vm.expectEmit(address(reputation));
        emit IReputationRegistry.NewFeedback(
            agent, bob, 1, 90, 0, "quality", "quality", "", "https://agent.example/a2a", "ipfs://fb", keccak256("fb")
        );
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.VerifiedFeedback(agent, bob, 1, JOB, wallet);
        vm.recordLogs();
        _submitAs(walletPk, bob, r);

        // NewFeedback first, then VerifiedFeedback, and nothing else.
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 2);
        assertEq(logs[0].topics[0], IReputationRegistry.NewFeedback.selector);
        assertEq(logs[1].topics[0], IReputationRegistry.VerifiedFeedback.selector);

        assertTrue(reputation.isVerified(agent, bob, 1));
        assertTrue(reputation.receiptUsed(agent, JOB));
        assertEq(reputation.getLastIndex(agent, bob), 1);
        assertEq(reputation.getClients(agent), _addresses(bob));
        (int128 value, uint8 decimals, string memory tag1,, bool revoked) = reputation.readFeedback(agent, bob, 1);
        assertEq(value, 90);
        assertEq(decimals, 0);
        assertEq(tag1, "quality");
        assertFalse(revoked);
        (IReputationRegistry.FeedbackEntry[] memory entries,) =
            reputation.readAllFeedbackPaginated(agent, new address[](0), "", "", false, 0, 10);
        assertTrue(entries[0].verified);
    }

    /// @dev Verified and plain feedback share one index sequence and one summary.
    function test_VerifiedAndPlainFeedbackMix() public {
        _give(bob, agent, 10, "", "");
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        _submitAs(alicePk, bob, r);
        _give(bob, agent, 20, "", "");
        assertFalse(reputation.isVerified(agent, bob, 1));
        assertTrue(reputation.isVerified(agent, bob, 2));
        assertFalse(reputation.isVerified(agent, bob, 3));
        assertFalse(reputation.isVerified(agent, bob, 4), "missing entry");
        (uint64 count, int128 value,) = reputation.getSummary(agent, _addresses(bob), "", "");
        assertEq(count, 3);
        assertEq(value, 40);
        // Revocation keeps the verified mark.
        vm.prank(bob);
        reputation.revokeFeedback(agent, 2);
        assertTrue(reputation.isVerified(agent, bob, 2));
    }

    /// @dev A new agent's wallet is its owner, which therefore signs.
    function test_InitialWallet_OwnerSigns() public {
        assertEq(identity.getAgentWallet(agent), alice);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        assertEq(r.signer, alice);
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.VerifiedFeedback(agent, bob, 1, JOB, alice);
        _submitAs(alicePk, bob, r);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev With the wallet cleared, the owner signs.
    function test_WalletlessAgent_OwnerSigns() public {
        _setWallet(agent);
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        vm.warp(block.timestamp + 1);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        assertEq(r.signer, alice);
        _submitAs(alicePk, bob, r);
        assertTrue(reputation.isVerified(agent, bob, 1));
        // The retired wallet cannot issue a receipt after its retirement.
        IReputationRegistry.InteractionReceipt memory late = _receipt(agent, carol, keccak256("job 2"), wallet);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptUnauthorizedSigner.selector, wallet, block.timestamp)
        );
        _submitAs(walletPk, carol, late);
    }

    function test_ERC1271WalletSigns() public {
        MockERC1271Wallet contractWallet = new MockERC1271Wallet(wallet);
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory walletSig = _signWallet(walletPk, agent, address(contractWallet), deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, address(contractWallet), deadline, walletSig);

        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.VerifiedFeedback(agent, bob, 1, JOB, address(contractWallet));
        _submitAs(walletPk, bob, r);

        contractWallet.setRejectAll(true);
        IReputationRegistry.InteractionReceipt memory r2 = _receipt(agent, carol, keccak256("job 2"));
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.InvalidReceiptSignature.selector, address(contractWallet))
        );
        _submitAs(walletPk, carol, r2);
    }

    function test_ReceiptAtDeadline() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        r.deadline = block.timestamp;
        _submitAs(alicePk, bob, r);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    // ---------------------------------------------------------------------------------------------
    // Refusals
    // ---------------------------------------------------------------------------------------------

    function test_RevertWhen_ReceiptReplayed() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(alicePk, r);
        _submit(bob, r, sig);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptAlreadyUsed.selector, agent, JOB));
        _submit(bob, r, sig);

        // Another receipt for the same interaction, even to another client, is refused too.
        IReputationRegistry.InteractionReceipt memory r2 = _receipt(agent, carol, JOB);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptAlreadyUsed.selector, agent, JOB));
        _submitAs(alicePk, carol, r2);
        assertEq(reputation.getLastIndex(agent, bob), 1);
    }

    /// @dev The same interaction hash is independent per agent.
    function test_ReceiptUsedIsPerAgent() public {
        uint256 other = _register(carol, "ipfs://other");
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        _submitAs(alicePk, bob, r);
        assertFalse(reputation.receiptUsed(other, JOB));
        (, uint256 carolPk) = makeAddrAndKey("carol");
        IReputationRegistry.InteractionReceipt memory r2 = _receipt(other, bob, JOB);
        _submitAs(carolPk, bob, r2);
        assertTrue(reputation.receiptUsed(other, JOB));
    }

    function test_RevertWhen_WrongClient() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptWrongClient.selector, bob, carol));
        _submitAs(alicePk, carol, r);
    }

    function test_RevertWhen_WrongAgent() public {
        uint256 other = _register(carol, "ipfs://other");
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(alicePk, r);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptWrongAgent.selector, agent, other));
        vm.prank(bob);
        reputation.giveFeedbackWithReceipt(other, 1, 0, "", "", "", "", bytes32(0), r, sig);
    }

    function test_RevertWhen_ReceiptExpired() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        vm.warp(r.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptExpired.selector, r.deadline));
        _submitAs(alicePk, bob, r);
    }

    /// @dev The owner signs for its agent whatever the wallet (it could make itself the wallet at any time).
    function test_OwnerSignsWhileWalletSet() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB, alice);
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.VerifiedFeedback(agent, bob, 1, JOB, alice);
        _submitAs(alicePk, bob, r);
    }

    function test_RevertWhen_SignedByOtherThanNamedSigner() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        // A receipt naming the wallet must carry the wallet's signature, not the owner's nor anyone else's.
        uint256[2] memory keys = [alicePk, uint256(0xB0B)];
        for (uint256 i; i < keys.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.InvalidReceiptSignature.selector, wallet));
            _submitAs(keys[i], bob, r);
        }
    }

    function test_RevertWhen_SignatureOverOtherFields() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        IReputationRegistry.InteractionReceipt memory signed = _receipt(agent, bob, JOB);
        signed.deadline = r.deadline + 1;
        bytes memory sig = _signReceipt(alicePk, signed);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.InvalidReceiptSignature.selector, alice));
        _submit(bob, r, sig);
    }

    /// @dev A transfer clears the wallet, so the new owner signs; the old wallet cannot issue receipts any more.
    function test_AfterTransfer_NewOwnerSigns() public {
        _setWallet(agent);
        vm.prank(alice);
        identity.transferFrom(alice, carol, agent);
        vm.warp(block.timestamp + 1);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB, wallet);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptUnauthorizedSigner.selector, wallet, block.timestamp)
        );
        _submitAs(walletPk, bob, r);
        r = _receipt(agent, bob, JOB);
        assertEq(r.signer, carol);
        (, uint256 carolPk) = makeAddrAndKey("carol");
        _submitAs(carolPk, bob, r);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev A receipt that names someone who never signed for the agent is refused before its signature is checked.
    function test_RevertWhen_SignerNeverSignedForAgent() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB, stranger);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptUnauthorizedSigner.selector, stranger, block.timestamp)
        );
        _submitAs(uint256(keccak256("stranger key")), bob, r);
        r.signer = address(0);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptUnauthorizedSigner.selector, address(0), block.timestamp)
        );
        _submitAs(alicePk, bob, r);
    }

    function test_RevertWhen_ReceiptLifetimeTooLong() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        r.deadline = r.issuedAt + 30 days;
        _submitAs(alicePk, bob, r);
        r = _receipt(agent, bob, keccak256("job 2"));
        r.deadline = r.issuedAt + 30 days + 1;
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptLifetimeTooLong.selector, r.issuedAt, r.deadline)
        );
        _submitAs(alicePk, bob, r);
    }

    function test_RevertWhen_InsiderUsesReceipt() public {
        address[3] memory insiders = [alice, approved, fleetOperator];
        for (uint256 i; i < insiders.length; ++i) {
            IReputationRegistry.InteractionReceipt memory r = _receipt(agent, insiders[i], JOB);
            vm.expectRevert(
                abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, insiders[i])
            );
            _submitAs(alicePk, insiders[i], r);
        }
    }

    function test_RevertWhen_ReceiptForUnknownAgent() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(9, bob, JOB, alice);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationUnknownAgent.selector, 9));
        _submit(bob, r, "");
    }

    function test_RevertWhen_ReceiptDecimalsAbove18() public {
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(alicePk, r);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationInvalidValueDecimals.selector, 19));
        vm.prank(bob);
        reputation.giveFeedbackWithReceipt(agent, 1, 19, "", "", "", "", bytes32(0), r, sig);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-712
    // ---------------------------------------------------------------------------------------------

    function test_DomainSeparatorAndTypehash() public view {
        assertEq(reputation.domainSeparator(), _domainSeparator(REPUTATION_DOMAIN, address(reputation)));
        assertEq(ReputationRegistry(address(reputation)).INTERACTION_RECEIPT_TYPEHASH(), RECEIPT_TYPEHASH);
        assertEq(
            RECEIPT_TYPEHASH,
            vm.eip712HashType(
                "InteractionReceipt(uint256 agentId,address client,bytes32 interactionHash,address signer,uint256 issuedAt,uint256 deadline)"
            )
        );
        (, string memory name, string memory version,,,,) = ReputationRegistry(address(reputation)).eip712Domain();
        assertEq(name, "prova ReputationRegistry");
        assertEq(version, "1");
    }

    /// @dev Cross-checks the digest against forge's own EIP-712 implementation, fed with JSON typed data.
    function test_HashReceipt_MatchesTypedDataJson() public view {
        IReputationRegistry.InteractionReceipt memory r = _receipt(3, bob, JOB, alice);
        string memory json = string.concat(
            '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},',
            '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],',
            '"InteractionReceipt":[{"name":"agentId","type":"uint256"},{"name":"client","type":"address"},',
            '{"name":"interactionHash","type":"bytes32"},{"name":"signer","type":"address"},',
            '{"name":"issuedAt","type":"uint256"},{"name":"deadline","type":"uint256"}]},',
            '"primaryType":"InteractionReceipt","domain":{"name":"prova ReputationRegistry","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(address(reputation)),
            '"},"message":{"agentId":"3","client":"',
            string.concat(
                vm.toString(bob),
                '","interactionHash":"',
                vm.toString(JOB),
                '","signer":"',
                vm.toString(alice),
                '","issuedAt":"',
                vm.toString(r.issuedAt),
                '","deadline":"',
                vm.toString(r.deadline),
                '"}}'
            )
        );
        bytes32 expected = vm.eip712HashTypedData(json);
        assertEq(_receiptDigest(r), expected);
        assertEq(reputation.hashReceipt(r), expected);
    }

    function testFuzz_HashReceipt(
        uint256 agentId,
        address client,
        bytes32 interactionHash,
        address signer,
        uint256 issuedAt,
        uint256 deadline
    ) public view {
        IReputationRegistry.InteractionReceipt memory r = IReputationRegistry.InteractionReceipt({
            agentId: agentId,
            client: client,
            interactionHash: interactionHash,
            signer: signer,
            issuedAt: issuedAt,
            deadline: deadline
        });
        assertEq(reputation.hashReceipt(r), _receiptDigest(r));
    }
}
