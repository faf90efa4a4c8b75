//! Interaction receipts on the chain: signing one after checking the key is one the registry accepts (the agent's
//! owner or wallet), and checking before sending that a receipt can back a feedback now.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use prova_chain::{call_error, chain_time, identity_of_reputation};
use prova_core::bindings::{IIdentityRegistry, IReputationRegistry};
use prova_core::interaction::{MAX_RECEIPT_LIFETIME_SECS, ReceiptFields, SignedReceipt};

use super::identity::agent_info;
use crate::error::{Error, Result};

/// Signs a receipt for `client` with `signer`, after checking that `signer` is one the registry accepts (the agent's
/// owner or wallet). It is issued at the chain's time, and usable until that time plus `valid_for` (at most 30
/// days), even if the agent's wallet changes meanwhile.
pub async fn sign_receipt(
    provider: &DynProvider,
    reputation: Address,
    signer: &PrivateKeySigner,
    agent_id: U256,
    client: Address,
    interaction_hash: B256,
    valid_for: Duration,
) -> Result<SignedReceipt> {
    if valid_for.as_secs() > MAX_RECEIPT_LIFETIME_SECS {
        return Err(Error::Input(format!(
            "a receipt can be valid for at most 30 days ({MAX_RECEIPT_LIFETIME_SECS} s), not {} s",
            valid_for.as_secs()
        )));
    }
    if client.is_zero() {
        return Err(Error::Input("the receipt's client cannot be the zero address".into()));
    }
    if client == signer.address() {
        return Err(Error::Input(format!(
            "the receipt's client {client} cannot be its signer: an agent cannot rate itself"
        )));
    }
    let chain_id = prova_chain::chain_id(provider).await?;
    let identity = identity_of_reputation(provider, reputation).await?;
    let agent = agent_info(provider, identity, agent_id).await?;
    if !agent.is_signer(signer.address()) {
        return Err(Error::Refused(format!(
            "key {} cannot sign receipts for agent {agent_id}: they are signed by {}",
            signer.address(),
            agent.signers()
        )));
    }
    let issued_at = chain_time(provider).await?;
    let deadline = issued_at + valid_for.as_secs();
    Ok(SignedReceipt::sign(
        signer,
        chain_id,
        reputation,
        ReceiptFields { agent_id, client, interaction_hash, issued_at, deadline },
    )?)
}

/// Checks, before sending, that `client` can give feedback to `agent_id` with `receipt` now: same chain and
/// registry, same agent and client, not expired by chain time, not living longer than 30 days, not used, signed by
/// the signer it names, which is not the client and was the agent's owner or wallet when the receipt was issued
/// (or at some time since).
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
    if r.deadline.saturating_sub(r.issued_at) > MAX_RECEIPT_LIFETIME_SECS {
        return refuse(format!(
            "it lives from unix time {} to {}, longer than the 30 days the registry allows",
            r.issued_at, r.deadline
        ));
    }
    if receipt.signer == client {
        return refuse(format!("it is signed by the client {client} itself; an agent cannot rate itself"));
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
    let signer = receipt.recover_signer()?;
    if signer != receipt.signer {
        return refuse(format!("it names signer {}, but the signature is {signer}'s", receipt.signer));
    }
    let identity = registry.getIdentityRegistry().call().await.map_err(|e| call_error("calling the registry", e))?;
    let in_office = IIdentityRegistry::new(identity, provider)
        .isAgentSignerSince(agent_id, signer, U256::from(r.issued_at))
        .call()
        .await
        .map_err(|e| call_error("calling the identity registry", e))?;
    if !in_office {
        return refuse(format!(
            "its signer {signer} was not the owner or wallet of agent {agent_id} at unix time {} (nor since)",
            r.issued_at
        ));
    }
    Ok(())
}
