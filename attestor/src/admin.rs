//! Publisher administration, sent from the publisher's admin account: registration, two-step admin transfer,
//! attestor key lifecycle (add, revoke, rotate, flag compromised) and version revocation.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use prova_core::bindings::{AddAttestor, IProvenanceRegistry};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A key's consent to be added as an attestor of a publisher: its EIP-712 signature of
/// `AddAttestor(address publisher,uint256 deadline)` on one registry deployment (its proof of possession). The key
/// holder makes it (`prova key authorize`) and hands it to the publisher's admin, who sends it with `addAttestor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAuthorization {
    /// The key being added.
    pub key: Address,
    /// The publisher it agrees to sign for.
    pub publisher: Address,
    /// The chain of the registry deployment.
    pub chain_id: u64,
    /// The registry deployment.
    pub registry: Address,
    /// Unix time after which the registry refuses the signature.
    pub deadline: u64,
    /// The key's 65-byte signature.
    pub signature: Bytes,
}

impl KeyAuthorization {
    /// Signs the authorization with `key`.
    pub fn sign(
        key: &PrivateKeySigner,
        chain_id: u64,
        registry: Address,
        publisher: Address,
        deadline: u64,
    ) -> Result<Self> {
        let digest = AddAttestor { publisher, deadline: U256::from(deadline) }.signing_hash(chain_id, registry);
        let signature = key.sign_hash_sync(&digest).map_err(prova_core::Error::from)?;
        Ok(Self { key: key.address(), publisher, chain_id, registry, deadline, signature: signature.as_bytes().into() })
    }
}

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

/// Adds the key of `authorization` as an attestor of its publisher.
pub async fn add_attestor(admin: &DynProvider, authorization: &KeyAuthorization) -> Result<TransactionReceipt> {
    let a = authorization;
    confirm!(IProvenanceRegistry::new(a.registry, admin).addAttestor(
        a.publisher,
        a.key,
        U256::from(a.deadline),
        a.signature.clone()
    ))
}

/// How long an authorization made here stays usable, in seconds.
pub const AUTHORIZATION_LIFETIME_SECS: u64 = 3600;

/// Adds `key` as an attestor of `publisher` when the caller holds both the admin account and the key: signs the
/// key's authorization (valid [`AUTHORIZATION_LIFETIME_SECS`] from chain time) and sends it.
pub async fn add_own_attestor(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    key: &PrivateKeySigner,
) -> Result<TransactionReceipt> {
    let authorization = authorize(admin, registry, publisher, key, AUTHORIZATION_LIFETIME_SECS).await?;
    add_attestor(admin, &authorization).await
}

/// `key`'s authorization to sign for `publisher` on the registry `provider` reaches, valid `valid_for` seconds from
/// chain time.
pub async fn authorize(
    provider: &DynProvider,
    registry: Address,
    publisher: Address,
    key: &PrivateKeySigner,
    valid_for: u64,
) -> Result<KeyAuthorization> {
    let chain_id = prova_chain::check_registry(provider, registry, None).await?;
    let deadline = prova_chain::chain_time(provider).await? + valid_for;
    KeyAuthorization::sign(key, chain_id, registry, publisher, deadline)
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

/// Rotates keys: adds the authorized new key, then revokes `old_key`, so the publisher is never without an active
/// key.
pub async fn rotate_attestor(
    admin: &DynProvider,
    new_key: &KeyAuthorization,
    old_key: Address,
) -> Result<(TransactionReceipt, TransactionReceipt)> {
    let added = add_attestor(admin, new_key).await?;
    let revoked = revoke_attestor(admin, new_key.registry, new_key.publisher, old_key).await?;
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

/// Revokes `publisher`'s claim of a model version with a reason; it stays readable, marked revoked.
pub async fn revoke_version(
    admin: &DynProvider,
    registry: Address,
    publisher: Address,
    version_hash: B256,
    reason: &str,
) -> Result<TransactionReceipt> {
    confirm!(IProvenanceRegistry::new(registry, admin).revokeModelVersion(publisher, version_hash, reason.to_owned()))
}
