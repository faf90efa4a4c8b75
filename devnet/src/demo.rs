//! The ERC-8004 Sybil-ring demo, built one way for `prova dev` and for the end-to-end Sybil test: honest agents,
//! each owned by a fresh key and rated by honest clients with interaction receipts signed by its owner, and a Sybil
//! ring of fresh addresses, each with an agent of its own, rating one of the honest agents and each other 100 without
//! receipts.
//!
//! Everything is sent with [`Bulk`] in two rounds (registrations, then feedback); on anvil each round is mined into
//! as few blocks as possible.

use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use prova_attestor::agents::{self, FeedbackInput};
use prova_chain::AgentRegistries;
use prova_core::bindings::IIdentityRegistry;
use prova_core::interaction::{ReceiptFields, SignedReceipt};

use crate::bulk::{Bulk, fund};
use crate::error::{Error, Result};

/// The value every ring member gives the agents it rates.
pub const RING_RATING: i128 = 100;

/// An honest agent to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HonestAgent {
    /// Its name in transaction labels (`register {name}`).
    pub name: String,
    /// Its agent card URI.
    pub uri: String,
    /// The model version it is bound to, if any.
    pub model: Option<B256>,
}

/// What [`build_sybil_demo`] makes.
#[derive(Debug, Clone, Copy)]
pub struct SybilPlan<'a> {
    /// The honest agents, in order; each is owned by a fresh key.
    pub agents: &'a [HonestAgent],
    /// Honest clients: fresh addresses rating with interaction receipts signed by the agents' owners.
    pub honest_clients: usize,
    /// The value honest client `client` gives the agent at `agent` in [`SybilPlan::agents`], if it rates it.
    pub rating: fn(client: usize, agent: usize) -> Option<i128>,
    /// Ring members: fresh addresses, each registering an agent of its own.
    pub ring_size: usize,
    /// The agent card URI of ring member `i`'s agent.
    pub ring_uri: fn(i: usize) -> String,
    /// The agent the ring lifts: an index into [`SybilPlan::agents`].
    pub ring_target: usize,
    /// Times each ring member rates the target [`RING_RATING`].
    pub ring_ratings_of_target: usize,
    /// Ring agents each ring member rates [`RING_RATING`]: the next ones around the ring.
    pub ring_ratings_of_ring: usize,
    /// Gas limit of every transaction (they are sent at once, so they cannot be estimated one by one).
    pub gas: u64,
    /// The node is anvil: automine is off while the rounds are sent, blocks are mined with `evm_mine`, and automine
    /// is turned back on afterwards (also on failure). Otherwise the node mines on its own.
    pub mine: bool,
}

/// What [`build_sybil_demo`] made.
#[derive(Debug, Clone)]
pub struct SybilDemo {
    /// The honest agents' ids, in the order of [`SybilPlan::agents`].
    pub agents: Vec<U256>,
    /// Their owners, in the same order.
    pub owners: Vec<PrivateKeySigner>,
    /// The honest clients, honest client `i` at `i`.
    pub honest: Vec<PrivateKeySigner>,
    /// The ring members, member `i` at `i`.
    pub ring: Vec<PrivateKeySigner>,
    /// The ring's agents, member `i`'s at `i`.
    pub ring_agents: Vec<U256>,
    /// Transactions sent: registrations and feedback.
    pub transactions: usize,
}

impl SybilDemo {
    /// The addresses of the first `n` honest clients (e.g. trust seeds).
    pub fn honest_addresses(&self, n: usize) -> Vec<Address> {
        self.honest.iter().take(n).map(PrivateKeySigner::address).collect()
    }
}

/// Builds the demo described by `plan` on the ERC-8004 `registries` behind `provider`: fresh keys for the agents'
/// owners, the honest clients and the ring, funded by `payer` (see [`fund`]) with twice the most any of them may
/// spend; then every agent is registered (the honest ones, then ring member `i`'s in order), and every rating is
/// sent: honest client `i` rates each honest agent (in order) with [`SybilPlan::rating`] and a receipt signed by its
/// owner, valid for an hour of chain time; ring member `i` rates the target [`SybilPlan::ring_ratings_of_target`]
/// times, then ring agents `i + 1`, `i + 2`, ... (around the ring).
pub async fn build_sybil_demo(
    provider: &DynProvider,
    payer: &PrivateKeySigner,
    registries: &AgentRegistries,
    plan: &SybilPlan<'_>,
) -> Result<SybilDemo> {
    let fresh = |n: usize| (0..n).map(|_| PrivateKeySigner::random()).collect::<Vec<_>>();
    let (owners, honest, ring) = (fresh(plan.agents.len()), fresh(plan.honest_clients), fresh(plan.ring_size));
    let everyone: Vec<Address> = owners.iter().chain(&honest).chain(&ring).map(PrivateKeySigner::address).collect();

    let mut bulk = Bulk::new(provider.clone()).await?;
    // A ring member registers and rates `ring_ratings_of_*` times; an honest client rates each agent at most once.
    let most_sent = (1 + plan.ring_ratings_of_target + plan.ring_ratings_of_ring).max(plan.agents.len());
    let funds = bulk.max_cost(plan.gas) * U256::from(2 * (most_sent + 1));
    fund(provider, &everyone, funds, payer).await?;
    if plan.mine {
        set_automine(provider, false).await?;
    }
    let result = send_rounds(provider, &mut bulk, registries, plan, Keys { owners, honest, ring }).await;
    if plan.mine {
        set_automine(provider, true).await?;
    }
    result
}

