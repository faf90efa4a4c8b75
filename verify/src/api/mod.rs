//! Auditing a prova API against the chain, trusting nothing it says (`prova verify api`).
//!
//! [`audit`] walks the API's answers (model versions, output batches, the publishers of those and their attestor
//! keys, agents with their feedback and validations, and reputation scores), each read as the `prova-views` type
//! the API serializes for that route ([`client`]), and checks each fact through the RPC endpoint alone:
//! - the event is at the stated chain pointer: the transaction's receipt has a log at the stated index, in the
//!   stated block (number, canonical hash, time), emitted by the stated contract, and the log decoded with the
//!   contract bindings has the API's field values ([`fact`]);
//! - current state matches the contracts' views: revocations, attestor key status, publisher admin
//!   ([`provenance`]); agent owner, wallet, URI and model binding, feedback revocations and receipts, validation
//!   responses, and counts ([`agents`]);
//! - reputation scores equal the scores recomputed from raw chain logs ([`crate::reputation`]).
//!
//! The result is a [`Report`]: per-kind counts and every fact with its differences. An [`Error`] means the audit
//! could not run (an endpoint is unreachable, the chains differ, a list is not a list), never a verdict; an answer
//! that is not the type its route promises is a difference of that fact.

mod agents;
pub mod client;
mod fact;
mod provenance;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use alloy::primitives::Address;
use futures::{StreamExt, TryStreamExt};
use prova_reputation::Algorithm;
use prova_views::{AgentItem, ModelVersion, OutputBatch, Status};
use serde::{Serialize, Serializer};

pub use client::ApiClient;
pub use fact::{Fact, Kind};

use crate::audit::{self, ChainReader};
use crate::error::{Error, Result};
use crate::reputation::Recompute;

/// What to audit, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// JSON-RPC endpoint of the chain the API indexes; every fact is re-read from it.
    pub rpc_url: String,
    /// The chain to audit (`None`: the one the RPC endpoint serves). The RPC endpoint must serve it and the API
    /// must index it.
    pub chain_id: Option<u64>,
    /// Check a random sample of this many facts of each kind (`None`: every fact). Agents are sampled first;
    /// feedback, validations and reputation scores are then those of the sampled agents (feedback and validations
    /// sampled again to this many).
    pub sample: Option<usize>,
    /// Seed of the random sample (`None`: a random one, given in the report so that the run can be repeated).
    pub seed: Option<u64>,
    /// Require every provenance fact to come from this ProvenanceRegistry (`None`: whichever contract the API
    /// names; the report lists them).
    pub registry: Option<Address>,
    /// Require every agent to come from this ERC-8004 identity registry (`None`: whichever the API names).
    pub identity_registry: Option<Address>,
    /// Reputation algorithms recomputed from chain logs for every checked agent.
    pub algorithms: Vec<Algorithm>,
    /// First block whose logs are read to recompute reputation.
    pub from_block: u64,
    /// Facts checked at once (at least 1).
    pub concurrency: usize,
}

/// Told how far an audit is, e.g. to draw a progress bar.
pub trait Progress: Send + Sync {
    /// A kind's facts are about to be checked: `len` of them.
    fn phase(&self, kind: Kind, len: usize);
    /// One more fact of the current kind was checked.
    fn checked(&self);
}

/// Progress that is not shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn phase(&self, _: Kind, _: usize) {}
    fn checked(&self) {}
}

/// How many facts of one kind were checked, and how many of them differ from the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    /// The kind (written as [`Kind::plural`]).
    #[serde(serialize_with = "Kind::serialize_plural")]
    pub kind: Kind,
    /// Facts checked.
    pub checked: usize,
    /// Of which with at least one difference.
    pub mismatched: usize,
}

/// What an audit found. As JSON, `facts` is written as `mismatches`: one entry per difference (`kind`, `id`,
/// `field`, `api`, `chain`), in report order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether every checked fact matches the chain.
    pub verified: bool,
    /// The API audited.
    pub api: String,
    /// The RPC endpoint every fact was read from.
    pub rpc: String,
    /// The chain audited.
    pub chain_id: u64,
    /// The sample size per kind, if sampled.
    pub sample: Option<usize>,
    /// The seed of the sample, if sampled.
    pub seed: Option<u64>,
    /// The contracts the API named, by role (`provenance registry`, `identity registry`, ...).
    pub contracts: BTreeMap<&'static str, BTreeSet<Address>>,
    /// One entry per kind, in [`Kind::ALL`] order.
    pub summary: Vec<KindSummary>,
    /// Every checked fact, sorted by kind and id.
    #[serde(rename = "mismatches", serialize_with = "mismatches")]
    pub facts: Vec<Fact>,
    /// How the scores were recomputed (blocks, seeds), each once.
    pub notes: Vec<String>,
}

