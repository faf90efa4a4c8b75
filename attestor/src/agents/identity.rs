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
    /// Its wallet, if one is set (a new agent's wallet is its owner; a transfer or an unset clears it).
    pub wallet: Option<Address>,
    /// The ProvenanceRegistry version it is bound to, if any.
    pub model_version: Option<B256>,
    /// Its registration file URI.
    pub uri: String,
}

impl AgentInfo {
    /// True if `who` signs for the agent now, i.e. may issue its interaction receipts: its owner or its wallet.
    pub fn is_signer(&self, who: Address) -> bool {
        who == self.owner || self.wallet == Some(who)
    }

    /// The agent's signers in words, for messages: "its owner X" or "its owner X or its wallet Y".
    pub fn signers(&self) -> String {
        match self.wallet {
            Some(wallet) if wallet != self.owner => format!("its owner {} or its wallet {wallet}", self.owner),
            _ => format!("its owner {}", self.owner),
        }
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
    let verdict = prova_verify::model::verify_model_version(provider, registry, version_hash, None, None)
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

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, B256, U256, address, b256, keccak256};
    use prova_core::bindings::AgentWalletSet;

    use super::AgentInfo;

    fn agent(owner: Address, wallet: Option<Address>) -> AgentInfo {
        AgentInfo { agent_id: U256::from(1), owner, wallet, model_version: None, uri: String::new() }
    }

    #[test]
    fn the_owner_and_the_wallet_sign_for_the_agent() {
        let (owner, wallet, other) = (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3));
        let with_wallet = agent(owner, Some(wallet));
        assert!(with_wallet.is_signer(owner) && with_wallet.is_signer(wallet) && !with_wallet.is_signer(other));
        let cleared = agent(owner, None);
        assert!(cleared.is_signer(owner) && !cleared.is_signer(wallet));
        assert_eq!(agent(owner, Some(owner)).signers(), format!("its owner {owner}"));
    }

    /// The typed data agent0-sdk and the reference registry sign: the type string, and a digest computed for this
    /// test by a second EIP-712 implementation (ethers' `_TypedDataEncoder.hash`) on the same domain and message.
    #[test]
    fn the_agent_wallet_digest_matches_the_reference_typed_data() {
        use alloy::sol_types::SolStruct;
        let message = AgentWalletSet {
            agentId: U256::from(7),
            newWallet: address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
            owner: address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
            deadline: U256::from(1_800_000_300u64),
        };
        assert_eq!(
            message.eip712_type_hash(),
            keccak256("AgentWalletSet(uint256 agentId,address newWallet,address owner,uint256 deadline)")
        );
        let expected: B256 = b256!("5be18f1ada53b9dd60989f0d0d48183af24779f71df30b773885191fccac18c1");
        assert_eq!(message.signing_hash(31337, address!("5FbDB2315678afecb367f032d93F642f64180aa3")), expected);
    }
}
