//! `prova verify api`: audits a prova API against the chain, trusting nothing it says.
//!
//! It walks the API's answers (model versions, output batches, the publishers of those and their attestor keys,
//! agents with their feedback and validations, and reputation scores) and checks each fact through the RPC
//! endpoint alone:
//! - the event is at the stated chain pointer: the transaction's receipt has a log at the stated index, in the
//!   stated block (number, canonical hash, time), emitted by the stated contract, and the log decoded with the
//!   contract bindings has the API's field values;
//! - current state matches the contracts' views: revocations, attestor key status, publisher admin, agent owner,
//!   wallet, URI and model binding, feedback revocations and receipts, validation responses, and counts;
//! - reputation scores equal the scores recomputed from raw chain logs (as `prova verify reputation` does).
//!
//! Exit 0 when every checked fact matches, 1 on any mismatch, 2 when the audit could not run (an endpoint is
//! unreachable, the chains differ).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use anyhow::{Context, bail};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use prova_chain::view;
use prova_core::bindings::{AGENT_WALLET_KEY, MODEL_VERSION_KEY};
use prova_core::bindings::{IIdentityRegistry, IProvenanceRegistry, IReputationRegistry, IValidationRegistry};
use prova_reputation::Algorithm;
use prova_verify::audit::{self, ChainReader, Difference, Pointer};
use serde_json::Value;

use super::api_client::Api;
use super::verify_reputation::{Recompute, ScoreArgs, flatten};

/// Arguments of `prova verify api`.
#[derive(Debug, Args)]
pub struct VerifyApiArgs {
    /// The prova API to audit.
    #[arg(long, env = "PROVA_API")]
    pub api: String,
    /// JSON-RPC endpoint of the chain the API indexes; every fact is re-read from it.
    #[arg(long = "rpc", env = "PROVA_RPC_URL")]
    pub rpc_url: String,
    /// The chain to audit (default: the one the RPC endpoint serves). The RPC endpoint must serve it and the API
    /// must index it.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// Check a random sample of N facts of each kind (default: every fact). Agents are sampled first; feedback,
    /// validations and reputation scores are then those of the sampled agents (feedback and validations sampled
    /// again to N).
    #[arg(long, value_name = "N")]
    pub sample: Option<usize>,
    /// Seed of the random sample (default: a random one, printed so that the run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Require every provenance fact to come from this ProvenanceRegistry (default: whichever contract the API
    /// names; the report lists them).
    #[arg(long)]
    pub registry: Option<Address>,
    /// Require every agent to come from this ERC-8004 identity registry (default: whichever the API names).
    #[arg(long)]
    pub identity_registry: Option<Address>,
    /// Reputation algorithms recomputed from chain logs for every checked agent (comma-separated: mean,
    /// bayesian, decay, trust).
    #[arg(long, value_delimiter = ',', default_value = "mean,trust")]
    pub algorithms: Vec<Algorithm>,
    /// First block whose logs are read to recompute reputation (the identity registry's deployment block saves
    /// time on a long chain).
    #[arg(long, default_value_t = 0)]
    pub from_block: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Facts checked at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

/// The kinds of facts, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    ModelVersion,
    OutputBatch,
    Publisher,
    AttestorKey,
    Agent,
    Feedback,
    Validation,
    Reputation,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Self::ModelVersion,
        Self::OutputBatch,
        Self::Publisher,
        Self::AttestorKey,
        Self::Agent,
        Self::Feedback,
        Self::Validation,
        Self::Reputation,
    ];

    fn singular(self) -> &'static str {
        match self {
            Self::ModelVersion => "model version",
            Self::OutputBatch => "output batch",
            Self::Publisher => "publisher",
            Self::AttestorKey => "attestor key",
            Self::Agent => "agent",
            Self::Feedback => "feedback",
            Self::Validation => "validation",
            Self::Reputation => "reputation",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::ModelVersion => "model versions",
            Self::OutputBatch => "output batches",
            Self::Publisher => "publishers",
            Self::AttestorKey => "attestor keys",
            Self::Agent => "agents",
            Self::Feedback => "feedback",
            Self::Validation => "validations",
            Self::Reputation => "reputation scores",
        }
    }
}

/// One checked fact and how the API's statement of it differs from the chain.
#[derive(Debug)]
struct Fact {
    kind: Kind,
    id: String,
    differences: Vec<Difference>,
}

impl Fact {
    fn new(kind: Kind, id: impl fmt::Display) -> Self {
        Self { kind, id: id.to_string(), differences: Vec::new() }
    }

    /// Records that the API says `api` (JSON text) where the chain says `chain`.
    fn differ(&mut self, field: impl Into<String>, api: impl ToString, chain: impl ToString) {
        self.differences.push(Difference::new(field, api, chain));
    }

    /// Compares the API's JSON value of `field` with the chain's value.
    fn field<T: ApiValue>(&mut self, field: &str, api: &Value, chain: T) {
        match T::from_api(api) {
            Some(stated) if stated == chain => {}
            _ => self.differ(field, api, chain.render()),
        }
    }

    /// A view call's answer, or `None` after recording what the contract answered instead (a revert) as the chain's
    /// value of `field`.
    fn answer<T>(&mut self, field: &str, api: &Value, answer: Result<T, String>) -> Option<T> {
        match answer {
            Ok(value) => Some(value),
            Err(instead) => {
                self.differ(field, api, format!("the contract {instead}"));
                None
            }
        }
    }

    /// Reads the log at the API's chain pointer `pointer` (the JSON object of `{prefix}chain`), recording every
    /// difference in the pointer; `pin` is the contract it must be from, if pinned.
    async fn log(
        &mut self,
        chain: &ChainReader,
        prefix: &str,
        pointer: &Value,
        pin: Option<Address>,
    ) -> anyhow::Result<Option<Located>> {
        let Some(p) = parse_pointer(pointer) else {
            self.differ(
                format!("{prefix}chain"),
                pointer,
                "a chain pointer (chain_id, contract, block, tx, log index)",
            );
            return Ok(None);
        };
        if let Some(pin) = pin
            && pin != p.contract
        {
            self.differ(
                format!("{prefix}chain.contract"),
                Json(p.contract),
                format!("{} (the pinned contract)", Json(pin)),
            );
        }
        let log = chain.log_at(&p, &format!("{prefix}chain."), &mut self.differences).await?;
        let Some(log) = log else { return Ok(None) };
        let block_number = log.block_number.unwrap_or(p.block_number);
        let block_time = chain.block(block_number).await?.map_or(0, |(_, time)| time);
        Ok(Some(Located { log, block_time }))
    }

