//! Output receipts checked against the chain: the offline checks of [`prova_core::outputs::Receipt`], then the
//! batch's anchoring, version, window and revocation, the anchoring key's compromise, and the registry's own
//! `verifyOutput` view.
//!
//! What a verified receipt proves about time: the response existed **no later than** the anchoring block's time.
//! The leaf's own timestamp is the attestor's claim, bounded by the batch window (which the contract refuses to end
//! after the anchoring block), not a fact the chain witnessed.

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use prova_chain::{call_error, check_registry};
use prova_core::bindings::IProvenanceRegistry;
use prova_core::outputs::{Receipt, ReceiptProblem};
use serde::Serialize;

use crate::error::Result;

/// What the chain says about a receipt that verifies.
#[derive(Debug, Clone, Serialize)]
pub struct OutputVerdict {
    /// The publisher whose attestor key anchored the batch.
    pub publisher: Address,
    /// The publisher's registered name (its own words: names are not unique).
    pub publisher_name: String,
    /// The model name the publisher gave with its claim of the version, or `None` if it published none.
    pub model_name: Option<String>,
    /// The attestor key that anchored the batch.
    pub attestor: Address,
    /// When the batch was anchored (block timestamp): the response existed no later than this.
    pub anchored_at: u64,
    /// Block of anchoring.
    pub anchored_block: u64,
    /// Earliest leaf time the attestor signed for the batch.
    pub window_start: u64,
    /// Latest leaf time the attestor signed for the batch (never after `anchored_at`).
    pub window_end: u64,
    /// Number of leaves in the batch.
    pub leaf_count: u64,
}

/// Verifies a receipt against the chain alone: the offline checks, then the chain id, the batch's existence,
/// version, window and revocation, the publisher's claim of the version and its revocation, the anchoring key's
/// compromise, and the contract's own `verifyOutput` view.
///
/// `Ok(Err(problem))` is a receipt that does not verify; `Err` means the chain could not be asked.
pub async fn verify_receipt(
    provider: &DynProvider,
    receipt: &Receipt,
    request: Option<&[u8]>,
    response: Option<&[u8]>,
) -> Result<std::result::Result<OutputVerdict, ReceiptProblem>> {
    if let Err(problem) = receipt.check_offline(request, response) {
        return Ok(Err(problem));
    }
    let chain_id = check_registry(provider, receipt.registry, None).await?;
    if chain_id != receipt.chain_id {
        return Ok(Err(ReceiptProblem::Chain { expected: receipt.chain_id, actual: chain_id }));
    }
    let contract = IProvenanceRegistry::new(receipt.registry, provider);
    let call = |e: alloy::contract::Error| call_error("reading the registry", e);
    let batch = contract.getOutputBatch(receipt.root).call().await.map_err(call)?;
    let leaf = &receipt.leaf;
    if batch.anchoredAt == 0 {
        return Ok(Err(ReceiptProblem::NotAnchored(receipt.root)));
    }
    if batch.versionHash != leaf.version_hash {
        return Ok(Err(ReceiptProblem::WrongVersion {
            root: receipt.root,
            anchored: batch.versionHash,
            claimed: leaf.version_hash,
        }));
    }
    if batch.revokedAt != 0 {
        return Ok(Err(ReceiptProblem::BatchRevoked(receipt.root)));
    }
    if leaf.timestamp < batch.windowStart || leaf.timestamp > batch.windowEnd {
        return Ok(Err(ReceiptProblem::OutsideWindow {
            timestamp: leaf.timestamp,
            start: batch.windowStart,
            end: batch.windowEnd,
        }));
    }
    let key = contract.getAttestorKey(batch.attestor).call().await.map_err(call)?;
    if key.compromisedSince != 0 && batch.anchoredAt >= key.compromisedSince {
        return Ok(Err(ReceiptProblem::CompromisedKey(batch.attestor)));
    }
    let version = contract.getModelVersion(key.publisher, batch.versionHash).call().await.map_err(call)?;
    if version.revokedAt != 0 {
        return Ok(Err(ReceiptProblem::VersionRevoked(batch.versionHash)));
    }
    let contract_view_agrees = contract
        .verifyOutput(
            receipt.root,
            leaf.version_hash,
            leaf.request_hash,
            leaf.response_hash,
            leaf.timestamp,
            leaf.salt,
            receipt.proof.clone(),
        )
        .call()
        .await
        .map_err(call)?;
    if !contract_view_agrees {
        return Ok(Err(ReceiptProblem::ContractRefuses));
    }
    let publisher = contract.getPublisher(key.publisher).call().await.map_err(call)?;
    let (registry, block) = (receipt.registry, version.registeredBlock);
    let model_name =
        crate::model::model_name(provider, registry, key.publisher, batch.versionHash, version.modelId, block).await?;
    Ok(Ok(OutputVerdict {
        publisher: key.publisher,
        publisher_name: publisher.name,
        model_name,
        attestor: batch.attestor,
        anchored_at: batch.anchoredAt,
        anchored_block: batch.anchoredBlock,
        window_start: batch.windowStart,
        window_end: batch.windowEnd,
        leaf_count: batch.leafCount,
    }))
}
