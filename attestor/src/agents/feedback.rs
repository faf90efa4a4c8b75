//! Giving and revoking ERC-8004 feedback, with an optional interaction receipt; checks what it can before it signs.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use prova_chain::{Account, TxInfo, call_error, check_contract, find_event, identity_of_reputation};
use prova_core::bindings::IIdentityRegistry;
use prova_core::bindings::IReputationRegistry;
use prova_core::interaction::SignedReceipt;
use serde::{Deserialize, Serialize};

use super::identity::agent_info;
use super::receipts::check_receipt;
use crate::error::{Error, Result};

/// The largest |value| the reputation registry accepts (its `MAX_ABS_VALUE`, 1e38).
pub const MAX_ABS_VALUE: i128 = 10i128.pow(38);

/// One feedback to give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackInput {
    /// The rating, a fixed-point number: `value / 10^decimals`, within ±[`MAX_ABS_VALUE`].
    pub value: i128,
    /// 0 to 18.
    pub decimals: u8,
    /// First tag ("" for none).
    pub tag1: String,
    /// Second tag ("" for none).
    pub tag2: String,
    /// The agent endpoint the feedback is about.
    pub endpoint: String,
    /// Off-chain feedback file.
    pub feedback_uri: String,
    /// keccak256 of the feedback file, or zero.
    pub feedback_hash: B256,
}

impl FeedbackInput {
    /// A plain rating with no tags or files.
    pub fn value(value: i128, decimals: u8) -> Self {
        Self { value, decimals, ..Self::default() }
    }
}

/// A feedback that made it on-chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedbackGiven {
    /// The rated agent.
    pub agent_id: U256,
    /// The client (sender).
    pub client: Address,
    /// Its index per (agent, client), from 1.
    pub feedback_index: u64,
    /// Whether it was given with a receipt.
    pub verified: bool,
    /// The transaction.
    #[serde(flatten)]
    pub tx: TxInfo,
}

/// The calldata of `giveFeedback`, or of `giveFeedbackWithReceipt` when a receipt is given.
pub fn feedback_call(agent_id: U256, input: &FeedbackInput, receipt: Option<&SignedReceipt>) -> Bytes {
    let f = input.clone();
    match receipt {
        None => IReputationRegistry::giveFeedbackCall {
            agentId: agent_id,
            value: f.value,
            valueDecimals: f.decimals,
            tag1: f.tag1,
            tag2: f.tag2,
            endpoint: f.endpoint,
            feedbackURI: f.feedback_uri,
            feedbackHash: f.feedback_hash,
        }
        .abi_encode()
        .into(),
        Some(r) => IReputationRegistry::giveFeedbackWithReceiptCall {
            agentId: agent_id,
            value: f.value,
            valueDecimals: f.decimals,
            tag1: f.tag1,
            tag2: f.tag2,
            endpoint: f.endpoint,
            feedbackURI: f.feedback_uri,
            feedbackHash: f.feedback_hash,
            receipt: r.message(),
            signature: r.signature.clone(),
        }
        .abi_encode()
        .into(),
    }
}

/// Gives `agent_id` feedback from `account`: verified when `receipt` is given (checked first, see
/// [`check_receipt`]), plain otherwise.
pub async fn give_feedback(
    account: &Account,
    reputation: Address,
    agent_id: U256,
    input: &FeedbackInput,
    receipt: Option<&SignedReceipt>,
) -> Result<FeedbackGiven> {
    if input.decimals > prova_core::bindings::MAX_VALUE_DECIMALS {
        return Err(Error::Input(format!("--decimals is {}; at most 18 are allowed", input.decimals)));
    }
    if !(-MAX_ABS_VALUE..=MAX_ABS_VALUE).contains(&input.value) {
        return Err(Error::Input(format!("the value {} is outside ±1e38, which the registry refuses", input.value)));
    }
    let provider = &account.provider;
    let identity = identity_of_reputation(provider, reputation).await?;
    let agent = agent_info(provider, identity, agent_id).await?;
    let insider = IIdentityRegistry::new(identity, provider)
        .isAgentInsider(account.address, agent_id)
        .call()
        .await
        .map_err(|e| call_error("calling the registry", e))?;
    if insider {
        return Err(Error::Refused(format!(
            "{} is the owner ({}), an operator or the wallet of agent {agent_id}; an agent cannot be rated by its own \
             side",
            account.address, agent.owner
        )));
    }
    if let Some(receipt) = receipt {
        check_receipt(provider, reputation, agent_id, account.address, receipt).await?;
    }
    let sent = account.send(reputation, feedback_call(agent_id, input, receipt)).await?;
    let event: IReputationRegistry::NewFeedback = find_event(&sent, reputation)?;
    Ok(FeedbackGiven {
        agent_id,
        client: account.address,
        feedback_index: event.feedbackIndex,
        verified: receipt.is_some(),
        tx: TxInfo::from(&sent),
    })
}

/// The calldata of `revokeFeedback`.
pub fn revoke_call(agent_id: U256, feedback_index: u64) -> Bytes {
    IReputationRegistry::revokeFeedbackCall { agentId: agent_id, feedbackIndex: feedback_index }.abi_encode().into()
}

/// Revokes `account`'s feedback number `feedback_index` to `agent_id`.
pub async fn revoke_feedback(
    account: &Account,
    reputation: Address,
    agent_id: U256,
    feedback_index: u64,
) -> Result<TxInfo> {
    check_contract(&account.provider, reputation, None).await?;
    let receipt = account.send(reputation, revoke_call(agent_id, feedback_index)).await?;
    Ok(TxInfo::from(&receipt))
}