/// The fresh keys of a demo.
struct Keys {
    owners: Vec<PrivateKeySigner>,
    honest: Vec<PrivateKeySigner>,
    ring: Vec<PrivateKeySigner>,
}

/// Round 1, every agent registered; round 2, every rating sent.
async fn send_rounds(
    provider: &DynProvider,
    bulk: &mut Bulk,
    registries: &AgentRegistries,
    plan: &SybilPlan<'_>,
    keys: Keys,
) -> Result<SybilDemo> {
    let Keys { owners, honest, ring } = keys;
    let chain_id = prova_chain::chain_id(provider).await?;

    // Round 1: every agent is registered.
    for (owner, agent) in owners.iter().zip(plan.agents) {
        let call = agents::register_call(&agent.uri, agent.model);
        bulk.push(format!("register {}", agent.name), owner, registries.identity, call, plan.gas);
    }
    for (i, member) in ring.iter().enumerate() {
        let call = agents::register_call(&(plan.ring_uri)(i), None);
        bulk.push(format!("register ring {i}"), member, registries.identity, call, plan.gas);
    }
    let mut transactions = bulk.len();
    let ids = registered_ids(&bulk.send(plan.mine).await?)?;
    let (agent_ids, ring_agents) = (ids[..owners.len()].to_vec(), ids[owners.len()..].to_vec());

    // Round 2: feedback. Honest clients rate with receipts signed by the agents' owners (they have no wallet).
    let issued_at = prova_chain::chain_time(provider).await?;
    let deadline = issued_at + 3600;
    for (i, client) in honest.iter().enumerate() {
        for (a, (&agent_id, owner)) in agent_ids.iter().zip(&owners).enumerate() {
            let Some(value) = (plan.rating)(i, a) else { continue };
            let fields = ReceiptFields {
                agent_id,
                client: client.address(),
                interaction_hash: B256::random(),
                issued_at,
                deadline,
            };
            let receipt = SignedReceipt::sign(owner, chain_id, registries.reputation, fields)?;
            let call = agents::feedback_call(agent_id, &FeedbackInput::value(value, 0), Some(&receipt));
            bulk.push(format!("honest {i} rates {agent_id}"), client, registries.reputation, call, plan.gas);
        }
    }
    let target = agent_ids[plan.ring_target];
    for (i, member) in ring.iter().enumerate() {
        let targets = std::iter::repeat_n(target, plan.ring_ratings_of_target)
            .chain((1..=plan.ring_ratings_of_ring).map(|k| ring_agents[(i + k) % plan.ring_size]));
        for rated in targets {
            let call = agents::feedback_call(rated, &FeedbackInput::value(RING_RATING, 0), None);
            bulk.push(format!("ring {i} rates {rated}"), member, registries.reputation, call, plan.gas);
        }
    }
    transactions += bulk.len();
    bulk.send(plan.mine).await?;
    Ok(SybilDemo { agents: agent_ids, owners, honest, ring, ring_agents, transactions })
}

/// The agent ids of the `Registered` events in registration receipts, in order.
fn registered_ids(receipts: &[TransactionReceipt]) -> Result<Vec<U256>> {
    receipts
        .iter()
        .map(|receipt| {
            receipt
                .inner
                .logs()
                .iter()
                .find_map(|log| log.log_decode::<IIdentityRegistry::Registered>().ok())
                .map(|log| log.inner.data.agentId)
                .ok_or_else(|| {
                    Error::Bulk(format!("registration {} has no Registered event", receipt.transaction_hash))
                })
        })
        .collect()
}

/// Turns anvil's automine on or off.
async fn set_automine(provider: &DynProvider, on: bool) -> Result<()> {
    let _: serde_json::Value = provider
        .raw_request("evm_setAutomine".into(), [on])
        .await
        .map_err(|source| Error::Rpc { what: "evm_setAutomine (is the node anvil?)".into(), source })?;
    Ok(())
}