impl Report {
    /// The facts with at least one difference, in report order.
    pub fn mismatched(&self) -> impl Iterator<Item = &Fact> {
        self.facts.iter().filter(|f| !f.matches())
    }

    /// The number of differences over all facts.
    pub fn difference_count(&self) -> usize {
        self.facts.iter().map(|f| f.differences.len()).sum()
    }
}

/// Writes the facts' differences as one flat list of `{ kind, id, field, api, chain }`.
fn mismatches<S: Serializer>(facts: &[Fact], serializer: S) -> std::result::Result<S::Ok, S::Error> {
    /// One difference, with its fact.
    #[derive(Serialize)]
    struct Mismatch<'a> {
        kind: &'static str,
        id: &'a str,
        field: &'a str,
        api: &'a str,
        chain: &'a str,
    }
    serializer.collect_seq(facts.iter().flat_map(|f| {
        f.differences.iter().map(|d| Mismatch {
            kind: f.kind.singular(),
            id: &f.id,
            field: &d.field,
            api: &d.stated,
            chain: &d.chain,
        })
    }))
}

/// Audits the API behind `api` against the chain of `options.rpc_url`. Checks first that the RPC endpoint answers,
/// serves the chain asked for, and that the API answers and indexes that chain.
pub async fn audit(options: &AuditOptions, api: &ApiClient, progress: &dyn Progress) -> Result<Report> {
    // The URL may hold the provider's key: messages and the report show it redacted.
    let rpc = &prova_chain::redact_url(&options.rpc_url);
    let provider = prova_chain::connect(&options.rpc_url)?;
    let served = prova_chain::chain_id(&provider).await.map_err(|source| Error::Unanswered {
        endpoint: format!("the RPC endpoint {rpc}"),
        source: Box::new(source.into()),
    })?;
    let chain_id = options.chain_id.unwrap_or(served);
    if chain_id != served {
        return Err(Error::WrongChain(format!(
            "the RPC endpoint {rpc} serves chain {served}, but chain {chain_id} was asked for"
        )));
    }
    let status = match api.get("/v1/status", &[]).await {
        Ok(Some(answer)) => answer.parse::<Status>()?,
        Ok(None) => {
            let what = format!("{} has no /v1/status; is it a prova API?", api.base());
            return Err(Error::Api { what, source: None });
        }
        Err(error) => {
            return Err(Error::Unanswered { endpoint: format!("the API {}", api.base()), source: Box::new(error) });
        }
    };
    let indexed: BTreeSet<u64> = status.chains.iter().map(|c| c.chain_id).collect();
    if !indexed.contains(&chain_id) {
        let list = indexed.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        return Err(Error::WrongChain(format!(
            "the API {} indexes chain(s) [{list}], but the RPC endpoint {rpc} serves chain {chain_id}",
            api.base()
        )));
    }
    let seed = options.seed.unwrap_or_else(rand::random);
    let auditor = Auditor {
        options,
        api,
        chain: ChainReader::new(provider, chain_id),
        chain_id,
        seed,
        progress,
        contracts: Mutex::default(),
    };
    let (mut facts, notes) = auditor.run().await?;
    facts.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    let summary = Kind::ALL
        .iter()
        .map(|&kind| {
            let of_kind = facts.iter().filter(|f| f.kind == kind);
            KindSummary { kind, checked: of_kind.clone().count(), mismatched: of_kind.filter(|f| !f.matches()).count() }
        })
        .collect();
    Ok(Report {
        verified: facts.iter().all(Fact::matches),
        api: api.base().to_owned(),
        rpc: rpc.clone(),
        chain_id,
        sample: options.sample,
        seed: options.sample.map(|_| seed),
        contracts: auditor.contracts.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
        summary,
        facts,
        notes,
    })
}