    /// [`Fact::log`], decoded as `E`; a log of another event is a difference in `{prefix}chain.event`.
    /// Checks the API's `revocation` (null or an object with a chain pointer) against the contract's `revokedAt`
    /// (0: not revoked); for a revocation the API shows, checks its event at its pointer and returns it, for the
    /// caller to compare its fields.
    async fn revocation<E: SolEvent>(
        &mut self,
        chain: &ChainReader,
        revocation: &Value,
        revoked_at: u64,
        pin: Option<Address>,
    ) -> anyhow::Result<Option<E>> {
        match (revocation.is_null(), revoked_at) {
            (true, 0) => Ok(None),
            (true, at) => {
                self.differ("revocation", revocation, format!("revoked at {}", Json(Time(at))));
                Ok(None)
            }
            (false, 0) => {
                self.differ("revocation", revocation, "null (not revoked)");
                Ok(None)
            }
            (false, _) => {
                let revoked = self.event::<E>(chain, "revocation.", &revocation["chain"], pin).await?;
                Ok(revoked.map(|(event, _)| event))
            }
        }
    }

    async fn event<E: SolEvent>(
        &mut self,
        chain: &ChainReader,
        prefix: &str,
        pointer: &Value,
        pin: Option<Address>,
    ) -> anyhow::Result<Option<(E, Located)>> {
        let Some(located) = self.log(chain, prefix, pointer, pin).await? else { return Ok(None) };
        match prova_chain::decode::<E>(&located.log) {
            Some(event) => Ok(Some((event, located))),
            None => {
                self.differ(
                    format!("{prefix}chain.event"),
                    Json(E::SIGNATURE),
                    prova_chain::describe_log(&located.log),
                );
                Ok(None)
            }
        }
    }
}

/// A log found at a pointer, with its block time.
struct Located {
    log: alloy::rpc::types::Log,
    block_time: u64,
}

impl Located {
    fn contract(&self) -> Address {
        self.log.address()
    }
}

/// A value as the API writes it in JSON (addresses and hashes lowercase hex, times RFC 3339, uint256 and int128 as
/// decimal strings), so that an API value and a chain value compare and print alike.
trait ApiValue: PartialEq + Sized {
    fn from_api(value: &Value) -> Option<Self>;
    fn render(&self) -> String;
}

/// Renders a chain value as the API would write it.
struct Json<T>(T);

impl<T: ApiValue> fmt::Display for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.render())
    }
}

impl ApiValue for String {
    fn from_api(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
    fn render(&self) -> String {
        Value::from(self.as_str()).to_string()
    }
}

/// Names of events and keys, only ever rendered (an API value never parses as one, so never compare with it).
impl ApiValue for &'static str {
    fn from_api(_: &Value) -> Option<Self> {
        None
    }
    fn render(&self) -> String {
        Value::from(*self).to_string()
    }
}

impl ApiValue for Address {
    fn from_api(value: &Value) -> Option<Self> {
        value.as_str()?.parse().ok()
    }
    fn render(&self) -> String {
        format!("\"{}\"", alloy::hex::encode_prefixed(self))
    }
}

impl ApiValue for B256 {
    fn from_api(value: &Value) -> Option<Self> {
        value.as_str()?.parse().ok()
    }
    fn render(&self) -> String {
        format!("\"{}\"", alloy::hex::encode_prefixed(self))
    }
}

impl ApiValue for u64 {
    fn from_api(value: &Value) -> Option<Self> {
        value.as_u64().or_else(|| value.as_str()?.parse().ok())
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

impl ApiValue for bool {
    fn from_api(value: &Value) -> Option<Self> {
        value.as_bool()
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

impl ApiValue for U256 {
    fn from_api(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => U256::from_str_radix(s, 10).ok(),
            Value::Number(n) => n.as_u64().map(U256::from),
            _ => None,
        }
    }
    fn render(&self) -> String {
        format!("\"{self}\"")
    }
}

impl ApiValue for i128 {
    fn from_api(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_i64().map(i128::from),
            _ => None,
        }
    }
    fn render(&self) -> String {
        format!("\"{self}\"")
    }
}

impl<T: ApiValue> ApiValue for Option<T> {
    fn from_api(value: &Value) -> Option<Self> {
        if value.is_null() { Some(None) } else { T::from_api(value).map(Some) }
    }
    fn render(&self) -> String {
        self.as_ref().map_or_else(|| "null".into(), ApiValue::render)
    }
}

/// A block time: RFC 3339 in the API, unix seconds on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Time(u64);

impl ApiValue for Time {
    fn from_api(value: &Value) -> Option<Self> {
        audit::parse_rfc3339(value.as_str()?).map(Time)
    }
    fn render(&self) -> String {
        format!("\"{}\"", audit::rfc3339(self.0))
    }
}

/// A mean, equal when within floating-point noise.
#[derive(Debug, Clone, Copy)]
struct Mean(Option<f64>);

impl PartialEq for Mean {
    fn eq(&self, other: &Self) -> bool {
        match (self.0, other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => false,
        }
    }
}

impl ApiValue for Mean {
    fn from_api(value: &Value) -> Option<Self> {
        if value.is_null() { Some(Mean(None)) } else { value.as_f64().map(|v| Mean(Some(v))) }
    }
    fn render(&self) -> String {
        self.0.map_or_else(|| "null".into(), |v| v.to_string())
    }
}

/// `None` for zero.
fn nonzero_hash(hash: B256) -> Option<B256> {
    (!hash.is_zero()).then_some(hash)
}

/// `None` for the zero address.
fn nonzero_address(address: Address) -> Option<Address> {
    (!address.is_zero()).then_some(address)
}

/// A `chain` object of the API as a pointer.
fn parse_pointer(value: &Value) -> Option<Pointer> {
    Some(Pointer {
        chain_id: value["chain_id"].as_u64()?,
        contract: value["contract"].as_str()?.parse().ok()?,
        block_number: value["block_number"].as_u64()?,
        block_hash: value["block_hash"].as_str()?.parse().ok()?,
        block_time: value["block_time"].as_str().and_then(audit::parse_rfc3339),
        tx_hash: value["tx_hash"].as_str()?.parse().ok()?,
        log_index: value["log_index"].as_u64()?,
    })
}

/// The JSON text of a string field, for ids.
fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

/// What an audit needs everywhere.
struct Audit {
    args: VerifyApiArgs,
    api: Api,
    chain: ChainReader,
    chain_id: u64,
    seed: u64,
    bar: ProgressBar,
    /// Contracts the API named, by role.
    contracts: std::sync::Mutex<BTreeMap<&'static str, BTreeSet<Address>>>,
    notes: Vec<String>,
}

impl VerifyApiArgs {
    /// Runs the audit.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let provider = prova_chain::connect(&self.rpc_url)?;
        let served = prova_chain::chain_id(&provider)
            .await
            .with_context(|| format!("cannot check anything: the RPC endpoint {} does not answer", self.rpc_url))?;
        let chain_id = self.chain_id.unwrap_or(served);
        if chain_id != served {
            bail!("wrong chain: the RPC endpoint {} serves chain {served}, but --chain-id is {chain_id}", self.rpc_url);
        }
        let api = Api::new(&self.api)?;
        let status = api
            .get("/v1/status", &[])
            .await
            .with_context(|| format!("cannot check anything: the API {} does not answer", self.api))?
            .with_context(|| format!("{} has no /v1/status; is it a prova API?", self.api))?;
        let indexed: BTreeSet<u64> =
            status["chains"].as_array().into_iter().flatten().filter_map(|c| c["chain_id"].as_u64()).collect();
        if !indexed.contains(&chain_id) {
            let list = indexed.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            bail!(
                "wrong chain: the API {} indexes chain(s) [{list}], but the RPC endpoint {} serves chain {chain_id}",
                self.api,
                self.rpc_url
            );
        }
        let seed = self.seed.unwrap_or_else(|| u64::from_be_bytes(B256::random()[..8].try_into().expect("8 bytes")));
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{spinner} checking {msg} {pos}/{len} [{bar:30}] {elapsed}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut audit = Audit {
            args: self,
            api,
            chain: ChainReader::new(provider, chain_id),
            chain_id,
            seed,
            bar,
            contracts: Default::default(),
            notes: Vec::new(),
        };
        let facts = audit.run().await;
        audit.bar.finish_and_clear();
        let facts = facts?;
        if audit.args.json {
            println!("{}", serde_json::to_string_pretty(&audit.json(&facts))?);
        } else {
            audit.print(&facts);
        }
        Ok(if facts.iter().any(|f| !f.differences.is_empty()) { ExitCode::from(1) } else { ExitCode::SUCCESS })
    }
}

impl Audit {
    fn query(&self) -> Vec<(&'static str, String)> {
        vec![("chain_id", self.chain_id.to_string())]
    }

