//! Output attestation on the lab's side: sampling incoming outputs, storing them durably, cutting them into
//! batches, and anchoring each batch root on-chain exactly once, even across crashes.

pub mod bundle;
pub mod calibration;
pub mod evidence;
pub mod near;
pub mod plant;
pub mod scan;
pub mod store;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use alloy::eips::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use prova_chain::rpc_error;
use prova_core::bindings::{AttestOutputs, IProvenanceRegistry, random_nonce};
use serde::Deserialize;
use tracing::{info, warn};

use crate::error::{Error, Result};
use store::{BatchRow, Landing, SealPolicy};

/// One input record: `{model_version, request, response, timestamp?}` (JSONL).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    /// The model version hash.
    pub model_version: B256,
    /// The exact request text.
    pub request: String,
    /// The exact response text.
    pub response: String,
    /// Unix seconds; defaults to the time of ingestion (see [`Record::leaf_time`]).
    pub timestamp: Option<u64>,
}

/// A [`Record`] that borrows its texts from the line it was parsed from (a text is copied only when it has JSON
/// escapes): parsing one without copying two 1 KB texts takes half the time, which counts on ingest's hot path.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordRef<'a> {
    /// The model version hash.
    pub model_version: B256,
    /// The exact request text.
    #[serde(borrow)]
    pub request: Cow<'a, str>,
    /// The exact response text.
    #[serde(borrow)]
    pub response: Cow<'a, str>,
    /// Unix seconds; defaults to the time of ingestion (see [`RecordRef::leaf_time`]).
    pub timestamp: Option<u64>,
}

impl RecordRef<'_> {
    /// [`Record::leaf_time`].
    pub fn leaf_time(&self, now: u64, clock: Clock) -> std::result::Result<u64, String> {
        leaf_time(self.timestamp, now, clock)
    }
}

/// How far a timestamp a client gives may stray from the attestor's clock, in seconds. The sidecar refuses a client
/// timestamp further than this from its own clock either way; file ingest (past logs) refuses one further than
/// this in the future. A future leaf time could never be anchored: the registry refuses a window ending after the
/// anchoring block.
pub const MAX_CLIENT_SKEW_SECS: u64 = 300;

/// Whose clock a record's time may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// A live request: the attestor stamps the time; a client's timestamp must be within the skew of it.
    Live,
    /// Past logs being ingested: a timestamp may be old, never in the future beyond the skew.
    Log,
}

impl Record {
    /// The leaf time of this record given the attestor's clock `now`: `now` when the record has no timestamp,
    /// otherwise its timestamp if `clock` allows it.
    pub fn leaf_time(&self, now: u64, clock: Clock) -> std::result::Result<u64, String> {
        leaf_time(self.timestamp, now, clock)
    }
}

/// The leaf time of a record with `timestamp` given the attestor's clock `now` (see [`Record::leaf_time`]).
fn leaf_time(timestamp: Option<u64>, now: u64, clock: Clock) -> std::result::Result<u64, String> {
    let Some(at) = timestamp else { return Ok(now) };
    if at > now + MAX_CLIENT_SKEW_SECS {
        return Err(format!(
            "timestamp {at} is {} s ahead of the attestor's clock (at most {MAX_CLIENT_SKEW_SECS} s)",
            at - now
        ));
    }
    if clock == Clock::Live && at + MAX_CLIENT_SKEW_SECS < now {
        return Err(format!(
            "timestamp {at} is {} s behind the attestor's clock (at most {MAX_CLIENT_SKEW_SECS} s); omit it and \
             the attestor stamps the time",
            now - at
        ));
    }
    Ok(at)
}

/// How many samples of a model version to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Keep each sample with this probability.
    Fraction(f64),
    /// Keep every Nth sample (the 1st, the N+1th, ...).
    EveryNth(u64),
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `0.25` (a fraction) or `every:10` (every 10th).
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(n) = text.strip_prefix("every:") {
            let n: u64 = n.parse().map_err(|_| format!("bad every:N rate {text:?}"))?;
            return if n == 0 { Err("every:0 would keep nothing; use 0".into()) } else { Ok(Self::EveryNth(n)) };
        }
        let f: f64 = text.parse().map_err(|_| format!("bad sampling rate {text:?}: use a fraction or every:N"))?;
        if !(0.0..=1.0).contains(&f) {
            return Err(format!("sampling rate {f} is not between 0 and 1"));
        }
        Ok(Self::Fraction(f))
    }
}

