//! The ERC-8004 facts of an audit: an agent's identity (registration event, the identity registry's views of owner,
//! URI, wallet and model binding, and the events the API says those come from), its reputation scores recomputed
//! from raw logs ([`crate::reputation`]) with its feedback counts, its validation counts, and each of its feedback
//! entries and validation requests against its event and the registries' views.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, B256, U256};
use prova_chain::{decode, describe_log, view};
use prova_core::bindings::{AGENT_WALLET_KEY, MODEL_VERSION_KEY};
use prova_core::bindings::{IIdentityRegistry, IReputationRegistry, IValidationRegistry};
use prova_views::ValidationPage;
use prova_views::{Agent, AgentItem, FeedbackItem, ModelBinding, ModelStatus, ValidationCounts, ValidationItem};

use super::Auditor;
use super::client::Listed;
use super::fact::{ApiValue, Fact, Json, Kind, Mean, Time, json, nonzero_address, nonzero_hash};
use crate::error::Result;
use crate::reputation::{Recompute, ScoreOptions, flatten};

/// A feedback entry as the agent's feedback list gives it, with the agent it was listed for.
#[derive(Debug)]
pub(super) struct FeedbackToCheck {
    /// The agent whose list holds it.
    agent_id: U256,
    /// The entry.
    item: Listed<FeedbackItem>,
}

/// A validation request as the agent's validation list gives it, with the agent it was listed for.
#[derive(Debug)]
pub(super) struct ValidationToCheck {
    /// The agent whose list holds it.
    agent_id: U256,
    /// The request.
    item: Listed<ValidationItem>,
}

/// What checking one agent gives: its facts (the agent, then its reputation scores), and its feedback and
/// validations as listed, to be sampled and checked next.
#[derive(Debug, Default)]
pub(super) struct AgentChecked {
    /// The agent's fact first, then one per algorithm.
    pub(super) facts: Vec<Fact>,
    /// Its feedback entries.
    pub(super) feedback: Vec<FeedbackToCheck>,
    /// Its validation requests.
    pub(super) validations: Vec<ValidationToCheck>,
}

impl AgentChecked {
    fn only(fact: Fact) -> Self {
        Self { facts: vec![fact], ..Self::default() }
    }
}

