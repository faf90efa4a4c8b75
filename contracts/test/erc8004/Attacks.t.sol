// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IIdentityRegistry} from "../../src/interfaces/erc8004/IIdentityRegistry.sol";
import {IReputationRegistry} from "../../src/interfaces/erc8004/IReputationRegistry.sol";
import {IValidationRegistry} from "../../src/interfaces/erc8004/IValidationRegistry.sol";
import {AgentTestBase} from "./AgentTestBase.sol";
import {MockERC1271Wallet} from "./MockERC1271Wallet.sol";

/// @notice The ERC-8004 attacks of the 2026-12 security review, each performed against the registries and shown to
///         fail (`test_Attack_*`), plus the limits that remain by design (`test_Known_*`).
contract AttacksTest is AgentTestBase {
    bytes32 internal constant JOB = keccak256("job 1");

    address internal mallory;
    address internal wallet2;
    uint256 internal wallet2Pk;

    function setUp() public override {
        super.setUp();
        mallory = makeAddr("mallory");
        (wallet2, wallet2Pk) = makeAddrAndKey("agent wallet 2");
    }

    function _submit(address client, IReputationRegistry.InteractionReceipt memory r, bytes memory sig) internal {
        vm.prank(client);
        reputation.giveFeedbackWithReceipt(r.agentId, -100, 0, "quality", "", "", "ipfs://fb", bytes32(0), r, sig);
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 9: self-minted verified feedback
    // ---------------------------------------------------------------------------------------------

    /// @dev The agent's wallet rates its own agent: refused like the owner and operators.
    function test_Attack_SelfMintedVerifiedFeedback_WalletRatesItsAgent() public {
        _setWallet(agent);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, wallet));
        _give(wallet, agent, 100, "quality", "");
        assertEq(reputation.getLastIndex(agent, wallet), 0);
    }

    /// @dev The wallet signs a receipt naming itself as the client and submits it: refused.
    function test_Attack_SelfMintedVerifiedFeedback_WalletUsesOwnReceipt() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, wallet, JOB);
        bytes memory sig = _signReceipt(walletPk, r);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, wallet));
        _submit(wallet, r, sig);
        assertFalse(reputation.receiptUsed(agent, JOB));
    }

    /// @dev A new agent's wallet is its owner: the owner's self-rating stays refused, with or without a receipt.
    function test_Attack_SelfMintedVerifiedFeedback_InitialWalletIsOwner() public {
        assertEq(identity.getAgentWallet(agent), alice);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, alice));
        _give(alice, agent, 100, "", "");
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, alice, JOB);
        bytes memory sig = _signReceipt(alicePk, r);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, alice));
        _submit(alice, r, sig);
    }

    /// @dev A retired wallet is an ordinary client, but it cannot back its own feedback with a receipt it signed
    ///      while in office.
    function test_Attack_SelfMintedVerifiedFeedback_RetiredWalletReceiptsItself() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, wallet, JOB);
        bytes memory sig = _signReceipt(walletPk, r);
        _setWallet(agent, wallet2Pk);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReputationSelfFeedback.selector, agent, wallet));
        _submit(wallet, r, sig);
    }

    /// @dev What receipts do not stop: the agent hands receipts to addresses it controls. Each one counts once and
    ///      is marked verified; readers weigh who the clients are (see docs/erc8004-differences.md).
    function test_Known_AgentCanIssueReceiptsToItsOwnSybils() public {
        _setWallet(agent);
        for (uint256 i; i < 3; ++i) {
            address sybil = makeAddr(string.concat("sybil ", vm.toString(i)));
            IReputationRegistry.InteractionReceipt memory r = _receipt(agent, sybil, keccak256(abi.encode(i)));
            _submit(sybil, r, _signReceipt(walletPk, r));
            assertTrue(reputation.isVerified(agent, sybil, 1));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 18: getSummary int128 wrap
    // ---------------------------------------------------------------------------------------------

    /// @dev Mallory, one client in the reader's list, picks entries so that the 18-decimal average is
    ///      2**128 + 95e18 and the mode is 18 decimals. Truncated to int128 (the reference's conversion) that reads
    ///      95.0, a plausible score that hides the manipulation. Here the summary saturates instead.
    function test_Attack_GetSummaryWrapToChosenValue() public {
        // Honest reviews: 20 and 30, 0 decimals.
        _give(bob, agent, 20, 0, "", "");
        _give(carol, agent, 30, 0, "", "");
        (int256 sum, uint256 count) = _wrapToChosen(int256(2 ** 128) + 95e18, 50e18);
        // The attack was real: the plain int128 conversion of the average would read exactly 95.0.
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(int128(sum / int256(count)), 95e18);

        (uint64 n, int128 value, uint8 decimals) = reputation.getSummary(agent, _addresses(bob, carol, mallory), "", "");
        assertEq(n, count);
        assertEq(decimals, 18);
        assertTrue(value != 95e18, "not wrapped to the chosen value");
        assertEq(value, type(int128).max, "saturated");
    }

    /// @dev The same downwards: an average of -(2**128) - 95e18 would wrap to -95.0; it saturates at the minimum.
    function test_Attack_GetSummaryWrapToChosenValue_Negative() public {
        _give(bob, agent, 20, 0, "", "");
        _give(carol, agent, 30, 0, "", "");
        (int256 sum, uint256 count) = _wrapToChosen(-int256(2 ** 128) - 95e18, 50e18);
        // forge-lint: disable-next-line(unsafe-typecast)
        assertEq(int128(sum / int256(count)), -95e18);
        (, int128 value, uint8 decimals) = reputation.getSummary(agent, _addresses(bob, carol, mallory), "", "");
        assertEq(decimals, 18);
        assertEq(value, type(int128).min, "saturated");
    }

    /// @dev Mallory gives one 0-decimal entry carrying the bulk of `targetAvg * count` and four 18-decimal entries
    ///      (one with the remainder), so that 18 decimals is the mode against the two honest 0-decimal entries,
    ///      whose scaled sum is `honestSum`. Returns the total scaled sum and the entry count.
    function _wrapToChosen(int256 targetAvg, int256 honestSum) internal returns (int256 sum, uint256 count) {
        count = 7;
        int256 needed = targetAvg * int256(count) - honestSum;
        int256 bulk = needed / 1e18;
        int256 rest = needed - bulk * 1e18;
        assertLe(bulk < 0 ? -bulk : bulk, 1e38, "within the value bound");
        // forge-lint: disable-next-line(unsafe-typecast)
        _give(mallory, agent, int128(bulk), 0, "", "");
        // forge-lint: disable-next-line(unsafe-typecast)
        _give(mallory, agent, int128(rest), 18, "", "");
        for (uint256 i; i < 3; ++i) {
            _give(mallory, agent, 0, 18, "", "");
        }
        sum = honestSum + bulk * 1e18 + rest;
        assertEq(sum, targetAvg * int256(count));
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 16: receipt censorship by wallet rotation
    // ---------------------------------------------------------------------------------------------

    /// @dev Bob got a receipt; the agent, expecting a bad review, rotates its wallet. Bob's receipt still works.
    function test_Attack_ReceiptCensorshipByWalletRotation() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(walletPk, r);

        vm.warp(block.timestamp + 1 hours);
        _setWallet(agent, wallet2Pk);
        assertEq(identity.getAgentWallet(agent), wallet2);
        assertEq(identity.signerRetiredAt(agent, wallet), block.timestamp);

        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(reputation));
        emit IReputationRegistry.VerifiedFeedback(agent, bob, 1, JOB, wallet);
        _submit(bob, r, sig);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    function test_Attack_ReceiptCensorshipByWalletUnset() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(walletPk, r);
        vm.warp(block.timestamp + 1 hours);
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        _submit(bob, r, sig);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev The owner hands the agent to an accomplice (a transfer clears the wallet): receipts of the old wallet
    ///      and of the old owner still work.
    function test_Attack_ReceiptCensorshipByTransfer() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory byWallet = _receipt(agent, bob, JOB);
        bytes memory walletSig = _signReceipt(walletPk, byWallet);
        IReputationRegistry.InteractionReceipt memory byOwner = _receipt(agent, carol, keccak256("job 2"), alice);
        bytes memory ownerSig = _signReceipt(alicePk, byOwner);

        vm.warp(block.timestamp + 1 hours);
        vm.prank(alice);
        identity.transferFrom(alice, mallory, agent);
        assertEq(identity.getAgentWallet(agent), address(0));

        _submit(bob, byWallet, walletSig);
        _submit(carol, byOwner, ownerSig);
        assertTrue(reputation.isVerified(agent, bob, 1));
        assertTrue(reputation.isVerified(agent, carol, 1));
    }

    /// @dev Rotating in the same block (the same second) as the receipt was issued does not void it either.
    function test_Attack_ReceiptCensorshipByRotationInSameBlock() public {
        _setWallet(agent);
        vm.warp(block.timestamp + 1);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(walletPk, r);
        _setWallet(agent, wallet2Pk);
        _submit(bob, r, sig);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev Rotating back and forth only moves a retirement later, never earlier.
    function test_Attack_ReceiptCensorshipByRotatingBackAndForth() public {
        _setWallet(agent);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        bytes memory sig = _signReceipt(walletPk, r);
        for (uint256 i; i < 3; ++i) {
            vm.warp(block.timestamp + 10 minutes);
            _setWallet(agent, wallet2Pk);
            vm.warp(block.timestamp + 10 minutes);
            _setWallet(agent, walletPk);
        }
        vm.warp(block.timestamp + 10 minutes);
        _setWallet(agent, wallet2Pk);
        _submit(bob, r, sig);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev A contract wallet's receipts survive its rotation too (checked by ERC-1271 against the named signer).
    function test_Attack_ReceiptCensorshipByWalletRotation_ContractWallet() public {
        MockERC1271Wallet contractWallet = new MockERC1271Wallet(wallet);
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory walletSig = _signWallet(walletPk, agent, address(contractWallet), deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, address(contractWallet), deadline, walletSig);
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB);
        assertEq(r.signer, address(contractWallet));
        bytes memory sig = _signReceipt(walletPk, r);
        vm.warp(block.timestamp + 1 hours);
        _setWallet(agent, wallet2Pk);
        _submit(bob, r, sig);
        assertTrue(reputation.isVerified(agent, bob, 1));
    }

    /// @dev What a retired wallet can still do is bounded: nothing issued after its retirement, and a backdated
    ///      receipt lives at most 30 days past it.
    function test_RetiredWallet_CannotIssueLaterOrLongerReceipts() public {
        _setWallet(agent);
        vm.warp(block.timestamp + 1 hours);
        _setWallet(agent, wallet2Pk);
        uint256 retiredAt = block.timestamp;
        vm.warp(block.timestamp + 1);

        // Issued after the retirement.
        IReputationRegistry.InteractionReceipt memory r = _receipt(agent, bob, JOB, wallet);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptUnauthorizedSigner.selector, wallet, block.timestamp)
        );
        _submit(bob, r, _signReceipt(walletPk, r));

        // Backdated to the retirement, living the longest allowed: usable until retiredAt + 30 days, not after.
        r.issuedAt = retiredAt;
        r.deadline = retiredAt + 30 days;
        bytes memory sig = _signReceipt(walletPk, r);
        vm.warp(r.deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(IReputationRegistry.ReceiptExpired.selector, r.deadline));
        _submit(bob, r, sig);
        r.deadline = retiredAt + 30 days + 1;
        sig = _signReceipt(walletPk, r);
        vm.expectRevert(
            abi.encodeWithSelector(IReputationRegistry.ReceiptLifetimeTooLong.selector, r.issuedAt, r.deadline)
        );
        _submit(bob, r, sig);
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 17: wallet signature replay after unset
    // ---------------------------------------------------------------------------------------------

    /// @dev The wallet agreed once; the owner unsets it and, within the deadline, submits the same signature again
    ///      to re-attach the wallet. Refused: a signature takes effect once.
    function test_Attack_WalletSignatureReplayAfterUnset() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.startPrank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        identity.unsetAgentWallet(agent);
        vm.warp(block.timestamp + 1 minutes);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityWalletSignatureReplayed.selector, wallet, deadline, deadline
            )
        );
        identity.setAgentWallet(agent, wallet, deadline, sig);
        vm.stopPrank();
        assertEq(identity.getAgentWallet(agent), address(0));
    }

    /// @dev The same after a rotation to another wallet.
    function test_Attack_WalletSignatureReplayAfterRotation() public {
        uint256 deadline = block.timestamp + 5 minutes;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        _setWallet(agent, wallet2Pk);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityWalletSignatureReplayed.selector, wallet, deadline, deadline
            )
        );
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
        assertEq(identity.getAgentWallet(agent), wallet2);
    }

    /// @dev A long-lived consent (a deadline far ahead) is refused outright: at most 5 minutes.
    function test_Attack_WalletSignatureWithLongDeadline() public {
        uint256 deadline = block.timestamp + 365 days;
        bytes memory sig = _signWallet(walletPk, agent, wallet, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityWalletDeadlineTooFar.selector, deadline, block.timestamp + 5 minutes
            )
        );
        vm.prank(alice);
        identity.setAgentWallet(agent, wallet, deadline, sig);
    }

    /// @dev A fresh signature of the same wallet (a later deadline) is accepted after an unset: consent given again.
    function test_WalletSignature_FreshOneAfterUnset() public {
        _setWallet(agent);
        vm.prank(alice);
        identity.unsetAgentWallet(agent);
        vm.warp(block.timestamp + 1);
        _setWallet(agent);
        assertEq(identity.getAgentWallet(agent), wallet);
    }

    // ---------------------------------------------------------------------------------------------
    // Finding 8: validation request theft (not preventable within the standard's ABI)
    // ---------------------------------------------------------------------------------------------

    /// @dev Mallory copies Alice's request hash from the mempool and registers it first for her own agent. The
    ///      registry cannot tell (the request is keyed by its hash alone, as the standard has it), but
    ///      `getValidationStatus` names the agent, so the validator sees the theft before it answers.
    function test_Known_ValidationRequestTheft_ValidatorSeesAgentId() public {
        uint256 malloryAgent = _register(mallory, "ipfs://mallory");
        bytes32 requestHash = keccak256("alice's job output");
        vm.prank(mallory);
        validation.validationRequest(validator, malloryAgent, "ipfs://copied", requestHash);

        vm.expectRevert(abi.encodeWithSelector(IValidationRegistry.ValidationRequestExists.selector, requestHash));
        vm.prank(alice);
        validation.validationRequest(validator, agent, "ipfs://alice", requestHash);

        (address v, uint256 agentId,,,,) = validation.getValidationStatus(requestHash);
        assertEq(v, validator);
        assertEq(agentId, malloryAgent, "the validator sees whose request it is");
        assertTrue(agentId != agent);
    }
}
