//! The preparation every algorithm shares (crate-private): the input checked, sorted and grouped by agent,
//! the filter applied, and the running totals of a [`Score`].

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, U256};

use crate::{Feedback, Filter, MAX_DECIMALS, ReputationError, Score, ScoreStatus, UsedParams};

/// The input checked and sorted by `(agent_id, client, feedback_index)`, grouped by agent.
pub(crate) struct Prepared<'a> {
    pub(crate) agents: BTreeMap<U256, AgentRecords<'a>>,
    pub(crate) newest_timestamp: Option<i64>,
}

pub(crate) struct AgentRecords<'a> {
    pub(crate) owner: Address,
    /// Sorted by `(client, feedback_index)`.
    pub(crate) records: Vec<&'a Feedback>,
}

pub(crate) fn prepare(feedback: &[Feedback]) -> Result<Prepared<'_>, ReputationError> {
    let mut sorted: Vec<&Feedback> = feedback.iter().collect();
    sorted.sort_by_key(|f| (f.agent_id, f.client, f.feedback_index));
    let mut agents: BTreeMap<U256, AgentRecords<'_>> = BTreeMap::new();
    let mut previous: Option<&Feedback> = None;
    for f in sorted {
        if f.decimals > MAX_DECIMALS {
            return Err(ReputationError::Decimals {
                agent_id: f.agent_id,
                client: f.client,
                feedback_index: f.feedback_index,
                decimals: f.decimals,
            });
        }
        if let Some(p) = previous
            && (p.agent_id, p.client, p.feedback_index) == (f.agent_id, f.client, f.feedback_index)
        {
            return Err(ReputationError::DuplicateFeedback {
                agent_id: f.agent_id,
                client: f.client,
                feedback_index: f.feedback_index,
            });
        }
        previous = Some(f);
        let entry =
            agents.entry(f.agent_id).or_insert_with(|| AgentRecords { owner: f.agent_owner, records: Vec::new() });
        if entry.owner != f.agent_owner {
            return Err(ReputationError::InconsistentOwner {
                agent_id: f.agent_id,
                first: entry.owner,
                second: f.agent_owner,
            });
        }
        entry.records.push(f);
    }
    let newest_timestamp = feedback.iter().map(|f| f.timestamp).max();
    Ok(Prepared { agents, newest_timestamp })
}

/// Running totals for the count, reviewer, range and receipt fields of a [`Score`].
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) count: u64,
    verified: u64,
    clients: BTreeSet<Address>,
    out_of_range: u64,
    /// The agent's records the filter left out; set by the algorithm.
    pub(crate) filtered_out: u64,
}

impl Tally {
    /// A tally of an agent with `records` in the input, of which `kept` pass the filter.
    pub(crate) fn new(records: usize, kept: usize) -> Self {
        Self { filtered_out: (records - kept) as u64, ..Self::default() }
    }

    /// Counts a record the filter kept: used if its value is in range (returns `true`), else counted out of range.
    pub(crate) fn add(&mut self, f: &Feedback) -> bool {
        if !f.in_range() {
            self.out_of_range += 1;
            return false;
        }
        self.count += 1;
        self.verified += u64::from(f.verified);
        self.clients.insert(f.client);
        true
    }

    pub(crate) fn score(self, agent_id: U256, owner: Option<Address>, score: Option<f64>, params: UsedParams) -> Score {
        Score {
            agent_id,
            agent_owner: owner,
            status: ScoreStatus::of(score),
            score,
            count: self.count,
            distinct_clients: self.clients.len() as u64,
            out_of_range: self.out_of_range,
            filtered_out: self.filtered_out,
            verified_share: (self.count > 0).then(|| self.verified as f64 / self.count as f64),
            summary: None,
            trust: None,
            params,
        }
    }
}

/// Records of one agent that pass the filter, treating the client list as a set, in sorted order.
pub(crate) fn kept<'a>(records: &[&'a Feedback], filter: &Filter) -> Vec<&'a Feedback> {
    let clients: Option<BTreeSet<Address>> = filter.clients.as_ref().map(|c| c.iter().copied().collect());
    records
        .iter()
        .copied()
        .filter(|f| filter.keeps_record(f) && clients.as_ref().is_none_or(|c| c.contains(&f.client)))
        .collect()
}

/// The agent's records in the input, or none.
pub(crate) fn records_of<'p, 'a>(prepared: &'p Prepared<'a>, agent_id: U256) -> (Option<Address>, &'p [&'a Feedback]) {
    prepared.agents.get(&agent_id).map_or((None, &[]), |a| (Some(a.owner), a.records.as_slice()))
}
