//! Publisher administration, sent from the publisher's admin account.

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use prova_core::bindings::IProvenanceRegistry;

use crate::error::Result;

/// Registers the sending account as a publisher.
pub async fn register_publisher(
    admin: &DynProvider,
    registry: Address,
    name: &str,
    metadata_uri: &str,
) -> Result<TransactionReceipt> {
    let contract = IProvenanceRegistry::new(registry, admin);
    let pending = contract.registerPublisher(name.to_owned(), metadata_uri.to_owned()).send().await?;
    Ok(prova_core::chain::wait(pending, 1).await?)
}

/// Authorizes `key` to sign for `publisher`.
pub async fn add_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: Address,
) -> Result<TransactionReceipt> {
    let contract = IProvenanceRegistry::new(registry, admin);
    let pending = contract.addAttestor(publisher, key).send().await?;
    Ok(prova_core::chain::wait(pending, 1).await?)
}

/// Revokes `key`: it can sign nothing new.
pub async fn revoke_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: Address,
) -> Result<TransactionReceipt> {
    let contract = IProvenanceRegistry::new(registry, admin);
    let pending = contract.revokeAttestor(publisher, key).send().await?;
    Ok(prova_core::chain::wait(pending, 1).await?)
}