/// Per-version sampling, with a default for versions not listed.
#[derive(Debug, Clone)]
pub struct Sampler {
    default: Rate,
    per_version: HashMap<B256, Rate>,
    seen: HashMap<B256, u64>,
}

impl Sampler {
    /// A sampler with a default rate and per-version overrides.
    pub fn new(default: Rate, per_version: HashMap<B256, Rate>) -> Self {
        Self { default, per_version, seen: HashMap::new() }
    }

    /// Parses `VERSION=RATE` overrides.
    pub fn parse_override(text: &str) -> Result<(B256, Rate), String> {
        let (version, rate) = text.split_once('=').ok_or_else(|| format!("expected VERSION=RATE, got {text:?}"))?;
        let version: B256 = version.parse().map_err(|_| format!("bad version hash {version:?}"))?;
        Ok((version, rate.parse()?))
    }

    /// Whether to keep the next sample of `version`.
    pub fn keep(&mut self, version: B256) -> bool {
        let n = self.seen.entry(version).or_insert(0);
        *n += 1;
        match self.per_version.get(&version).copied().unwrap_or(self.default) {
            Rate::Fraction(f) => f >= 1.0 || rand::random::<f64>() < f,
            Rate::EveryNth(every) => (*n - 1).is_multiple_of(every),
        }
    }
}

/// Anchors sealed batches: signs `attestOutputs` with the attestor key, signs the transaction with the relayer
/// key, stores both before broadcasting, and confirms. One submitter sends one transaction at a time, so
/// transaction nonces never collide; EIP-712 nonces are random, so batches can also be signed in parallel.
#[derive(Debug)]
pub struct Submitter {
    /// The attestor's store.
    pub pool: sqlx::PgPool,
    /// A provider for reads and raw sends.
    pub provider: DynProvider,
    /// The key that signs the EIP-712 message.
    pub attestor: PrivateKeySigner,
    /// The key that signs and pays for transactions.
    pub relayer: PrivateKeySigner,
    /// The registry.
    pub registry: Address,
    /// The chain id.
    pub chain_id: u64,
    /// Confirmations to wait for.
    pub confirmations: u64,
    /// Where leaves will be served, e.g. `https://api.example/v1/output-batches/` (the root is appended).
    pub batch_uri_base: String,
    /// How long to wait for a transaction before leaving it for the next pass.
    pub wait: Duration,
}

impl Submitter {
    /// One pass: seal what is due, recover submitted batches, submit sealed ones. Returns confirmed batches.
    pub async fn run_once(&self, policy: SealPolicy) -> Result<Vec<BatchRow>> {
        store::seal_due(&self.pool, policy).await?;
        let mut confirmed = Vec::new();
        for batch in store::batches_in(&self.pool, "submitted").await? {
            if self.settle(&batch).await? {
                confirmed.push(batch);
            }
        }
        for batch in store::batches_in(&self.pool, "sealed").await? {
            if self.submit(&batch).await? {
                confirmed.push(batch);
            }
        }
        Ok(confirmed)
    }