impl Auditor<'_> {
    /// Checks an agent and its reputation scores; lists its feedback and validations.
    pub(super) async fn check_agent(
        &self,
        item: &Listed<AgentItem>,
        recomputes: &mut BTreeMap<(Address, Address), Recompute>,
    ) -> Result<AgentChecked> {
        let item = match item {
            Ok(item) => item,
            Err(bad) => return Ok(AgentChecked::only(Fact::unreadable_item(Kind::Agent, bad))),
        };
        let (agent_id, identity) = (item.agent.agent_id, item.agent.identity_registry);
        let mut f = Fact::new(Kind::Agent, agent_id);
        if let Some(pin) = self.options.identity_registry
            && pin != identity
        {
            f.differ("identity_registry", Json(identity), format!("{} (the pinned identity registry)", Json(pin)));
        }
        let registry = IIdentityRegistry::new(identity, self.chain.provider());
        let base = format!("/v1/agents/{}/{agent_id}", self.chain_id);
        let registry_query = vec![("registry", alloy::hex::encode_prefixed(identity))];
        let Some(answer) = self.api.get(&base, &registry_query).await? else {
            let owner = view(registry.ownerOf(agent_id).call().await, "ownerOf")?;
            let chain =
                owner.map_or_else(|instead| format!("the contract {instead}"), |o| format!("owned by {}", Json(o)));
            f.differ("(agent)", "not found (HTTP 404)", chain);
            return Ok(AgentChecked::only(f));
        };
        let Some(d) = f.readable("(answer)", answer.parse::<Agent>())? else { return Ok(AgentChecked::only(f)) };

        // Identity: the registration event, and the current owner, URI, wallet and model binding from the views.
        if let Some((e, _)) =
            f.event::<IIdentityRegistry::Registered>(&self.chain, "registered.", &d.registered, Some(identity)).await?
        {
            f.field("agent_id", &d.agent.agent_id, e.agentId);
        }
        let owner = view(registry.ownerOf(agent_id).call().await, "ownerOf")?.unwrap_or(Address::ZERO);
        f.field("owner", &d.owner, owner);
        let uri = view(registry.tokenURI(agent_id).call().await, "tokenURI")?;
        if let Some(uri) = f.answer("agent_uri", &d.agent_uri, uri) {
            f.field("agent_uri", &d.agent_uri, uri);
        }
        let wallet = view(registry.getAgentWallet(agent_id).call().await, "getAgentWallet")?;
        if let Some(wallet) = f.answer("wallet", &d.wallet, wallet) {
            f.field("wallet", &d.wallet, nonzero_address(wallet));
        }
        let model = view(registry.modelVersion(agent_id).call().await, "modelVersion")?;
        let bound = d.model.as_ref().map(|m| m.version_hash);
        if let Some(model) = f.answer("model.version_hash", &bound, model) {
            f.field("model.version_hash", &bound, nonzero_hash(model));
            if let Some(binding) = &d.model {
                self.check_binding(&mut f, binding, agent_id, identity).await?;
            }
        }
        self.check_sources(&mut f, &d, identity).await?;

        // Reputation: every algorithm recomputed from the chain's logs, and the feedback counts from the same logs.
        let mut scores = Vec::new();
        if let Some(reputation) = d.reputation_registry {
            self.saw("reputation registry", reputation);
            let linked = view(
                IReputationRegistry::new(reputation, self.chain.provider()).getIdentityRegistry().call().await,
                "getIdentityRegistry",
            )?;
            match f.answer("reputation_registry", &d.reputation_registry, linked) {
                Some(linked) if linked == identity => {
                    let recompute = recomputes.entry((identity, reputation)).or_insert_with(|| {
                        Recompute::new(self.chain.provider().clone(), identity, reputation, self.options.from_block)
                    });
                    scores = self.check_scores(&mut f, &d, recompute).await?;
                }
                Some(linked) => {
                    let chain = format!("{} rates the agents of identity registry {}", Json(reputation), Json(linked));
                    f.differ("reputation_registry", json(&d.reputation_registry), chain);
                }
                None => {}
            }
        }

        // Feedback and validations as listed, to be sampled.
        let mut feedback = Vec::new();
        if let Some(reputation) = d.reputation_registry {
            let mut q = registry_query.clone();
            q.push(("reputation_registry", alloy::hex::encode_prefixed(reputation)));
            for item in self.api.list::<FeedbackItem>(&format!("{base}/feedback"), &q).await? {
                feedback.push(FeedbackToCheck { agent_id, item });
            }
        }
        let mut validations = Vec::new();
        let first = [("registry", alloy::hex::encode_prefixed(identity)), ("limit", "1".into())];
        let page = self.api.get(&format!("{base}/validations"), &first).await?;
        let registries = match &page {
            Some(answer) => f
                .readable("validation_registries", answer.parse::<ValidationPage>())?
                .map(|page| page.validation_registries)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        for &validation in &registries {
            self.saw("validation registry", validation);
        }
        if page.is_some() {
            for item in self.api.list::<ValidationItem>(&format!("{base}/validations"), &registry_query).await? {
                validations.push(ValidationToCheck { agent_id, item });
            }
        }
        self.check_validation_counts(&mut f, &d.validations, agent_id, identity, &registries).await?;
        let mut facts = vec![f];
        facts.extend(scores);
        Ok(AgentChecked { facts, feedback, validations })
    }

    /// One fact per algorithm: the API's score against the score recomputed from chain logs; and the agent's
    /// feedback counts (in `f`) against the same logs.
    async fn check_scores(&self, f: &mut Fact, d: &Agent, recompute: &mut Recompute) -> Result<Vec<Fact>> {
        let agent_id = d.agent.agent_id;
        let mut facts = Vec::new();
        let mut counted = None;
        for &algorithm in &self.options.algorithms {
            let mut r = Fact::new(Kind::Reputation, format!("agent {agent_id} {algorithm}"));
            let options = ScoreOptions::default();
            let checked = recompute.check(self.chain_id, agent_id, algorithm, &options, Some(self.api), None).await;
            if let Some(checked) = r.readable("(answer)", checked)? {
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
            }
            facts.push(r);
        }
        if let Some(blocks) = counted {
            let records: Vec<_> =
                recompute.loaded[&blocks].feedback.iter().filter(|r| r.agent_id == agent_id).collect();
            let counts = &d.feedback;
            f.field("feedback.total", &counts.total, records.len() as u64);
            f.field("feedback.revoked", &counts.revoked, records.iter().filter(|r| r.revoked).count() as u64);
            f.field("feedback.verified", &counts.verified, records.iter().filter(|r| r.verified).count() as u64);
            let clients = records.iter().map(|r| r.client).collect::<BTreeSet<_>>().len() as u64;
            f.field("feedback.distinct_clients", &counts.distinct_clients, clients);
        }
        Ok(facts)
    }

    /// The model binding: its `MetadataSet` event, and its status against the version's registry.
    async fn check_binding(&self, f: &mut Fact, model: &ModelBinding, agent_id: U256, identity: Address) -> Result<()> {
        let set =
            f.event::<IIdentityRegistry::MetadataSet>(&self.chain, "model.", &model.chain, Some(identity)).await?;
        if let Some((e, _)) = set {
            f.field("model.agent_id", &agent_id, e.agentId);
            if e.metadataKey != MODEL_VERSION_KEY {
                f.differ(
                    "model.chain.event",
                    Json(MODEL_VERSION_KEY),
                    format!("metadata key {}", e.metadataKey.render()),
                );
            }
            let value = B256::try_from(e.metadataValue.as_ref()).ok();
            f.field("model.version_hash", &model.version_hash, value.unwrap_or_default());
        }
        let version_hash = model.version_hash;
        let Some(registry) = model.claims.first().map(|v| v.chain.contract).or(self.options.registry) else {
            return Ok(());
        };
        if model.claimed_by != "agent_owner" {
            f.differ("model.claimed_by", json(&model.claimed_by), json(&"agent_owner"));
        }
        // Every claim of the hash, read from the chain alone; the binding's status is computed from them.
        let verdict =
            crate::model::verify_model_version(self.chain.provider(), registry, version_hash, None, None).await;
        let claims = match verdict {
            Ok(verdict) => verdict.claims,
            Err(error) => {
                f.differ("model.status", Json(model.status), format!("unreadable from the chain ({error})"));
                return Ok(());
            }
        };
        let listed: Vec<Address> = model.claims.iter().map(|c| c.publisher).collect();
        let on_chain: Vec<Address> = claims.iter().map(|c| c.publisher).collect();
        f.field("model.claims.publisher", &listed, on_chain);
        let status = if claims.is_empty() {
            ModelStatus::NotRegistered
        } else if claims.iter().any(|c| c.problem().is_none()) {
            ModelStatus::Registered
        } else if claims.iter().all(|c| c.revoked_at != 0) {
            ModelStatus::Revoked
        } else {
            ModelStatus::SignedByCompromisedKey
        };
        f.field("model.status", &model.status, status);
        Ok(())
    }

    /// The events the current URI, owner and wallet come from (`d` is the agent as the API gives it).
    async fn check_sources(&self, f: &mut Fact, d: &Agent, identity: Address) -> Result<()> {
        use IIdentityRegistry::{MetadataSet, Registered, Transfer, URIUpdated};
        let (sources, pin) = (&d.sources, Some(identity));
        if let Some(at) = f.log(&self.chain, "sources.agent_uri.", &sources.agent_uri, pin).await? {
            let uri = decode::<URIUpdated>(&at.log)
                .map(|e| e.newURI)
                .or_else(|| decode::<Registered>(&at.log).map(|e| e.agentURI));
            match uri {
                Some(uri) => f.field("sources.agent_uri (its URI)", &d.agent_uri, uri),
                None => {
                    let stated = Json("URIUpdated or Registered");
                    f.differ("sources.agent_uri.chain.event", stated, describe_log(&at.log));
                }
            }
        }
        if let Some(at) = f.log(&self.chain, "sources.owner.", &sources.owner, pin).await? {
            let owner =
                decode::<Transfer>(&at.log).map(|e| e.to).or_else(|| decode::<Registered>(&at.log).map(|e| e.owner));
            match owner {
                Some(owner) => f.field("sources.owner (its owner)", &d.owner, owner),
                None => f.differ("sources.owner.chain.event", Json("Transfer or Registered"), describe_log(&at.log)),
            }
        }
        if let Some(wallet) = &sources.wallet
            && let Some(at) = f.log(&self.chain, "sources.wallet.", wallet, pin).await?
        {
            let wallet_set = decode::<MetadataSet>(&at.log).is_some_and(|e| e.metadataKey == AGENT_WALLET_KEY);
            if !wallet_set && decode::<Transfer>(&at.log).is_none() {
                let stated = Json("MetadataSet(agentWallet) or Transfer");
                f.differ("sources.wallet.chain.event", stated, describe_log(&at.log));
            }
        }
        Ok(())
    }

    /// Validation counts from the validation registries' views.
    async fn check_validation_counts(
        &self,
        f: &mut Fact,
        counts: &ValidationCounts,
        agent_id: U256,
        identity: Address,
        registries: &[Address],
    ) -> Result<()> {
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
            let Some(hashes) = f.answer("validations.requests", &counts.requests, hashes) else { continue };
            for hash in hashes {
                requests += 1;
                let status = view(contract.getValidationStatus(hash).call().await, "getValidationStatus")?;
                let answered = view(contract.hasResponse(hash).call().await, "hasResponse")?;
                if let Some(status) = f.answer("validations.responded", &counts.responded, status)
                    && f.answer("validations.responded", &counts.responded, answered) == Some(true)
                {
                    responded += 1;
                    sum += f64::from(status.response);
                }
            }
        }
        f.field("validations.requests", &counts.requests, requests);
        f.field("validations.responded", &counts.responded, responded);
        let average = (responded > 0).then(|| sum / responded as f64);
        f.field("validations.average_response", &Mean(counts.average_response), Mean(average));
        Ok(())
    }

    pub(super) async fn check_feedback(&self, listed: &FeedbackToCheck) -> Result<Fact> {
        let FeedbackToCheck { agent_id, item } = listed;
        let item = match item {
            Ok(item) => item,
            Err(bad) => return Ok(Fact::unreadable_item(Kind::Feedback, bad)),
        };
        let id = format!("agent {agent_id} client {:#x} #{}", item.client, item.feedback_index);
        let mut f = Fact::new(Kind::Feedback, id);
        let Some((e, at)) = f.event::<IReputationRegistry::NewFeedback>(&self.chain, "", &item.chain, None).await?
        else {
            return Ok(f);
        };
        f.field("agent_id", agent_id, e.agentId);
        f.field("client", &item.client, e.clientAddress);
        f.field("feedback_index", &item.feedback_index, e.feedbackIndex);
        f.parsed("value", &item.value, e.value);
        f.field("value_decimals", &item.value_decimals, e.valueDecimals);
        f.field("tag1", &item.tag1, e.tag1.clone());
        f.field("tag2", &item.tag2, e.tag2.clone());
        f.field("endpoint", &item.endpoint, e.endpoint.clone());
        f.field("feedback_uri", &item.feedback_uri, e.feedbackURI.clone());
        f.field("feedback_hash", &item.feedback_hash, e.feedbackHash);
        f.field("given_at", &Time::from(item.given_at), Time::unix(at.block_time));

        let contract = IReputationRegistry::new(at.contract(), self.chain.provider());
        let (agent, client, index) = (e.agentId, e.clientAddress, e.feedbackIndex);
        let stored = view(contract.readFeedback(agent, client, index).call().await, "readFeedback")?;
        if let Some(stored) = f.answer("revoked", &item.revoked, stored) {
            f.field("revoked", &item.revoked, stored.isRevoked);
            if stored.isRevoked
                && let Some(revocation) = &item.revocation
            {
                let revoked = f
                    .event::<IReputationRegistry::FeedbackRevoked>(
                        &self.chain,
                        "revocation.",
                        &revocation.chain,
                        Some(at.contract()),
                    )
                    .await?;
                if let Some((r, _)) = revoked
                    && (r.agentId, r.clientAddress, r.feedbackIndex) != (agent, client, index)
                {
                    let chain =
                        format!("revokes agent {} client {} #{}", r.agentId, Json(r.clientAddress), r.feedbackIndex);
                    f.differ("revocation.chain", json(&revocation.chain), chain);
                }
            }
        }
        let verified = view(contract.isVerified(agent, client, index).call().await, "isVerified")?;
        if let Some(verified) = f.answer("verified", &item.verified, verified) {
            f.field("verified", &item.verified, verified);
            if verified && let Some(verification) = &item.verification {
                let event = f
                    .event::<IReputationRegistry::VerifiedFeedback>(
                        &self.chain,
                        "verification.",
                        &verification.chain,
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
                        f.differ("verification.chain", json(&verification.chain), chain);
                    }
                    f.field("verification.interaction_hash", &verification.interaction_hash, v.interactionHash);
                    f.field("verification.signer", &verification.signer, v.signer);
                }
            }
        }
        let responses =
            view(contract.getResponseCount(agent, client, index, Vec::new()).call().await, "getResponseCount")?;
        if let Some(responses) = f.answer("responses", &item.responses, responses) {
            f.field("responses", &item.responses, responses);
        }
        Ok(f)
    }

    pub(super) async fn check_validation(&self, listed: &ValidationToCheck) -> Result<Fact> {
        let ValidationToCheck { agent_id, item } = listed;
        let item = match item {
            Ok(item) => item,
            Err(bad) => return Ok(Fact::unreadable_item(Kind::Validation, bad)),
        };
        let mut f = Fact::new(Kind::Validation, format!("request {:#x}", item.request_hash));
        let Some((e, at)) =
            f.event::<IValidationRegistry::ValidationRequest>(&self.chain, "", &item.chain, None).await?
        else {
            return Ok(f);
        };
        f.field("agent_id", agent_id, e.agentId);
        f.field("validator", &item.validator, e.validatorAddress);
        f.field("request_uri", &item.request_uri, e.requestURI.clone());
        f.field("request_hash", &item.request_hash, e.requestHash);
        f.field("requested_at", &Time::from(item.requested_at), Time::unix(at.block_time));

        let contract = IValidationRegistry::new(at.contract(), self.chain.provider());
        let status = view(contract.getValidationStatus(e.requestHash).call().await, "getValidationStatus")?;
        let Some(status) = f.answer("response", &item.response, status) else { return Ok(f) };
        let answered = view(contract.hasResponse(e.requestHash).call().await, "hasResponse")?;
        let Some(answered) = f.answer("response", &item.response, answered) else { return Ok(f) };
        match (&item.response, !answered) {
            (None, true) => {}
            (None, false) => {
                let chain = format!("answered {} (tag {})", status.response, status.tag.render());
                f.differ("response", json(&item.response), chain);
            }
            (Some(_), true) => f.differ("response", json(&item.response), "null (not answered)"),
            (Some(response), false) => {
                f.field("response.response", &response.response, status.response);
                f.field("response.response_hash", &response.response_hash, status.responseHash);
                f.field("response.tag", &response.tag, status.tag.clone());
                let event = f
                    .event::<IValidationRegistry::ValidationResponse>(
                        &self.chain,
                        "response.",
                        &response.chain,
                        Some(at.contract()),
                    )
                    .await?;
                if let Some((r, _)) = event {
                    f.field("response.request_hash", &item.request_hash, r.requestHash);
                    f.field("response.response_uri", &response.response_uri, r.responseURI);
                }
            }
        }
        Ok(f)
    }
}
