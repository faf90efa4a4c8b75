//! Publisher administration, sent from the publisher's admin account: registration, two-step admin transfer,
//! attestor key lifecycle (add, revoke, rotate, flag compromised) and version revocation.

use alloy::primitives::{Address, B256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use prova_core::bindings::IProvenanceRegistry;

use crate::error::Result;

/// Sends a contract call and waits for one confirmation, failing if it reverted.
macro_rules! confirm {
    ($call:expr) => {{
        let pending = $call.send().await?;
        Ok(prova_chain::wait(pending, 1).await?)
    }};
}

/// Registers the sending account as a publisher.
pub async fn register_publisher(
    admin: &DynProvider,
    registry: Address,
    name: &str,
    metadata_uri: &str,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).registerPublisher(name.to_owned(), metadata_uri.to_owned()))
}

/// Authorizes `key` to sign for `publisher`.
pub async fn add_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: Address,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).addAttestor(publisher, key))
}

/// Revokes `key`: it can sign nothing new.
pub async fn revoke_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: Address,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).revokeAttestor(publisher, key))
}

/// Rotates keys: adds `new_key`, then revokes `old_key`, so the publisher is never without an active key.
pub async fn rotate_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    old_key: Address,
    new_key: Address,
) -> Result<(TransactionReceipt, TransactionReceipt)> {
    let added = add_attestor(admin, registry, publisher, new_key).await?;
    let revoked = revoke_attestor(admin, registry, publisher, old_key).await?;
    Ok((added, revoked))
}

/// Flags `key` compromised from unix time `since` (and revokes it if still active).
pub async fn mark_compromised(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: Address,
    since: u64,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).markAttestorCompromised(publisher, key, since))
}

/// Nominates `new_admin` (step one of two); zero cancels a pending transfer.
pub async fn transfer_admin(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    new_admin: Address,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).transferPublisherAdmin(publisher, new_admin))
}

/// Accepts the admin role (step two, sent by the nominated admin).
pub async fn accept_admin(
    new_admin: &DynProvider,
    registry: Address,
    publisher: Address,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, new_admin).acceptPublisherAdmin(publisher))
}

/// Revokes a model version with a reason; it stays readable, marked revoked.
pub async fn revoke_version(
    admin: &DynProvider,
    registry: Address,
    version_hash: B256,
    reason: &str,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).revokeModelVersion(version_hash, reason.to_owned()))
}