    fn sample<T>(&self, items: Vec<T>) -> Vec<T> {
        audit::sample(items, self.args.sample, self.seed)
    }

    fn saw(&self, role: &'static str, pointer: &Value) {
        if let Some(contract) = Address::from_api(&pointer["contract"]) {
            self.saw_address(role, contract);
        }
    }

    fn saw_address(&self, role: &'static str, contract: Address) {
        self.contracts.lock().expect("contracts").entry(role).or_default().insert(contract);
    }

    fn phase(&self, kind: Kind, len: usize) {
        self.bar.set_message(kind.plural());
        self.bar.set_length(len as u64);
        self.bar.set_position(0);
    }

    /// Runs `check` on every item, `--concurrency` at a time.
    async fn each<'a, T, F, Fut>(&'a self, kind: Kind, items: &'a [T], check: F) -> anyhow::Result<Vec<Fact>>
    where
        F: Fn(&'a T) -> Fut,
        Fut: Future<Output = anyhow::Result<Fact>> + 'a,
    {
        self.phase(kind, items.len());
        futures::stream::iter(items.iter().map(check))
            .buffer_unordered(usize::from(self.args.concurrency))
            .inspect_ok(|_| self.bar.inc(1))
            .try_collect()
            .await
    }

    async fn run(&mut self) -> anyhow::Result<Vec<Fact>> {
        let mut facts = Vec::new();
        let q = self.query();

        let versions = self.api.list("/v1/model-versions", &q).await?;
        let batches = self.api.list("/v1/output-batches", &q).await?;
        // The publishers of every listed version and batch, with the registry they are in.
        let mut publishers: BTreeSet<(Address, Address)> = BTreeSet::new();
        for item in versions.iter().chain(&batches) {
            self.saw("provenance registry", &item["chain"]);
            if let (Some(p), Some(r)) =
                (Address::from_api(&item["publisher"]), Address::from_api(&item["chain"]["contract"]))
            {
                publishers.insert((p, r));
            }
        }
        let versions = self.sample(versions);
        facts.extend(self.each(Kind::ModelVersion, &versions, |v| self.check_version(v)).await?);
        let batches = self.sample(batches);
        facts.extend(self.each(Kind::OutputBatch, &batches, |b| self.check_batch(b)).await?);

        let publishers = self.sample(publishers.into_iter().collect());
        self.phase(Kind::Publisher, publishers.len());
        let mut keys = Vec::new();
        for &(publisher, registry) in &publishers {
            let (fact, publisher_keys) = self.check_publisher(publisher, registry).await?;
            facts.push(fact);
            keys.extend(publisher_keys);
            self.bar.inc(1);
        }
        let keys = self.sample(keys);
        facts.extend(self.each(Kind::AttestorKey, &keys, |k| self.check_key(k)).await?);

        let agents = self.api.list("/v1/agents", &q).await?;
        for item in &agents {
            self.saw("identity registry", &item["registered"]);
        }
        let agents = self.sample(agents);
        self.phase(Kind::Agent, agents.len());
        let mut recomputes: HashMap<(Address, Address), Recompute> = HashMap::new();
        let mut feedback = Vec::new();
        let mut validations = Vec::new();
        for item in &agents {
            let (agent_facts, agent_feedback, agent_validations) = self.check_agent(item, &mut recomputes).await?;
            facts.extend(agent_facts);
            feedback.extend(agent_feedback);
            validations.extend(agent_validations);
            self.bar.inc(1);
        }
        for recompute in recomputes.values() {
            for note in &recompute.notes {
                if !self.notes.contains(note) {
                    self.notes.push(note.clone());
                }
            }
        }
        let feedback = self.sample(feedback);
        facts.extend(self.each(Kind::Feedback, &feedback, |f| self.check_feedback(f)).await?);
        let validations = self.sample(validations);
        facts.extend(self.each(Kind::Validation, &validations, |v| self.check_validation(v)).await?);
        Ok(facts)
    }

    // --------------------------------------------------------------------------------------------------------------
    // Provenance
    // --------------------------------------------------------------------------------------------------------------

    async fn check_version(&self, v: &Value) -> anyhow::Result<Fact> {
        let mut f = Fact::new(Kind::ModelVersion, text(&v["version_hash"]));
        let pin = self.args.registry;
        let Some((e, at)) =
            f.event::<IProvenanceRegistry::ModelVersionRegistered>(&self.chain, "", &v["chain"], pin).await?
        else {
            return Ok(f);
        };
        f.field("version_hash", &v["version_hash"], e.versionHash);
        f.field("model_id", &v["model_id"], e.modelId);
        f.field("publisher", &v["publisher"], e.publisher);
        f.field("parent", &v["parent"], nonzero_hash(e.parent));
        f.field("attestor", &v["attestor"], e.attestor);
        f.field("metadata_uri", &v["metadata_uri"], e.metadataURI.clone());
        f.field("metadata_hash", &v["metadata_hash"], nonzero_hash(e.metadataHash));
        f.field("registered_at", &v["registered_at"], Time(at.block_time));

        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let publisher = view(registry.getPublisher(e.publisher).call().await, "getPublisher")?;
        if let Some(p) = f.answer("publisher_name", &v["publisher_name"], publisher) {
            f.field("publisher_name", &v["publisher_name"], (p.registeredAt != 0).then_some(p.name));
        }
        let compromised =
            view(registry.isSignedByCompromisedKey(e.versionHash).call().await, "isSignedByCompromisedKey")?;
        if let Some(c) = f.answer("signed_by_compromised_key", &v["signed_by_compromised_key"], compromised) {
            f.field("signed_by_compromised_key", &v["signed_by_compromised_key"], c);
        }
        let stored = view(registry.getModelVersion(e.versionHash).call().await, "getModelVersion")?;
        if let Some(stored) = f.answer("revocation", &v["revocation"], stored) {
            let checked = f
                .revocation::<IProvenanceRegistry::ModelVersionRevoked>(
                    &self.chain,
                    &v["revocation"],
                    stored.revokedAt,
                    pin,
                )
                .await?;
            if let Some(r) = checked {
                f.field("revocation.version_hash", &v["version_hash"], r.versionHash);
                f.field("revocation.reason", &v["revocation"]["reason"], r.reason);
            }
        }
        Ok(f)
    }

    async fn check_batch(&self, b: &Value) -> anyhow::Result<Fact> {
        let mut f = Fact::new(Kind::OutputBatch, text(&b["root"]));
        let pin = self.args.registry;
        let Some((e, at)) = f.event::<IProvenanceRegistry::OutputsAttested>(&self.chain, "", &b["chain"], pin).await?
        else {
            return Ok(f);
        };
        f.field("root", &b["root"], e.root);
        f.field("version_hash", &b["version_hash"], e.versionHash);
        f.field("publisher", &b["publisher"], e.publisher);
        f.field("attestor", &b["attestor"], e.attestor);
        f.field("leaf_count", &b["leaf_count"], e.leafCount);
        f.field("window_start", &b["window_start"], e.windowStart);
        f.field("window_end", &b["window_end"], e.windowEnd);
        f.field("batch_uri", &b["batch_uri"], e.batchURI.clone());

        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let stored = view(registry.getOutputBatch(e.root).call().await, "getOutputBatch")?;
        if let Some(stored) = f.answer("revocation", &b["revocation"], stored) {
            let checked = f
                .revocation::<IProvenanceRegistry::OutputBatchRevoked>(
                    &self.chain,
                    &b["revocation"],
                    stored.revokedAt,
                    pin,
                )
                .await?;
            if let Some(r) = checked {
                f.field("revocation.root", &b["root"], r.root);
                f.field("revocation.reason", &b["revocation"]["reason"], r.reason);
            }
        }
        Ok(f)
    }

    /// Checks a publisher; returns its fact and its attestor keys as the API lists them (with the publisher).
    async fn check_publisher(&self, publisher: Address, registry: Address) -> anyhow::Result<(Fact, Vec<Value>)> {
        let mut f = Fact::new(Kind::Publisher, alloy::hex::encode_prefixed(publisher));
        let contract = IProvenanceRegistry::new(registry, self.chain.provider());
        let stored = view(contract.getPublisher(publisher).call().await, "getPublisher")?;
        let Some(p) = self.api.get(&format!("/v1/publishers/{publisher:#x}"), &self.query()).await? else {
            let chain = match &stored {
                Ok(p) if p.registeredAt != 0 => {
                    format!("registered in {registry:#x} at {}", Json(Time(p.registeredAt)))
                }
                Ok(_) => "not registered either".into(),
                Err(instead) => format!("the contract {instead}"),
            };
            f.differ("(publisher)", "not found (HTTP 404)", chain);
            return Ok((f, Vec::new()));
        };
        let Some((e, at)) = f
            .event::<IProvenanceRegistry::PublisherRegistered>(&self.chain, "", &p["chain"], self.args.registry)
            .await?
        else {
            return Ok((f, Vec::new()));
        };
        f.field("publisher", &p["publisher"], e.publisher);
        f.field("name", &p["name"], e.name.clone());
        f.field("metadata_uri", &p["metadata_uri"], e.metadataURI.clone());
        f.field("registered_at", &p["registered_at"], Time(at.block_time));
        if let Some(stored) = f.answer("admin", &p["admin"], stored) {
            f.field("admin", &p["admin"], stored.admin);
        }

        // Counts from the registry's logs: the versions it registered and the keys it added.
        let head = self.chain.provider().get_block_number().await.context("cannot read the head")?;
        let topic = publisher.into_word();
        let registered = Filter::new()
            .address(at.contract())
            .event_signature(IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH)
            .topic3(topic);
        let registered = prova_chain::get_logs(self.chain.provider(), &registered, 0, head).await?;
        f.field("model_versions", &p["model_versions"], registered.len() as u64);
        let added = Filter::new()
            .address(at.contract())
            .event_signature(IProvenanceRegistry::AttestorAdded::SIGNATURE_HASH)
            .topic1(topic);
        let added: BTreeSet<Address> = prova_chain::get_logs(self.chain.provider(), &added, 0, head)
            .await?
            .iter()
            .filter_map(prova_chain::decode::<IProvenanceRegistry::AttestorAdded>)
            .map(|a| a.key)
            .collect();
        let keys: Vec<Value> = p["attestor_keys"].as_array().cloned().unwrap_or_default();
        let listed: BTreeSet<Address> = keys.iter().filter_map(|k| Address::from_api(&k["key"])).collect();
        if listed != added {
            let show = |s: &BTreeSet<Address>| s.iter().map(|a| Json(*a).to_string()).collect::<Vec<_>>().join(", ");
            f.differ("attestor_keys", format!("[{}]", show(&listed)), format!("[{}]", show(&added)));
        }
        let keys = keys
            .into_iter()
            .map(|mut k| {
                k["publisher"] = Value::from(alloy::hex::encode_prefixed(publisher));
                k["registry"] = Value::from(alloy::hex::encode_prefixed(at.contract()));
                k
            })
            .collect();
        Ok((f, keys))
    }

    async fn check_key(&self, k: &Value) -> anyhow::Result<Fact> {
        let mut f = Fact::new(Kind::AttestorKey, text(&k["key"]));
        let Some((e, at)) =
            f.event::<IProvenanceRegistry::AttestorAdded>(&self.chain, "", &k["chain"], self.args.registry).await?
        else {
            return Ok(f);
        };
        f.field("key", &k["key"], e.key);
        f.field("publisher", &k["publisher"], e.publisher);
        f.field("added_at", &k["added_at"], Time(at.block_time));
        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let stored = view(registry.getAttestorKey(e.key).call().await, "getAttestorKey")?;
        if let Some(s) = f.answer("status", &k["status"], stored) {
            let status = match (s.compromisedSince, s.revokedAt) {
                (0, 0) => "active",
                (0, _) => "revoked",
                _ => "compromised",
            };
            f.field("status", &k["status"], status.to_owned());
            f.field("revoked_at", &k["revoked_at"], (s.revokedAt != 0).then_some(Time(s.revokedAt)));
            f.field(
                "compromised_since",
                &k["compromised_since"],
                (s.compromisedSince != 0).then_some(s.compromisedSince),
            );
            if s.addedAt != at.block_time {
                f.differ("added_at", &k["added_at"], format!("{} (stored addedAt)", Json(Time(s.addedAt))));
            }
        }
        Ok(f)
    }

    // --------------------------------------------------------------------------------------------------------------
    // Agents
    // --------------------------------------------------------------------------------------------------------------

    /// Checks an agent and its reputation scores; returns their facts and the agent's feedback and validations as
    /// the API lists them (each with the agent's coordinates), to be sampled and checked next.
    async fn check_agent(
        &self,
        item: &Value,
        recomputes: &mut HashMap<(Address, Address), Recompute>,
    ) -> anyhow::Result<(Vec<Fact>, Vec<Value>, Vec<Value>)> {
        let agent_id = U256::from_api(&item["agent"]["agent_id"]);
        let identity = Address::from_api(&item["agent"]["identity_registry"]);
        let mut f = Fact::new(Kind::Agent, text(&item["agent"]["agent_id"]));
        let (Some(agent_id), Some(identity)) = (agent_id, identity) else {
            f.differ("agent", &item["agent"], "an agent id and identity registry");
            return Ok((vec![f], vec![], vec![]));
        };
        if let Some(pin) = self.args.identity_registry
            && pin != identity
        {
            f.differ("identity_registry", Json(identity), format!("{} (the pinned identity registry)", Json(pin)));
        }
        let mut facts = Vec::new();
        let registry = IIdentityRegistry::new(identity, self.chain.provider());
        let base = format!("/v1/agents/{}/{agent_id}", self.chain_id);
        let registry_query = vec![("registry", alloy::hex::encode_prefixed(identity))];
        let Some(d) = self.api.get(&base, &registry_query).await? else {
            let owner = view(registry.ownerOf(agent_id).call().await, "ownerOf")?;
            let chain =
                owner.map_or_else(|instead| format!("the contract {instead}"), |o| format!("owned by {}", Json(o)));
            f.differ("(agent)", "not found (HTTP 404)", chain);
            return Ok((vec![f], vec![], vec![]));
        };

        // Identity: the registration event, and the current owner, URI, wallet and model binding from the views.
        if let Some((e, _)) = f
            .event::<IIdentityRegistry::Registered>(&self.chain, "registered.", &d["registered"], Some(identity))
            .await?
        {
            f.field("agent_id", &d["agent_id"], e.agentId);
        }
        let owner = match view(registry.ownerOf(agent_id).call().await, "ownerOf")? {
            Ok(owner) => owner,
            Err(_) => Address::ZERO,
        };
        f.field("owner", &d["owner"], owner);
        let uri = view(registry.tokenURI(agent_id).call().await, "tokenURI")?;
        if let Some(uri) = f.answer("agent_uri", &d["agent_uri"], uri) {
            f.field("agent_uri", &d["agent_uri"], uri);
        }
        let wallet = view(registry.getAgentWallet(agent_id).call().await, "getAgentWallet")?;
        if let Some(wallet) = f.answer("wallet", &d["wallet"], wallet) {
            f.field("wallet", &d["wallet"], nonzero_address(wallet));
        }
        let model = view(registry.modelVersion(agent_id).call().await, "modelVersion")?;
        if let Some(model) = f.answer("model.version_hash", &d["model"]["version_hash"], model) {
            f.field("model.version_hash", &d["model"]["version_hash"], nonzero_hash(model));
            if !d["model"].is_null() {
                self.check_binding(&mut f, &d["model"], agent_id, identity).await?;
            }
        }
        self.check_sources(&mut f, &d, identity).await?;

        // Reputation: every algorithm recomputed from the chain's logs, and the feedback counts from the same logs.
        let reputation = Address::from_api(&d["reputation_registry"]);
        if let Some(reputation) = reputation {
            self.saw_address("reputation registry", reputation);
            let linked = view(
                IReputationRegistry::new(reputation, self.chain.provider()).getIdentityRegistry().call().await,
                "getIdentityRegistry",
            )?;
            let linked = f.answer("reputation_registry", &d["reputation_registry"], linked);
            if linked != Some(identity) {
                if let Some(linked) = linked {
                    let chain = format!("{} rates the agents of identity registry {}", Json(reputation), Json(linked));
                    f.differ("reputation_registry", &d["reputation_registry"], chain);
                }
            } else {
                let recompute = match recomputes.entry((identity, reputation)) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(Recompute::new(
                        self.chain.provider().clone(),
                        identity,
                        reputation,
                        self.args.from_block,
                    )?),
                };
                let mut counted = None;
                for &algorithm in &self.args.algorithms {
                    let mut r = Fact::new(Kind::Reputation, format!("agent {agent_id} {algorithm}"));
                    let checked = recompute
                        .check(self.chain_id, agent_id, algorithm, &ScoreArgs::default(), Some(self.api.base()), None)
                        .await?;
                    if let Some(why) = &checked.not_registered {
                        r.differ("agent", "scored", why);
                    }
                    if let Some(why) = checked.api.as_ref().and_then(|a| a.mismatch.as_ref()) {
                        r.differ("agent", "answered", why);
                    }
                    let api = checked.api.as_ref().map(|a| flatten(&a.score)).unwrap_or_default();
                    let chain = flatten(&checked.chain);
                    for path in chain.keys().chain(api.keys()).collect::<BTreeSet<_>>() {
                        let (c, a) = (chain.get(path), api.get(path));
                        if c != a {
                            let absent = "(absent)".to_owned();
                            r.differ(format!("score.{path}"), a.unwrap_or(&absent), c.unwrap_or(&absent));
                        }
                    }
                    counted.get_or_insert(checked.blocks);
                    facts.push(r);
                }
                if let Some(blocks) = counted {
                    let records: Vec<_> =
                        recompute.loaded[&blocks].feedback.iter().filter(|r| r.agent_id == agent_id).collect();
                    let counts = &d["feedback"];
                    f.field("feedback.total", &counts["total"], records.len() as u64);
                    f.field(
                        "feedback.revoked",
                        &counts["revoked"],
                        records.iter().filter(|r| r.revoked).count() as u64,
                    );
                    f.field(
                        "feedback.verified",
                        &counts["verified"],
                        records.iter().filter(|r| r.verified).count() as u64,
                    );
                    let clients = records.iter().map(|r| r.client).collect::<BTreeSet<_>>().len() as u64;
                    f.field("feedback.distinct_clients", &counts["distinct_clients"], clients);
                }
            }
        }

        // Feedback and validations as listed, to be sampled.
        let mut feedback = Vec::new();
        if let Some(reputation) = reputation {
            let mut q = registry_query.clone();
            q.push(("reputation_registry", alloy::hex::encode_prefixed(reputation)));
            for mut item in self.api.list(&format!("{base}/feedback"), &q).await? {
                item["agent_id"] = Value::from(agent_id.to_string());
                item["identity_registry"] = Value::from(alloy::hex::encode_prefixed(identity));
                feedback.push(item);
            }
        }
        let mut validations = Vec::new();
        let page = self
            .api
            .get(
                &format!("{base}/validations"),
                &[("registry", alloy::hex::encode_prefixed(identity)), ("limit", "1".into())],
            )
            .await?;
        let registries: Vec<Address> = page
            .as_ref()
            .and_then(|p| p["validation_registries"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Address::from_api)
            .collect();
        for &validation in &registries {
            self.saw_address("validation registry", validation);
        }
        if page.is_some() {
            for mut item in self.api.list(&format!("{base}/validations"), &registry_query).await? {
                item["agent_id"] = Value::from(agent_id.to_string());
                validations.push(item);
            }
        }
        self.check_validation_counts(&mut f, &d["validations"], agent_id, identity, &registries).await?;
        facts.insert(0, f);
        Ok((facts, feedback, validations))
    }

    /// The model binding: its `MetadataSet` event, and its status against the version's registry.
    async fn check_binding(
        &self,
        f: &mut Fact,
        model: &Value,
        agent_id: U256,
        identity: Address,
    ) -> anyhow::Result<()> {
        let set =
            f.event::<IIdentityRegistry::MetadataSet>(&self.chain, "model.", &model["chain"], Some(identity)).await?;
        if let Some((e, _)) = set {
            f.field("model.agent_id", &Value::from(agent_id.to_string()), e.agentId);
            if e.metadataKey != MODEL_VERSION_KEY {
                f.differ(
                    "model.chain.event",
                    Json(MODEL_VERSION_KEY),
                    format!("metadata key {}", e.metadataKey.render()),
                );
            }
            let value = B256::try_from(e.metadataValue.as_ref()).ok();
            f.field("model.version_hash", &model["version_hash"], value.unwrap_or_default());
        }
        let Some(version_hash) = B256::from_api(&model["version_hash"]) else { return Ok(()) };
        let registry = match Address::from_api(&model["version"]["chain"]["contract"]).or(self.args.registry) {
            Some(registry) => registry,
            None => return Ok(()),
        };
        let contract = IProvenanceRegistry::new(registry, self.chain.provider());
        let stored = view(contract.getModelVersion(version_hash).call().await, "getModelVersion")?;
        let Some(stored) = f.answer("model.status", &model["status"], stored) else { return Ok(()) };
        let status = if stored.registeredAt == 0 {
            "not_registered"
        } else if stored.revokedAt != 0 {
            "revoked"
        } else {
            let compromised =
                view(contract.isSignedByCompromisedKey(version_hash).call().await, "isSignedByCompromisedKey")?;
            match f.answer("model.status", &model["status"], compromised) {
                Some(true) => "signed_by_compromised_key",
                Some(false) => "registered",
                None => return Ok(()),
            }
        };
        f.field("model.status", &model["status"], status.to_owned());
        Ok(())
    }

    /// The events the current URI, owner and wallet come from (`d` is the agent as the API gives it).
    async fn check_sources(&self, f: &mut Fact, d: &Value, identity: Address) -> anyhow::Result<()> {
        use IIdentityRegistry::{MetadataSet, Registered, Transfer, URIUpdated};
        let (sources, pin) = (&d["sources"], Some(identity));
        if let Some(at) = f.log(&self.chain, "sources.agent_uri.", &sources["agent_uri"], pin).await? {
            let uri = prova_chain::decode::<URIUpdated>(&at.log)
                .map(|e| e.newURI)
                .or_else(|| prova_chain::decode::<Registered>(&at.log).map(|e| e.agentURI));
            match uri {
                Some(uri) => f.field("sources.agent_uri (its URI)", &d["agent_uri"], uri),
                None => f.differ(
                    "sources.agent_uri.chain.event",
                    Json("URIUpdated or Registered"),
                    prova_chain::describe_log(&at.log),
                ),
            }
        }
        if let Some(at) = f.log(&self.chain, "sources.owner.", &sources["owner"], pin).await? {
            let owner = prova_chain::decode::<Transfer>(&at.log)
                .map(|e| e.to)
                .or_else(|| prova_chain::decode::<Registered>(&at.log).map(|e| e.owner));
            match owner {
                Some(owner) => f.field("sources.owner (its owner)", &d["owner"], owner),
                None => f.differ(
                    "sources.owner.chain.event",
                    Json("Transfer or Registered"),
                    prova_chain::describe_log(&at.log),
                ),
            }
        }
        if !sources["wallet"].is_null()
            && let Some(at) = f.log(&self.chain, "sources.wallet.", &sources["wallet"], pin).await?
        {
            let wallet_set =
                prova_chain::decode::<MetadataSet>(&at.log).is_some_and(|e| e.metadataKey == AGENT_WALLET_KEY);
            if !wallet_set && prova_chain::decode::<Transfer>(&at.log).is_none() {
                let stated = Json("MetadataSet(agentWallet) or Transfer");
                f.differ("sources.wallet.chain.event", stated, prova_chain::describe_log(&at.log));
            }
        }
        Ok(())
    }

    /// Validation counts from the validation registries' views.
    async fn check_validation_counts(
        &self,
        f: &mut Fact,
        counts: &Value,
        agent_id: U256,
        identity: Address,
        registries: &[Address],
    ) -> anyhow::Result<()> {
        let (mut requests, mut responded, mut sum) = (0u64, 0u64, 0f64);
        for &validation in registries {
            let contract = IValidationRegistry::new(validation, self.chain.provider());
            let linked = view(contract.getIdentityRegistry().call().await, "getIdentityRegistry")?;
            match f.answer("validations", counts, linked) {
                Some(linked) if linked == identity => {}
                Some(linked) => {
                    let chain =
                        format!("{} validates the agents of identity registry {}", Json(validation), Json(linked));
                    f.differ("validation_registries", Json(validation), chain);
                    continue;
                }
                None => continue,
            }
            let hashes = view(contract.getAgentValidations(agent_id).call().await, "getAgentValidations")?;
            let Some(hashes) = f.answer("validations.requests", &counts["requests"], hashes) else { continue };
            for hash in hashes {
                requests += 1;
                let status = view(contract.getValidationStatus(hash).call().await, "getValidationStatus")?;
                if let Some(status) = f.answer("validations.responded", &counts["responded"], status)
                    && status.lastUpdate != U256::ZERO
                {
                    responded += 1;
                    sum += f64::from(status.response);
                }
            }
        }
        f.field("validations.requests", &counts["requests"], requests);
        f.field("validations.responded", &counts["responded"], responded);
        let average = (responded > 0).then(|| sum / responded as f64);
        f.field("validations.average_response", &counts["average_response"], Mean(average));
        Ok(())
    }

    async fn check_feedback(&self, item: &Value) -> anyhow::Result<Fact> {
        let agent_id = U256::from_api(&item["agent_id"]).unwrap_or_default();
        let id = format!("agent {agent_id} client {} #{}", text(&item["client"]), item["feedback_index"]);
        let mut f = Fact::new(Kind::Feedback, id);
        let Some((e, at)) = f.event::<IReputationRegistry::NewFeedback>(&self.chain, "", &item["chain"], None).await?
        else {
            return Ok(f);
        };
        f.field("agent_id", &item["agent_id"], e.agentId);
        f.field("client", &item["client"], e.clientAddress);
        f.field("feedback_index", &item["feedback_index"], e.feedbackIndex);
        f.field("value", &item["value"], e.value);
        f.field("value_decimals", &item["value_decimals"], u64::from(e.valueDecimals));
        f.field("tag1", &item["tag1"], e.tag1.clone());
        f.field("tag2", &item["tag2"], e.tag2.clone());
        f.field("endpoint", &item["endpoint"], e.endpoint.clone());
        f.field("feedback_uri", &item["feedback_uri"], e.feedbackURI.clone());
        f.field("feedback_hash", &item["feedback_hash"], e.feedbackHash);
        f.field("given_at", &item["given_at"], Time(at.block_time));

        let contract = IReputationRegistry::new(at.contract(), self.chain.provider());
        let (agent, client, index) = (e.agentId, e.clientAddress, e.feedbackIndex);
        let stored = view(contract.readFeedback(agent, client, index).call().await, "readFeedback")?;
        if let Some(stored) = f.answer("revoked", &item["revoked"], stored) {
            f.field("revoked", &item["revoked"], stored.isRevoked);
            if stored.isRevoked && !item["revocation"].is_null() {
                let revoked = f
                    .event::<IReputationRegistry::FeedbackRevoked>(
                        &self.chain,
                        "revocation.",
                        &item["revocation"]["chain"],
                        Some(at.contract()),
                    )
                    .await?;
                if let Some((r, _)) = revoked
                    && (r.agentId, r.clientAddress, r.feedbackIndex) != (agent, client, index)
                {
                    let chain =
                        format!("revokes agent {} client {} #{}", r.agentId, Json(r.clientAddress), r.feedbackIndex);
                    f.differ("revocation.chain", &item["revocation"]["chain"], chain);
                }
            }
        }
        let verified = view(contract.isVerified(agent, client, index).call().await, "isVerified")?;
        if let Some(verified) = f.answer("verified", &item["verified"], verified) {
            f.field("verified", &item["verified"], verified);
            let verification = &item["verification"];
            if verified && !verification.is_null() {
                let event = f
                    .event::<IReputationRegistry::VerifiedFeedback>(
                        &self.chain,
                        "verification.",
                        &verification["chain"],
                        Some(at.contract()),
                    )
                    .await?;
                if let Some((v, _)) = event {
                    if (v.agentId, v.clientAddress, v.feedbackIndex) != (agent, client, index) {
                        let chain = format!(
                            "verifies agent {} client {} #{}",
                            v.agentId,
                            Json(v.clientAddress),
                            v.feedbackIndex
                        );
                        f.differ("verification.chain", &verification["chain"], chain);
                    }
                    f.field("verification.interaction_hash", &verification["interaction_hash"], v.interactionHash);
                    f.field("verification.signer", &verification["signer"], v.signer);
                }
            }
        }
        let responses =
            view(contract.getResponseCount(agent, client, index, Vec::new()).call().await, "getResponseCount")?;
        if let Some(responses) = f.answer("responses", &item["responses"], responses) {
            f.field("responses", &item["responses"], responses);
        }
        Ok(f)
    }

    async fn check_validation(&self, item: &Value) -> anyhow::Result<Fact> {
        let mut f = Fact::new(Kind::Validation, format!("request {}", text(&item["request_hash"])));
        let Some((e, at)) =
            f.event::<IValidationRegistry::ValidationRequest>(&self.chain, "", &item["chain"], None).await?
        else {
            return Ok(f);
        };
        f.field("agent_id", &item["agent_id"], e.agentId);
        f.field("validator", &item["validator"], e.validatorAddress);
        f.field("request_uri", &item["request_uri"], e.requestURI.clone());
        f.field("request_hash", &item["request_hash"], e.requestHash);
        f.field("requested_at", &item["requested_at"], Time(at.block_time));

        let contract = IValidationRegistry::new(at.contract(), self.chain.provider());
        let status = view(contract.getValidationStatus(e.requestHash).call().await, "getValidationStatus")?;
        let response = &item["response"];
        let Some(status) = f.answer("response", response, status) else { return Ok(f) };
        match (response.is_null(), status.lastUpdate == U256::ZERO) {
            (true, true) => {}
            (true, false) => {
                f.differ("response", response, format!("answered {} (tag {})", status.response, status.tag.render()));
            }
            (false, true) => f.differ("response", response, "null (not answered)"),
            (false, false) => {
                f.field("response.response", &response["response"], u64::from(status.response));
                f.field("response.response_hash", &response["response_hash"], status.responseHash);
                f.field("response.tag", &response["tag"], status.tag.clone());
                let event = f
                    .event::<IValidationRegistry::ValidationResponse>(
                        &self.chain,
                        "response.",
                        &response["chain"],
                        Some(at.contract()),
                    )
                    .await?;
                if let Some((r, _)) = event {
                    f.field("response.request_hash", &item["request_hash"], r.requestHash);
                    f.field("response.response_uri", &response["response_uri"], r.responseURI);
                }
            }
        }
        Ok(f)
    }

    // --------------------------------------------------------------------------------------------------------------
    // Report
    // --------------------------------------------------------------------------------------------------------------

    fn json(&self, facts: &[Fact]) -> Value {
        let summary: Vec<Value> = Kind::ALL
            .iter()
            .map(|&kind| {
                let of_kind = facts.iter().filter(|f| f.kind == kind);
                serde_json::json!({
                    "kind": kind.plural(),
                    "checked": of_kind.clone().count(),
                    "mismatched": of_kind.filter(|f| !f.differences.is_empty()).count(),
                })
            })
            .collect();
        let mut wrong: Vec<&Fact> = facts.iter().filter(|f| !f.differences.is_empty()).collect();
        wrong.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        let mismatches: Vec<Value> = wrong
            .iter()
            .flat_map(|f| {
                f.differences.iter().map(|d| {
                    serde_json::json!({
                        "kind": f.kind.singular(), "id": f.id, "field": d.field, "api": d.stated, "chain": d.chain,
                    })
                })
            })
            .collect();
        let contracts: BTreeMap<&str, Vec<String>> = self
            .contracts
            .lock()
            .expect("contracts")
            .iter()
            .map(|(role, c)| (*role, c.iter().map(alloy::hex::encode_prefixed).collect()))
            .collect();
        serde_json::json!({
            "verified": mismatches.is_empty(),
            "api": self.api.base(),
            "rpc": self.args.rpc_url,
            "chain_id": self.chain_id,
            "sample": self.args.sample,
            "seed": self.args.sample.map(|_| self.seed),
            "contracts": contracts,
            "summary": summary,
            "mismatches": mismatches,
            "notes": self.notes,
        })
    }

    fn print(&self, facts: &[Fact]) {
        let sample = match self.args.sample {
            Some(n) => format!("a random sample of up to {n} per kind (--seed {})", self.seed),
            None => "every fact".into(),
        };
        println!("api           {}", self.api.base());
        println!("rpc           {} (chain {})", self.args.rpc_url, self.chain_id);
        println!("checked       {sample}");
        for (role, contracts) in self.contracts.lock().expect("contracts").iter() {
            let list = contracts.iter().map(alloy::hex::encode_prefixed).collect::<Vec<_>>().join(", ");
            println!("{role:<22} {list}");
        }
        for note in &self.notes {
            println!("note          {note}");
        }
        println!();
        println!("{:<20} {:>8} {:>11}", "kind", "checked", "mismatched");
        for kind in Kind::ALL {
            let of_kind = facts.iter().filter(|f| f.kind == kind);
            let checked = of_kind.clone().count();
            let mismatched = of_kind.filter(|f| !f.differences.is_empty()).count();
            println!("{:<20} {checked:>8} {mismatched:>11}", kind.plural());
        }
        let mut wrong: Vec<&Fact> = facts.iter().filter(|f| !f.differences.is_empty()).collect();
        wrong.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        if !wrong.is_empty() {
            println!();
        }
        for fact in &wrong {
            for d in &fact.differences {
                println!("{} {}: {}: api {} != chain {}", fact.kind.singular(), fact.id, d.field, d.stated, d.chain);
            }
        }
        println!();
        if wrong.is_empty() {
            println!("VERIFIED: every checked fact of the API matches the chain");
        } else {
            let n: usize = wrong.iter().map(|f| f.differences.len()).sum();
            println!("NOT VERIFIED: {n} mismatch(es) in {} fact(s)", wrong.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_compare_as_the_api_writes_them() {
        let mut f = Fact::new(Kind::ModelVersion, "0xab");
        let address = Address::repeat_byte(0xab);
        f.field(
            "publisher",
            &Value::from(alloy::hex::encode_prefixed(address).to_uppercase().replace("0X", "0x")),
            address,
        );
        f.field("parent", &Value::Null, None::<B256>);
        f.field("value", &Value::from("-12"), -12i128);
        f.field("registered_at", &Value::from("2023-11-14T22:13:20Z"), Time(1_700_000_000));
        f.field("average", &Value::from(85.0), Mean(Some(85.000_000_000_000_01)));
        assert!(f.differences.is_empty(), "{:?}", f.differences);

        f.field("metadata_uri", &Value::from("ipfs://x"), "ipfs://y".to_owned());
        f.field("parent", &Value::Null, Some(B256::repeat_byte(1)));
        f.field("leaf_count", &Value::from("7"), 8u64);
        let shown: Vec<String> =
            f.differences.iter().map(|d| format!("{}: api {} != chain {}", d.field, d.stated, d.chain)).collect();
        assert_eq!(shown[0], r#"metadata_uri: api "ipfs://x" != chain "ipfs://y""#);
        assert_eq!(shown[1], format!("parent: api null != chain \"0x{}\"", "01".repeat(32)));
        assert_eq!(shown[2], r#"leaf_count: api "7" != chain 8"#);
    }

    #[test]
    fn pointers_need_every_coordinate() {
        let mut pointer = serde_json::json!({
            "chain_id": 31337, "contract": "0x5fbdb2315678afecb367f032d93f642f64180aa3", "block_number": 5,
            "block_hash": format!("0x{}", "11".repeat(32)), "block_time": "2023-11-14T22:13:20Z",
            "tx_hash": format!("0x{}", "22".repeat(32)), "log_index": 3,
        });
        let p = parse_pointer(&pointer).unwrap();
        assert_eq!((p.block_number, p.log_index, p.block_time), (5, 3, Some(1_700_000_000)));
        pointer["tx_hash"] = Value::Null;
        assert!(parse_pointer(&pointer).is_none());
    }
}
