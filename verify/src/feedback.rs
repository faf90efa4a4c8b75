//! A reputation registry's feedback and the identity registry's owners, read from raw chain logs with no
//! database: the input of `prova verify reputation` and of the reputation checks of `prova verify api`.

use std::collections::{BTreeMap, HashMap};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, U64, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use prova_core::bindings::{IIdentityRegistry, IReputationRegistry};
use prova_reputation::{Feedback, LogPosition, OwnerChange};
use serde::{Deserialize, Serialize};

use prova_chain::{check_contract, identity_of_reputation, rpc_batch};

use crate::error::{Error, Result};

/// A reputation registry's feedback as the chain's logs give it up to one block, with the owner of every agent as
/// the identity registry's logs give it up to a block (usually the same one): the input of
/// [`prova_reputation`]'s scoring functions, read with no database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainFeedback {
    /// The chain.
    pub chain_id: u64,
    /// The identity registry (owners come from its ERC-721 `Transfer` logs).
    pub identity: Address,
    /// The reputation registry (`NewFeedback`, `FeedbackRevoked` and `VerifiedFeedback` logs).
    pub reputation: Address,
    /// The last block of the reputation registry read.
    pub block: u64,
    /// The last block of the identity registry read.
    pub identity_block: u64,
    /// Every feedback record of a known agent, with its owners (as of `identity_block`, and when it was given),
    /// revocation and receipt flag, in log order.
    pub feedback: Vec<Feedback>,
    /// The owner of every agent of the identity registry as of `identity_block` (zero for a burned one); keys are
    /// decimal strings in JSON.
    #[serde(serialize_with = "decimal_keys")]
    pub owners: BTreeMap<U256, Address>,
    /// Feedback records left out because their agent has no `Transfer` up to `identity_block` (only possible when
    /// `identity_block` is below `block`, or the logs are read from after the agent's registration).
    pub unknown_agent_records: usize,
}

/// Reads the feedback of `reputation` and the owners of the agents of `identity` from their logs in blocks
/// `from_block..=to_block` (the latest block when `None`); see [`load_feedback_split`].
pub async fn load_feedback(
    provider: &DynProvider,
    identity: Address,
    reputation: Address,
    from_block: u64,
    to_block: Option<u64>,
) -> Result<ChainFeedback> {
    let to_block = match to_block {
        Some(block) => block,
        None => provider
            .get_block_number()
            .await
            .map_err(|source| prova_chain::Error::Rpc { what: "reading the head".into(), source })?,
    };
    load_feedback_split(provider, identity, reputation, from_block, to_block, to_block).await
}

/// Reads the feedback of `reputation` from its logs in `from_block..=reputation_block`, and the owners of the agents
/// of `identity` from its `Transfer` logs in `from_block..=identity_block` (an indexer may have read the two
/// registries to different blocks). Each record carries its agent's owner as of `identity_block`, and its owner when
/// the record was given (`prova_reputation::owner_at` over the agent's transfers at the `NewFeedback` log, else the
/// owner as of `identity_block`), as the API computes them from its index; records of agents with no `Transfer` by
/// then are left out and counted. Block times come from the logs or, where the node leaves them out, from the block
/// headers. Fails if `reputation` does not rate `identity`'s agents.
pub async fn load_feedback_split(
    provider: &DynProvider,
    identity: Address,
    reputation: Address,
    from_block: u64,
    reputation_block: u64,
    identity_block: u64,
) -> Result<ChainFeedback> {
    let chain_id = prova_chain::chain_id(provider).await?;
    check_contract(provider, identity, None).await?;
    let linked = identity_of_reputation(provider, reputation).await?;
    if linked != identity {
        return Err(Error::Logs(format!(
            "reputation registry {reputation} rates the agents of identity registry {linked}, not {identity}"
        )));
    }

    let transfer = vec![IIdentityRegistry::Transfer::SIGNATURE_HASH];
    let transfers = get_logs(provider, identity, transfer, from_block, identity_block).await?;
    let mut owners = BTreeMap::new();
    let mut history: HashMap<U256, Vec<OwnerChange>> = HashMap::new();
    for log in &transfers {
        let transfer = log
            .log_decode::<IIdentityRegistry::Transfer>()
            .map_err(|source| Error::Undecodable { contract: identity, source })?
            .inner
            .data;
        owners.insert(transfer.tokenId, transfer.to);
        // The logs come in chain order, so each agent's history is sorted.
        let at = log_position(log)?;
        history.entry(transfer.tokenId).or_default().push(OwnerChange { at, from: transfer.from, to: transfer.to });
    }

    let topics = vec![
        IReputationRegistry::NewFeedback::SIGNATURE_HASH,
        IReputationRegistry::FeedbackRevoked::SIGNATURE_HASH,
        IReputationRegistry::VerifiedFeedback::SIGNATURE_HASH,
    ];
    let logs = get_logs(provider, reputation, topics, from_block, reputation_block).await?;
    let times = block_times(provider, &logs).await?;
    let mut records: Vec<Feedback> = Vec::new();
    let mut position: HashMap<(U256, Address, u64), usize> = HashMap::new();
    let mut unknown_agent_records = 0;
    for log in &logs {
        let undecodable = |source: alloy::sol_types::Error| Error::Undecodable { contract: reputation, source };
        let block = log.block_number.unwrap_or_default();
        match log.topic0() {
            Some(&IReputationRegistry::NewFeedback::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::NewFeedback>().map_err(undecodable)?.inner.data;
                let Some(&owner) = owners.get(&e.agentId) else {
                    unknown_agent_records += 1;
                    continue;
                };
                let changes = history.get(&e.agentId).map_or(&[][..], Vec::as_slice);
                let owner_at_feedback = prova_reputation::owner_at(changes, log_position(log)?).unwrap_or(owner);
                let key = (e.agentId, e.clientAddress, e.feedbackIndex);
                if position.insert(key, records.len()).is_some() {
                    return Err(Error::Logs(format!("feedback {key:?} appears twice in the logs of {reputation}")));
                }
                records.push(Feedback {
                    agent_id: e.agentId,
                    agent_owner: owner,
                    owner_at_feedback,
                    client: e.clientAddress,
                    feedback_index: e.feedbackIndex,
                    value: e.value,
                    decimals: e.valueDecimals,
                    tag1: e.tag1,
                    tag2: e.tag2,
                    revoked: false,
                    verified: false,
                    timestamp: i64::try_from(times[&block]).unwrap_or(i64::MAX),
                });
            }
            Some(&IReputationRegistry::FeedbackRevoked::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::FeedbackRevoked>().map_err(undecodable)?.inner.data;
                if let Some(&i) = position.get(&(e.agentId, e.clientAddress, e.feedbackIndex)) {
                    records[i].revoked = true;
                }
            }
            Some(&IReputationRegistry::VerifiedFeedback::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::VerifiedFeedback>().map_err(undecodable)?.inner.data;
                if let Some(&i) = position.get(&(e.agentId, e.clientAddress, e.feedbackIndex)) {
                    records[i].verified = true;
                }
            }
            _ => {}
        }
    }
    Ok(ChainFeedback {
        chain_id,
        identity,
        reputation,
        block: reputation_block,
        identity_block,
        feedback: records,
        owners,
        unknown_agent_records,
    })
}