    /// Passes until every batch due under `policy` is anchored and confirmed; the batches confirmed. A batch whose
    /// window ends after the chain's time waits for it; an error once `within` has passed with batches left.
    pub async fn run_until_settled(&self, policy: SealPolicy, within: Duration) -> Result<Vec<BatchRow>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut confirmed = Vec::new();
        loop {
            confirmed.extend(self.run_once(policy).await?);
            let left = store::batches_in(&self.pool, "sealed").await?.len()
                + store::batches_in(&self.pool, "submitted").await?.len();
            if left == 0 {
                return Ok(confirmed);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Refused(format!(
                    "{left} batch(es) not anchored within {} s (the chain's time may be behind their windows, or \
                     the node is not mining)",
                    within.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn rpc(source: alloy::transports::RpcError<alloy::transports::TransportErrorKind>) -> Error {
        Error::Chain(prova_chain::Error::Rpc { what: "a JSON-RPC call of the batch publisher".into(), source })
    }

    /// Signs and sends a sealed batch; true once confirmed.
    async fn submit(&self, batch: &BatchRow) -> Result<bool> {
        if let Some(settled) = self.settle_by_anchor(batch).await? {
            return Ok(settled);
        }
        // The registry refuses a window that ends after the anchoring block, so the chain's clock decides, not ours:
        // a block's time may lag the wall clock (a slot's start, an L2 sequencer, a dev node).
        let chain_now = prova_chain::next_block_time(&self.provider).await?;
        if batch.window_end as u64 > chain_now {
            info!(
                batch = batch.id,
                window_end = batch.window_end,
                chain_now,
                "batch window ends after the chain's time; waiting"
            );
            return Ok(false);
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
        let message = AttestOutputs {
            versionHash: batch.version(),
            root: batch.root(),
            leafCount: batch.leaf_count as u64,
            windowStart: batch.window_start as u64,
            windowEnd: batch.window_end as u64,
            batchURI: format!("{}{}", self.batch_uri_base, batch.root()),
            nonce: random_nonce(),
            deadline: U256::from(now + 3600),
        };
        let signature = self
            .attestor
            .sign_hash_sync(&message.signing_hash(self.chain_id, self.registry))
            .map_err(prova_core::Error::from)?;
        let call = IProvenanceRegistry::attestOutputsCall {
            versionHash: message.versionHash,
            root: message.root,
            leafCount: message.leafCount,
            windowStart: message.windowStart,
            windowEnd: message.windowEnd,
            batchURI: message.batchURI.clone(),
            nonce: message.nonce,
            deadline: message.deadline,
            signature: signature.as_bytes().into(),
        };
        let from = self.relayer.address();
        let mut tx = TransactionRequest::default()
            .with_from(from)
            .with_to(self.registry)
            .with_input(call.abi_encode())
            .with_chain_id(self.chain_id);
        let nonce = self.provider.get_transaction_count(from).pending().await.map_err(Self::rpc)?;
        let fees = self.provider.estimate_eip1559_fees().await.map_err(Self::rpc)?;
        tx.set_nonce(nonce);
        tx.set_max_fee_per_gas(fees.max_fee_per_gas);
        tx.set_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let gas = match self.provider.estimate_gas(tx.clone()).await {
            Ok(gas) => gas,
            Err(e) if window_in_future(&e) => {
                info!(
                    batch = batch.id,
                    window_end = batch.window_end,
                    "the next block's time is before the window's end; waiting"
                );
                return Ok(false);
            }
            Err(e) => return Err(rpc_error("estimating gas", e).into()),
        };
        tx.set_gas_limit(gas + gas / 5);
        let envelope = tx
            .build(&EthereumWallet::from(self.relayer.clone()))
            .await
            .map_err(|e| Error::Refused(format!("cannot sign the transaction: {e}")))?;
        let raw = envelope.encoded_2718();
        let tx_hash = *envelope.tx_hash();
        // Stored before it is broadcast: after a crash it is found again, or re-broadcast byte for byte.
        store::mark_submitted(
            &self.pool,
            batch.id,
            message.nonce.into(),
            signature.as_bytes().as_slice(),
            &raw,
            tx_hash,
        )
        .await?;
        info!(batch = batch.id, tx = %tx_hash, leaves = batch.leaf_count, "submitting batch");
        if let Err(e) = self.provider.send_raw_transaction(&raw).await {
            warn!(batch = batch.id, error = %e, "broadcast failed; will check again");
        }
        let mut submitted = batch.clone();
        submitted.tx_hash = Some(tx_hash.to_vec());
        submitted.raw_tx = Some(raw);
        self.settle(&submitted).await
    }

    /// Finds out what became of a submitted batch; true once confirmed.
    async fn settle(&self, batch: &BatchRow) -> Result<bool> {
        let tx_hash = B256::from_slice(batch.tx_hash.as_deref().unwrap_or(&[0u8; 32]));
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            if let Some(receipt) = self.provider.get_transaction_receipt(tx_hash).await.map_err(Self::rpc)? {
                let block = receipt.block_number.unwrap_or_default();
                let head = self.provider.get_block_number().await.map_err(Self::rpc)?;
                if receipt.status() && head + 1 >= block + self.confirmations {
                    let landing = Landing {
                        chain_id: self.chain_id,
                        registry: self.registry,
                        tx_hash,
                        block_number: block,
                        block_hash: receipt.block_hash.unwrap_or_default(),
                    };
                    store::mark_confirmed(&self.pool, batch.id, landing).await?;
                    info!(batch = batch.id, block, "batch confirmed");
                    return Ok(true);
                }
                if !receipt.status() {
                    return self.after_failure(batch).await;
                }
            } else if self.provider.get_transaction_by_hash(tx_hash).await.map_err(Self::rpc)?.is_none() {
                // Not pending, not mined: anchored by another transaction, or lost and re-broadcast as is.
                if let Some(settled) = self.settle_by_anchor(batch).await? {
                    return Ok(settled);
                }
                if let Some(raw) = &batch.raw_tx
                    && let Err(e) = self.provider.send_raw_transaction(raw).await
                {
                    let text = e.to_string().to_lowercase();
                    if text.contains("nonce") && text.contains("low") {
                        warn!(batch = batch.id, "transaction can no longer land; signing afresh");
                        store::mark_resealed(&self.pool, batch.id).await?;
                        return Ok(false);
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A reverted transaction: either someone anchored the root first (fine) or it must be signed afresh.
    async fn after_failure(&self, batch: &BatchRow) -> Result<bool> {
        if let Some(settled) = self.settle_by_anchor(batch).await? {
            return Ok(settled);
        }
        warn!(batch = batch.id, "anchoring transaction reverted; signing afresh");
        store::mark_resealed(&self.pool, batch.id).await?;
        Ok(false)
    }

    /// When the batch's root is anchored: confirms it if a key of our publisher anchored it (`Some(true)`), or
    /// takes it back if another publisher's did (`Some(false)`). `None` when it is not anchored.
    async fn settle_by_anchor(&self, batch: &BatchRow) -> Result<Option<bool>> {
        match self.find_anchor(batch.root()).await? {
            Anchor::None => Ok(None),
            Anchor::Ours(landing) => {
                store::mark_confirmed(&self.pool, batch.id, landing).await?;
                Ok(Some(true))
            }
            Anchor::Taken { attestor } => self.retake(batch, attestor).await.map(Some),
        }
    }

    /// A root someone else anchored first, under another publisher (a copy of our pending anchoring, made with its
    /// own key): the batch's leaves get fresh salts, so a new root, and are anchored again on the next pass. No
    /// receipt exists for the taken root (receipts are made for confirmed batches only), and without the salts
    /// nobody can make one, so the copy proves nothing about any output.
    async fn retake(&self, batch: &BatchRow, attestor: Address) -> Result<bool> {
        let root = store::resalt(&self.pool, batch).await?;
        warn!(
            batch = batch.id, taken = %batch.root(), by = %attestor, new_root = %root,
            "another publisher anchored this batch's root first; re-salted the leaves to a new root"
        );
        Ok(false)
    }

    /// Whether `root` is anchored, and by a key of our publisher.
    async fn find_anchor(&self, root: B256) -> Result<Anchor> {
        let registry = IProvenanceRegistry::new(self.registry, &self.provider);
        let batch = registry.getOutputBatch(root).call().await?;
        if batch.anchoredAt == 0 {
            return Ok(Anchor::None);
        }
        if batch.attestor != self.attestor.address() {
            let theirs = registry.getAttestorKey(batch.attestor).call().await?.publisher;
            let ours = registry.getAttestorKey(self.attestor.address()).call().await?.publisher;
            if theirs != ours {
                return Ok(Anchor::Taken { attestor: batch.attestor });
            }
        }
        let filter = Filter::new()
            .address(self.registry)
            .event_signature(IProvenanceRegistry::OutputsAttested::SIGNATURE_HASH)
            .topic1(root)
            .from_block(batch.anchoredBlock)
            .to_block(batch.anchoredBlock);
        let logs = self.provider.get_logs(&filter).await.map_err(Self::rpc)?;
        let log = logs.first().ok_or_else(|| {
            prova_chain::Error::Missing(format!("root {root} is anchored but its event was not found"))
        })?;
        Ok(Anchor::Ours(Landing {
            chain_id: self.chain_id,
            registry: self.registry,
            tx_hash: log.transaction_hash.unwrap_or_default(),
            block_number: batch.anchoredBlock,
            block_hash: log.block_hash.unwrap_or_default(),
        }))
    }
}

/// What the registry holds for a batch's root.
enum Anchor {
    /// Not anchored.
    None,
    /// Anchored by a key of our publisher.
    Ours(Landing),
    /// Anchored first by a key of another publisher.
    Taken {
        /// That key.
        attestor: Address,
    },
}

/// Whether an RPC error is the registry refusing a batch window that ends after the block's time.
fn window_in_future(error: &alloy::transports::RpcError<alloy::transports::TransportErrorKind>) -> bool {
    use alloy::sol_types::SolInterface;
    use prova_core::bindings::IProvenanceRegistry::IProvenanceRegistryErrors;
    error
        .as_error_resp()
        .and_then(alloy::rpc::json_rpc::ErrorPayload::as_revert_data)
        .and_then(|data| IProvenanceRegistryErrors::abi_decode(&data).ok())
        .is_some_and(|e| matches!(e, IProvenanceRegistryErrors::RegistryWindowInFuture(_)))
}

#[cfg(test)]
mod tests {
    use super::{Clock, MAX_CLIENT_SKEW_SECS, Record, RecordRef};
    use alloy::primitives::B256;

    fn at(timestamp: Option<u64>) -> Record {
        Record { model_version: B256::ZERO, request: "q".into(), response: "a".into(), timestamp }
    }

    #[test]
    fn a_borrowed_record_reads_as_a_record() {
        let line = r#"{"model_version":"0x0707070707070707070707070707070707070707070707070707070707070707",
            "request":"plain text","response":"with \"escapes\"\n and \u00e9","timestamp":12}"#;
        let owned: Record = serde_json::from_str(line).unwrap();
        let borrowed: RecordRef<'_> = serde_json::from_str(line).unwrap();
        assert_eq!(borrowed.model_version, owned.model_version);
        assert_eq!(borrowed.request, owned.request);
        assert!(matches!(borrowed.request, std::borrow::Cow::Borrowed(_)), "no copy without escapes");
        assert_eq!(borrowed.response, owned.response);
        assert_eq!(borrowed.timestamp, owned.timestamp);
        assert_eq!(borrowed.leaf_time(100, Clock::Log), owned.leaf_time(100, Clock::Log));
    }

    #[test]
    fn client_timestamps_are_refused_outside_the_skew() {
        let (now, skew) = (1_800_000_000, MAX_CLIENT_SKEW_SECS);
        assert_eq!(at(None).leaf_time(now, Clock::Live), Ok(now), "the attestor stamps the time");
        assert_eq!(at(Some(now - skew)).leaf_time(now, Clock::Live), Ok(now - skew));
        assert_eq!(at(Some(now + skew)).leaf_time(now, Clock::Live), Ok(now + skew));
        assert!(at(Some(now - skew - 1)).leaf_time(now, Clock::Live).unwrap_err().contains("behind"));
        assert!(at(Some(now + skew + 1)).leaf_time(now, Clock::Live).unwrap_err().contains("ahead"));
        // Past logs may be old, never from the future.
        assert_eq!(at(Some(1_000)).leaf_time(now, Clock::Log), Ok(1_000));
        assert!(at(Some(now + skew + 1)).leaf_time(now, Clock::Log).is_err());
    }
}
