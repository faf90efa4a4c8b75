//! The provenance facts of an audit: model versions, output batches, publishers and attestor keys, each checked
//! against its event at the stated pointer and against the ProvenanceRegistry's views (revocations, the publisher's
//! name and admin, the key's status), and a publisher's counts against the registry's logs.

use std::collections::BTreeSet;

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use prova_chain::view;
use prova_core::bindings::IProvenanceRegistry;
use prova_views::{AttestorKey, KeyStatus, ModelVersion, OutputBatch, Publisher};

use super::Auditor;
use super::client::Listed;
use super::fact::{Fact, Json, Kind, Time, json, nonzero_hash};
use crate::error::Result;

/// An attestor key as its publisher's answer lists it, with that publisher.
#[derive(Debug)]
pub(super) struct KeyToCheck {
    /// The publisher whose answer lists the key.
    publisher: Address,
    /// The key.
    key: AttestorKey,
}

impl Auditor<'_> {
    pub(super) async fn check_version(&self, item: &Listed<ModelVersion>) -> Result<Fact> {
        let v = match item {
            Ok(v) => v,
            Err(bad) => return Ok(Fact::unreadable_item(Kind::ModelVersion, bad)),
        };
        let mut f = Fact::new(Kind::ModelVersion, format!("{:#x}", v.version_hash));
        let pin = self.options.registry;
        let Some((e, at)) =
            f.event::<IProvenanceRegistry::ModelVersionRegistered>(&self.chain, "", &v.chain, pin).await?
        else {
            return Ok(f);
        };
        f.field("version_hash", &v.version_hash, e.versionHash);
        f.field("model_id", &v.model_id, e.modelId);
        f.field("model_name", &v.model_name, Some(e.modelName.clone()).filter(|name| !name.is_empty()));
        f.field("publisher", &v.publisher, e.publisher);
        f.field("parent", &v.parent, nonzero_hash(e.parent));
        f.field("attestor", &v.attestor, e.attestor);
        f.field("metadata_uri", &v.metadata_uri, e.metadataURI.clone());
        f.field("metadata_hash", &v.metadata_hash, nonzero_hash(e.metadataHash));
        f.field("registered_at", &Time::from(v.registered_at), Time::unix(at.block_time));
        f.field(
            "committed_at",
            &v.committed_at.map(Time::from),
            (e.committedAt != 0).then(|| Time::unix(e.committedAt)),
        );
        f.field("committed_block", &v.committed_block, (e.committedBlock != 0).then_some(e.committedBlock));
        let block = at.log.block_number.unwrap_or(v.chain.block_number);
        let priority = if e.committedBlock != 0 { e.committedBlock } else { block };
        f.field("priority_block", &v.priority_block, priority);

        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let publisher = view(registry.getPublisher(e.publisher).call().await, "getPublisher")?;
        if let Some(p) = f.answer("publisher_name", &v.publisher_name, publisher) {
            f.field("publisher_name", &v.publisher_name, (p.registeredAt != 0).then_some(p.name));
        }
        let compromised = view(
            registry.isSignedByCompromisedKey(e.publisher, e.versionHash).call().await,
            "isSignedByCompromisedKey",
        )?;
        if let Some(c) = f.answer("signed_by_compromised_key", &v.signed_by_compromised_key, compromised) {
            f.field("signed_by_compromised_key", &v.signed_by_compromised_key, c);
        }
        let stored = view(registry.getModelVersion(e.publisher, e.versionHash).call().await, "getModelVersion")?;
        if let Some(stored) = f.answer("revocation", &v.revocation, stored) {
            let pointer = v.revocation.as_ref().map(|r| &r.chain);
            let checked = f
                .revocation::<IProvenanceRegistry::ModelVersionRevoked>(
                    &self.chain,
                    &v.revocation,
                    pointer,
                    stored.revokedAt,
                    pin,
                )
                .await?;
            if let (Some(r), Some(revocation)) = (checked, &v.revocation) {
                f.field("revocation.version_hash", &v.version_hash, r.versionHash);
                f.field("revocation.reason", &revocation.reason, r.reason);
            }
        }
        Ok(f)
    }

    pub(super) async fn check_batch(&self, item: &Listed<OutputBatch>) -> Result<Fact> {
        let b = match item {
            Ok(b) => b,
            Err(bad) => return Ok(Fact::unreadable_item(Kind::OutputBatch, bad)),
        };
        let mut f = Fact::new(Kind::OutputBatch, format!("{:#x}", b.root));
        let pin = self.options.registry;
        let Some((e, at)) = f.event::<IProvenanceRegistry::OutputsAttested>(&self.chain, "", &b.chain, pin).await?
        else {
            return Ok(f);
        };
        f.field("root", &b.root, e.root);
        f.field("version_hash", &b.version_hash, e.versionHash);
        f.field("publisher", &b.publisher, e.publisher);
        f.field("attestor", &b.attestor, e.attestor);
        f.field("leaf_count", &b.leaf_count, e.leafCount);
        f.field("window_start", &b.window_start, e.windowStart);
        f.field("window_end", &b.window_end, e.windowEnd);
        f.field("batch_uri", &b.batch_uri, e.batchURI.clone());

        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let compromised =
            view(registry.isBatchSignedByCompromisedKey(e.root).call().await, "isBatchSignedByCompromisedKey")?;
        if let Some(c) = f.answer("signed_by_compromised_key", &b.signed_by_compromised_key, compromised) {
            f.field("signed_by_compromised_key", &b.signed_by_compromised_key, c);
        }
        let stored = view(registry.getOutputBatch(e.root).call().await, "getOutputBatch")?;
        if let Some(stored) = f.answer("revocation", &b.revocation, stored) {
            let pointer = b.revocation.as_ref().map(|r| &r.chain);
            let checked = f
                .revocation::<IProvenanceRegistry::OutputBatchRevoked>(
                    &self.chain,
                    &b.revocation,
                    pointer,
                    stored.revokedAt,
                    pin,
                )
                .await?;
            if let (Some(r), Some(revocation)) = (checked, &b.revocation) {
                f.field("revocation.root", &b.root, r.root);
                f.field("revocation.reason", &revocation.reason, r.reason);
            }
        }
        Ok(f)
    }

    /// Checks a publisher; returns its fact and its attestor keys as the API lists them.
    pub(super) async fn check_publisher(
        &self,
        publisher: Address,
        registry: Address,
    ) -> Result<(Fact, Vec<KeyToCheck>)> {
        let mut f = Fact::new(Kind::Publisher, alloy::hex::encode_prefixed(publisher));
        let contract = IProvenanceRegistry::new(registry, self.chain.provider());
        let stored = view(contract.getPublisher(publisher).call().await, "getPublisher")?;
        let Some(answer) = self.api.get(&format!("/v1/publishers/{publisher:#x}"), &self.query()).await? else {
            let chain = match &stored {
                Ok(p) if p.registeredAt != 0 => {
                    format!("registered in {registry:#x} at {}", Json(Time::unix(p.registeredAt)))
                }
                Ok(_) => "not registered either".into(),
                Err(instead) => format!("the contract {instead}"),
            };
            f.differ("(publisher)", "not found (HTTP 404)", chain);
            return Ok((f, Vec::new()));
        };
        let Some(p) = f.readable("(answer)", answer.parse::<Publisher>())? else { return Ok((f, Vec::new())) };
        let Some((e, at)) = f
            .event::<IProvenanceRegistry::PublisherRegistered>(&self.chain, "", &p.chain, self.options.registry)
            .await?
        else {
            return Ok((f, Vec::new()));
        };
        f.field("publisher", &p.publisher, e.publisher);
        f.field("name", &p.name, e.name.clone());
        f.field("metadata_uri", &p.metadata_uri, e.metadataURI.clone());
        f.field("registered_at", &Time::from(p.registered_at), Time::unix(at.block_time));
        if let Some(stored) = f.answer("admin", &p.admin, stored) {
            f.field("admin", &p.admin, stored.admin);
        }

        // Counts from the registry's logs: the versions it registered and the keys it added.
        let head = self
            .chain
            .provider()
            .get_block_number()
            .await
            .map_err(|source| prova_chain::Error::Rpc { what: "reading the head".into(), source })?;
        let topic = publisher.into_word();
        let registered = Filter::new()
            .address(at.contract())
            .event_signature(IProvenanceRegistry::ModelVersionRegistered::SIGNATURE_HASH)
            .topic3(topic);
        let registered = prova_chain::get_logs(self.chain.provider(), &registered, 0, head).await?;
        f.field("model_versions", &p.model_versions, registered.len() as u64);
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
        let listed: BTreeSet<Address> = p.attestor_keys.iter().map(|k| k.key).collect();
        if listed != added {
            let show = |s: &BTreeSet<Address>| s.iter().map(|a| Json(*a).to_string()).collect::<Vec<_>>().join(", ");
            f.differ("attestor_keys", format!("[{}]", show(&listed)), format!("[{}]", show(&added)));
        }
        let keys = p.attestor_keys.into_iter().map(|key| KeyToCheck { publisher, key }).collect();
        Ok((f, keys))
    }

    pub(super) async fn check_key(&self, k: &KeyToCheck) -> Result<Fact> {
        let KeyToCheck { publisher, key } = k;
        let mut f = Fact::new(Kind::AttestorKey, format!("{:#x}", key.key));
        let Some((e, at)) =
            f.event::<IProvenanceRegistry::AttestorAdded>(&self.chain, "", &key.chain, self.options.registry).await?
        else {
            return Ok(f);
        };
        f.field("key", &key.key, e.key);
        f.field("publisher", publisher, e.publisher);
        f.field("added_at", &Time::from(key.added_at), Time::unix(at.block_time));
        let registry = IProvenanceRegistry::new(at.contract(), self.chain.provider());
        let stored = view(registry.getAttestorKey(e.key).call().await, "getAttestorKey")?;
        if let Some(s) = f.answer("status", &key.status, stored) {
            let status = match (s.compromisedSince, s.revokedAt) {
                (0, 0) => KeyStatus::Active,
                (0, _) => KeyStatus::Revoked,
                _ => KeyStatus::Compromised,
            };
            f.field("status", &key.status, status);
            f.field("revoked_at", &key.revoked_at.map(Time::from), (s.revokedAt != 0).then(|| Time::unix(s.revokedAt)));
            let since = (s.compromisedSince != 0).then(|| i64::try_from(s.compromisedSince).unwrap_or(i64::MAX));
            f.field("compromised_since", &key.compromised_since, since);
            if s.addedAt != at.block_time {
                let chain = format!("{} (stored addedAt)", Json(Time::unix(s.addedAt)));
                f.differ("added_at", json(&key.added_at), chain);
            }
        }
        Ok(f)
    }
}