/// Where `log` is on its chain.
fn log_position(log: &Log) -> Result<LogPosition> {
    match (log.block_number, log.log_index) {
        (Some(block), Some(log_index)) => Ok(LogPosition { block, log_index }),
        _ => Err(Error::Logs("a log without a block number or log index".into())),
    }
}

/// Serializes a map keyed by agent id with decimal keys.
fn decimal_keys<S: serde::Serializer>(
    map: &BTreeMap<U256, Address>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_map(map.iter().map(|(k, v)| (k.to_string(), v)))
}

/// Every log of `address` with one of `topics` as topic0 in `from..=to`, in chain order (see
/// [`prova_chain::get_logs`]).
async fn get_logs(provider: &DynProvider, address: Address, topics: Vec<B256>, from: u64, to: u64) -> Result<Vec<Log>> {
    Ok(prova_chain::get_logs(provider, &Filter::new().address(address).event_signature(topics), from, to).await?)
}

/// The timestamp of every block that holds one of `logs`.
async fn block_times(provider: &DynProvider, logs: &[Log]) -> Result<HashMap<u64, u64>> {
    let mut times = HashMap::new();
    let mut missing = Vec::new();
    for log in logs {
        let block = log.block_number.ok_or_else(|| Error::Logs("a log without a block number".into()))?;
        match log.block_timestamp {
            Some(ts) => {
                times.insert(block, ts);
            }
            None => missing.push(block),
        }
    }
    missing.sort_unstable();
    missing.dedup();
    missing.retain(|b| !times.contains_key(b));
    let params: Vec<(BlockNumberOrTag, bool)> = missing.iter().map(|b| (BlockNumberOrTag::Number(*b), false)).collect();
    let headers: Vec<Option<BlockTime>> = rpc_batch(provider, "eth_getBlockByNumber", params).await?;
    for (block, header) in missing.into_iter().zip(headers) {
        let ts = header
            .and_then(|h| u64::try_from(h.timestamp).ok())
            .ok_or_else(|| Error::Logs(format!("block {block} has no readable timestamp")))?;
        times.insert(block, ts);
    }
    Ok(times)
}

/// The one field of an `eth_getBlockByNumber` header read here.
#[derive(Debug, Deserialize)]
struct BlockTime {
    /// Unix seconds, as a hex quantity.
    timestamp: U64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_times_read_the_header_quantity() {
        let header = serde_json::json!({ "number": "0x5", "timestamp": "0x6553f100", "hash": "0x00" });
        let read: BlockTime = serde_json::from_value(header).unwrap();
        assert_eq!(u64::try_from(read.timestamp).unwrap(), 1_700_000_000);
        assert!(serde_json::from_value::<Option<BlockTime>>(serde_json::Value::Null).unwrap().is_none());
    }
}