/// What an audit needs everywhere.
struct Auditor<'a> {
    options: &'a AuditOptions,
    api: &'a ApiClient,
    chain: ChainReader,
    chain_id: u64,
    seed: u64,
    progress: &'a dyn Progress,
    /// Contracts the API named, by role.
    contracts: Mutex<BTreeMap<&'static str, BTreeSet<Address>>>,
}

impl Auditor<'_> {
    /// The query every list is asked with.
    fn query(&self) -> Vec<(&'static str, String)> {
        vec![("chain_id", self.chain_id.to_string())]
    }

    fn sample<T>(&self, items: Vec<T>) -> Vec<T> {
        audit::sample(items, self.options.sample, self.seed)
    }

    /// Notes that the API named `contract` in `role`.
    fn saw(&self, role: &'static str, contract: Address) {
        self.contracts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(role)
            .or_default()
            .insert(contract);
    }

    /// Runs `check` on every item, `concurrency` at a time.
    async fn each<'a, T, F, Fut>(&'a self, kind: Kind, items: &'a [T], check: F) -> Result<Vec<Fact>>
    where
        F: Fn(&'a T) -> Fut,
        Fut: Future<Output = Result<Fact>> + 'a,
    {
        self.progress.phase(kind, items.len());
        futures::stream::iter(items.iter().map(check))
            .buffer_unordered(self.options.concurrency.max(1))
            .inspect_ok(|_| self.progress.checked())
            .try_collect()
            .await
    }

    /// Every fact, unsorted, and the notes on how the scores were recomputed.
    async fn run(&self) -> Result<(Vec<Fact>, Vec<String>)> {
        let mut facts = Vec::new();
        let q = self.query();

        let versions = self.api.list::<ModelVersion>("/v1/model-versions", &q).await?;
        let batches = self.api.list::<OutputBatch>("/v1/output-batches", &q).await?;
        // The publishers of every listed version and batch, with the registry they are in.
        let mut publishers: BTreeSet<(Address, Address)> = BTreeSet::new();
        let stated = versions
            .iter()
            .flatten()
            .map(|v| (v.publisher, v.chain.contract))
            .chain(batches.iter().flatten().map(|b| (b.publisher, b.chain.contract)));
        for (publisher, registry) in stated {
            self.saw("provenance registry", registry);
            publishers.insert((publisher, registry));
        }
        let versions = self.sample(versions);
        facts.extend(self.each(Kind::ModelVersion, &versions, |v| self.check_version(v)).await?);
        let batches = self.sample(batches);
        facts.extend(self.each(Kind::OutputBatch, &batches, |b| self.check_batch(b)).await?);

        let publishers = self.sample(publishers.into_iter().collect());
        self.progress.phase(Kind::Publisher, publishers.len());
        let mut keys = Vec::new();
        for &(publisher, registry) in &publishers {
            let (fact, publisher_keys) = self.check_publisher(publisher, registry).await?;
            facts.push(fact);
            keys.extend(publisher_keys);
            self.progress.checked();
        }
        let keys = self.sample(keys);
        facts.extend(self.each(Kind::AttestorKey, &keys, |k| self.check_key(k)).await?);

        let agents = self.api.list::<AgentItem>("/v1/agents", &q).await?;
        for item in agents.iter().flatten() {
            self.saw("identity registry", item.registered.contract);
        }
        let agents = self.sample(agents);
        self.progress.phase(Kind::Agent, agents.len());
        let mut recomputes: BTreeMap<(Address, Address), Recompute> = BTreeMap::new();
        let mut feedback = Vec::new();
        let mut validations = Vec::new();
        for item in &agents {
            let checked = self.check_agent(item, &mut recomputes).await?;
            facts.extend(checked.facts);
            feedback.extend(checked.feedback);
            validations.extend(checked.validations);
            self.progress.checked();
        }
        let mut notes: Vec<String> = Vec::new();
        for note in recomputes.values().flat_map(|r| &r.notes) {
            if !notes.contains(note) {
                notes.push(note.clone());
            }
        }
        let feedback = self.sample(feedback);
        facts.extend(self.each(Kind::Feedback, &feedback, |f| self.check_feedback(f)).await?);
        let validations = self.sample(validations);
        facts.extend(self.each(Kind::Validation, &validations, |v| self.check_validation(v)).await?);
        Ok((facts, notes))
    }
}
