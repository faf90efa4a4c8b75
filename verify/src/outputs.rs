//! Output receipts checked against the chain: the offline checks of [`prova_core::outputs::Receipt`], then the
//! batch's anchoring, version and revocation, and the registry's own `verifyOutput` view.

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use prova_chain::{call_error, check_registry};
use prova_core::bindings::IProvenanceRegistry;
use prova_core::outputs::{Receipt, ReceiptProblem};
use serde::Serialize;

use crate::error::Result;

/// What the chain says about a receipt.
#[derive(Debug, Clone, Serialize)]
pub struct OutputVerdict {
    /// The publisher of the model version.
    pub publisher: Address,
    /// The publisher's registered name.
    pub publisher_name: String,
    /// The attestor key that anchored the batch.
    pub attestor: Address,
    /// When the batch was anchored (block timestamp).
    pub anchored_at: u64,
    /// Block of anchoring.
    pub anchored_block: u64,
    /// Number of leaves in the batch.
    pub leaf_count: u64,
    /// True if the registry's own `verifyOutput` view accepts the leaf and proof.
    pub contract_view_agrees: bool,
    /// True if the attestor key was flagged compromised at or before the anchoring.
    pub signed_by_compromised_key: bool,
}

/// Verifies a receipt against the chain alone: the offline checks, then the chain id, the batch's existence,
/// version and revocation, the version's revocation, and the contract's own `verifyOutput` view.
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
    if batch.anchoredAt == 0 {
        return Ok(Err(ReceiptProblem::NotAnchored(receipt.root)));
    }
    if batch.versionHash != receipt.leaf.version_hash {
        return Ok(Err(ReceiptProblem::WrongVersion {
            root: receipt.root,
            anchored: batch.versionHash,
            claimed: receipt.leaf.version_hash,
        }));
    }
    if batch.revokedAt != 0 {
        return Ok(Err(ReceiptProblem::BatchRevoked(receipt.root)));
    }
    let version = contract.getModelVersion(batch.versionHash).call().await.map_err(call)?;
    if version.revokedAt != 0 {
        return Ok(Err(ReceiptProblem::VersionRevoked(batch.versionHash)));
    }
    let leaf = &receipt.leaf;
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
    let publisher = contract.getPublisher(version.publisher).call().await.map_err(call)?;
    let key = contract.getAttestorKey(batch.attestor).call().await.map_err(call)?;
    Ok(Ok(OutputVerdict {
        publisher: version.publisher,
        publisher_name: publisher.name,
        attestor: batch.attestor,
        anchored_at: batch.anchoredAt,
        anchored_block: batch.anchoredBlock,
        leaf_count: batch.leafCount,
        contract_view_agrees,
        signed_by_compromised_key: key.compromisedSince != 0 && batch.anchoredAt >= key.compromisedSince,
    }))
}
