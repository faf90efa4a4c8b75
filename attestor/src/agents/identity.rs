//! ERC-8004 identities: registering an agent (optionally bound to a model version), reading what the identity
//! registry says about it, and binding it to a model version later.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::DynProvider;
use alloy::sol_types::SolCall;
use prova_chain::{Account, TxInfo, call_error, find_event};
use prova_core::bindings::IIdentityRegistry;
use prova_core::bindings::MODEL_VERSION_KEY;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A newly registered agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// The new agent's id.
    pub agent_id: U256,
    /// Its owner (the sender).
    pub owner: Address,
    /// The model version it was bound to at registration, if any.
    pub model_version: Option<B256>,
    /// The registering transaction.
    #[serde(flatten)]
    pub tx: TxInfo,
}

/// What the identity registry says about an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// The agent.
    pub agent_id: U256,
    /// Its owner.
    pub owner: Address,
    /// Its wallet, if one is set.
    pub wallet: Option<Address>,
    /// The ProvenanceRegistry version it is bound to, if any.
    pub model_version: Option<B256>,
    /// Its registration file URI.
    pub uri: String,
}

impl AgentInfo {
    /// Who signs the agent's interaction receipts: its wallet, or its owner when it has none.
    pub fn receipt_signer(&self) -> Address {
        self.wallet.unwrap_or(self.owner)
    }
}

/// The calldata of `register(agentURI)`, or of `register(agentURI, [prova.modelVersion = version])`.
pub fn register_call(uri: &str, model_version: Option<B256>) -> Bytes {
    match model_version {
        None => IIdentityRegistry::register_1Call { agentURI: uri.to_owned() }.abi_encode().into(),
        Some(version) => IIdentityRegistry::register_2Call {
            agentURI: uri.to_owned(),
            metadata: vec![IIdentityRegistry::MetadataEntry {
                metadataKey: MODEL_VERSION_KEY.to_owned(),
                metadataValue: version.to_vec().into(),
            }],
        }
        .abi_encode()
        .into(),
    }
}

/// Registers a new agent owned by `account`, optionally bound to a model version.
pub async fn register(
    account: &Account,
    identity: Address,
    uri: &str,
    model_version: Option<B256>,
) -> Result<Registered> {
    if model_version.is_some_and(|v| v.is_zero()) {
        return Err(Error::Input("the model version hash cannot be zero".into()));
    }
    let receipt = account.send(identity, register_call(uri, model_version)).await?;
    let event: IIdentityRegistry::Registered = find_event(&receipt, identity)?;
    Ok(Registered { agent_id: event.agentId, owner: event.owner, model_version, tx: TxInfo::from(&receipt) })
}

/// Reads an agent; an unknown agent is an error that says so.
pub async fn agent_info(provider: &DynProvider, identity: Address, agent_id: U256) -> Result<AgentInfo> {
    let registry = IIdentityRegistry::new(identity, provider);
    let owner = registry.ownerOf(agent_id).call().await.map_err(|e| match e
        .as_decoded_interface_error::<IIdentityRegistry::IIdentityRegistryErrors>()
    {
        Some(IIdentityRegistry::IIdentityRegistryErrors::ERC721NonexistentToken(_)) => {
            Error::Refused(format!("agent {agent_id} does not exist in identity registry {identity}"))
        }
        _ => Error::Chain(call_error("calling the registry", e)),
    })?;
    let wallet = registry.getAgentWallet(agent_id).call().await.map_err(|e| call_error("calling the registry", e))?;
    let version = registry.modelVersion(agent_id).call().await.map_err(|e| call_error("calling the registry", e))?;
    let uri = registry.tokenURI(agent_id).call().await.map_err(|e| call_error("calling the registry", e))?;
    Ok(AgentInfo {
        agent_id,
        owner,
        wallet: (!wallet.is_zero()).then_some(wallet),
        model_version: (!version.is_zero()).then_some(version),
        uri,
    })
}

/// Fails unless `who` is the owner or an operator of `agent_id` (which must exist).
pub async fn require_operator(
    provider: &DynProvider,
    identity: Address,
    agent_id: U256,
    who: Address,
) -> Result<AgentInfo> {
    let info = agent_info(provider, identity, agent_id).await?;
    let registry = IIdentityRegistry::new(identity, provider);
    if !registry.isAuthorizedOrOwner(who, agent_id).call().await.map_err(|e| call_error("calling the registry", e))? {
        return Err(Error::Refused(format!(
            "the signing account {who} is not the owner ({}) or an operator of agent {agent_id}",
            info.owner
        )));
    }
    Ok(info)
}

/// Fails unless `version_hash` is registered in the ProvenanceRegistry at `registry`, not revoked and not signed by
/// a compromised key.
pub async fn check_model_version(provider: &DynProvider, registry: Address, version_hash: B256) -> Result<()> {
    let verdict = prova_verify::model::verify_model_version(provider, registry, version_hash, None)
        .await
        .map_err(|e| Error::Refused(format!("cannot check model version {version_hash}: {e}")))?;
    match verdict.failure() {
        None => Ok(()),
        Some(reason) => Err(Error::Refused(format!("cannot bind the agent: {reason}"))),
    }
}

/// Binds `agent_id` to a ProvenanceRegistry model version (`setMetadata("prova.modelVersion", versionHash)`), sent
/// by its owner or an operator.
pub async fn bind_model(account: &Account, identity: Address, agent_id: U256, version_hash: B256) -> Result<TxInfo> {
    if version_hash.is_zero() {
        return Err(Error::Input("the model version hash cannot be zero".into()));
    }
    require_operator(&account.provider, identity, agent_id, account.address).await?;
    let call = IIdentityRegistry::setMetadataCall {
        agentId: agent_id,
        metadataKey: MODEL_VERSION_KEY.to_owned(),
        metadataValue: version_hash.to_vec().into(),
    };
    let receipt = account.send(identity, call.abi_encode().into()).await?;
    Ok(TxInfo::from(&receipt))
}
