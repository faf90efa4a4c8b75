//! Interaction receipts on the chain: signing one after checking the key is the one the registry expects, and
//! checking before sending that a receipt can back a feedback now.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use prova_chain::{call_error, chain_time, identity_of_reputation};
use prova_core::bindings::IReputationRegistry;
use prova_core::interaction::{ReceiptFields, SignedReceipt};

use super::identity::agent_info;
use crate::error::{Error, Result};

/// Signs a receipt for `client` with `signer`, after checking that `signer` is who the registry will expect (the
/// agent's wallet, or its owner when it has none). The deadline is the chain's time plus `valid_for`.
pub async fn sign_receipt(
    provider: &DynProvider,
    reputation: Address,
    signer: &PrivateKeySigner,
    agent_id: U256,
    client: Address,
    interaction_hash: B256,
    valid_for: Duration,
) -> Result<SignedReceipt> {
    let chain_id = prova_chain::chain_id(provider).await?;
    let identity = identity_of_reputation(provider, reputation).await?;
    let agent = agent_info(provider, identity, agent_id).await?;
    let expected = agent.receipt_signer();
    if signer.address() != expected {
        let whose = match agent.wallet {
            Some(wallet) => format!("its wallet {wallet}"),
            None => format!("it has no wallet, so its owner {} signs", agent.owner),
        };
        return Err(Error::Refused(format!(
            "key {} cannot sign receipts for agent {agent_id}: {whose}",
            signer.address()
        )));
    }
    if client.is_zero() {
        return Err(Error::Input("the receipt's client cannot be the zero address".into()));
    }
    let deadline = chain_time(provider).await? + valid_for.as_secs();
    Ok(SignedReceipt::sign(
        signer,
        chain_id,
        reputation,
        ReceiptFields { agent_id, client, interaction_hash, deadline },
    )?)
}

/// Checks, before sending, that `client` can give feedback to `agent_id` with `receipt` now: same chain and
/// registry, same agent and client, not expired by chain time, not used, and signed by the agent's wallet (or
/// owner).
pub async fn check_receipt(
    provider: &DynProvider,
    reputation: Address,
    agent_id: U256,
    client: Address,
    receipt: &SignedReceipt,
) -> Result<()> {
    let chain_id = prova_chain::chain_id(provider).await?;
    let r = &receipt.receipt;
    let refuse = |why: String| Err(Error::Refused(format!("the receipt cannot be used: {why}")));
    if receipt.chain_id != chain_id {
        return refuse(format!("it is for chain {}, but the RPC endpoint serves chain {chain_id}", receipt.chain_id));
    }
    if receipt.reputation_registry != reputation {
        return refuse(format!("it is for reputation registry {}, not {reputation}", receipt.reputation_registry));
    }
    if r.agent_id != agent_id {
        return refuse(format!("it is for agent {}, not agent {agent_id}", r.agent_id));
    }
    if r.client != client {
        return refuse(format!("it names client {}, but the sending key is {client}", r.client));
    }
    let now = chain_time(provider).await?;
    if now > r.deadline {
        return refuse(format!("it expired at unix time {} (chain time is {now})", r.deadline));
    }
    let registry = IReputationRegistry::new(reputation, provider);
    if registry
        .receiptUsed(agent_id, r.interaction_hash)
        .call()
        .await
        .map_err(|e| call_error("calling the registry", e))?
    {
        return refuse(format!("interaction {} of agent {agent_id} already backs a feedback", r.interaction_hash));
    }
    let identity = registry.getIdentityRegistry().call().await.map_err(|e| call_error("calling the registry", e))?;
    let expected = agent_info(provider, identity, agent_id).await?.receipt_signer();
    let signer = receipt.recover_signer()?;
    if signer != expected {
        return refuse(format!(
            "it is signed by {signer}, but agent {agent_id}'s receipts must be signed by {expected}"
        ));
    }
    Ok(())
}
