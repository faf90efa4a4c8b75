//! Connecting to a chain over JSON-RPC, and checking that an address really holds the registry.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, TxHash};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;

use crate::bindings::{self, IProvenanceRegistry, registry_bytecode};
use crate::error::{Error, Result};

/// A read-only provider for `rpc_url`.
pub fn connect(rpc_url: &str) -> Result<DynProvider> {
    let url = rpc_url.parse().map_err(|_| Error::Chain(format!("invalid RPC URL {rpc_url:?}")))?;
    Ok(ProviderBuilder::new().connect_http(url).erased())
}

/// A provider that signs and sends transactions with `signer`.
pub fn connect_with_signer(rpc_url: &str, signer: PrivateKeySigner) -> Result<DynProvider> {
    let url = rpc_url.parse().map_err(|_| Error::Chain(format!("invalid RPC URL {rpc_url:?}")))?;
    Ok(ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url).erased())
}

/// The chain id behind `provider`, with an error that names the endpoint when it is unreachable.
pub async fn chain_id(provider: &DynProvider) -> Result<u64> {
    provider.get_chain_id().await.map_err(|e| Error::Chain(format!("cannot reach the RPC endpoint: {e}")))
}

/// Checks that the chain is `expected` (when given) and that `registry` holds contract code; returns the chain id.
pub async fn check_registry(provider: &DynProvider, registry: Address, expected_chain: Option<u64>) -> Result<u64> {
    let chain_id = chain_id(provider).await?;
    if let Some(expected) = expected_chain
        && expected != chain_id
    {
        return Err(Error::Chain(format!(
            "wrong chain: the RPC endpoint serves chain {chain_id}, expected {expected}"
        )));
    }
    let code = provider.get_code_at(registry).await.map_err(|e| Error::Chain(format!("cannot read code: {e}")))?;
    if code.is_empty() {
        return Err(Error::Chain(format!("no contract at {registry} on chain {chain_id}")));
    }
    Ok(chain_id)
}

/// Deploys a fresh ProvenanceRegistry and returns its address.
pub async fn deploy_registry(provider: &DynProvider) -> Result<(Address, TransactionReceipt)> {
    let tx = alloy::rpc::types::TransactionRequest::default().with_deploy_code(registry_bytecode());
    let receipt = send(provider, tx).await?;
    let address =
        receipt.contract_address.ok_or_else(|| Error::Chain("deployment receipt has no contract address".into()))?;
    Ok((address, receipt))
}

/// The addresses of an ERC-8004 deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentRegistries {
    /// The identity registry.
    pub identity: Address,
    /// The reputation registry.
    pub reputation: Address,
    /// The validation registry.
    pub validation: Address,
}

/// Deploys fresh ERC-8004 identity, reputation and validation registries; returns them and the block of the first.
pub async fn deploy_agent_registries(provider: &DynProvider) -> Result<(AgentRegistries, u64)> {
    use alloy::sol_types::SolValue;
    let deploy = |code: alloy::primitives::Bytes| async move {
        let receipt = send(provider, alloy::rpc::types::TransactionRequest::default().with_deploy_code(code)).await?;
        let address = receipt
            .contract_address
            .ok_or_else(|| Error::Chain("deployment receipt has no contract address".into()))?;
        Ok::<_, Error>((address, receipt.block_number.unwrap_or_default()))
    };
    let (identity, block) = deploy(bindings::identity_bytecode()).await?;
    let with_identity = |code: alloy::primitives::Bytes| [code.as_ref(), &identity.abi_encode()].concat().into();
    let (reputation, _) = deploy(with_identity(bindings::reputation_bytecode())).await?;
    let (validation, _) = deploy(with_identity(bindings::validation_bytecode())).await?;
    Ok((AgentRegistries { identity, reputation, validation }, block))
}

/// Sends a transaction and waits for its receipt, failing if it reverted.
pub async fn send(provider: &DynProvider, tx: alloy::rpc::types::TransactionRequest) -> Result<TransactionReceipt> {
    let pending = provider.send_transaction(tx).await.map_err(|e| Error::Chain(describe_rpc_error(&e)))?;
    wait(pending, 1).await
}

/// Waits for `confirmations` confirmations of a pending transaction and checks that it succeeded.
pub async fn wait(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    confirmations: u64,
) -> Result<TransactionReceipt> {
    let hash: TxHash = *pending.tx_hash();
    let receipt = pending
        .with_required_confirmations(confirmations)
        .with_timeout(Some(std::time::Duration::from_secs(600)))
        .get_receipt()
        .await
        .map_err(|e| Error::Chain(format!("transaction {hash} not confirmed: {e}")))?;
    if !receipt.status() {
        return Err(Error::Chain(format!("transaction {hash} reverted")));
    }
    Ok(receipt)
}

/// Turns an RPC error into a message, decoding the registry's custom errors when the node returns revert data.
pub fn describe_rpc_error(error: &alloy::transports::RpcError<alloy::transports::TransportErrorKind>) -> String {
    if let Some(payload) = error.as_error_resp()
        && let Some(decoded) = payload.as_decoded_interface_error::<IProvenanceRegistry::IProvenanceRegistryErrors>()
    {
        return format!("the registry refused the transaction: {decoded:?}");
    }
    error.to_string()
}

/// Turns a contract call error into a message, naming the registry's custom error when there is one.
pub fn describe_contract_error(error: &alloy::contract::Error) -> String {
    if let Some(decoded) = error.as_decoded_interface_error::<IProvenanceRegistry::IProvenanceRegistryErrors>() {
        return format!("the registry refused the transaction: {decoded:?}");
    }
    match error {
        alloy::contract::Error::TransportError(e) => describe_rpc_error(e),
        other => other.to_string(),
    }
}
