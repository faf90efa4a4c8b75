//! Talking to an EVM chain: connections that retry transient faults, one `eth_getLogs` pager (which refuses logs
//! its filter did not ask for), one revert decoder for every prova contract, pinning a contract's code ([`code`]),
//! and deploying, sending and waiting for transactions. Every connection goes through
//! [`endpoint::Http`], so no error or log line shows more of an endpoint's URL than its scheme, host and port
//! (providers put their API key in the path, the query or the user info).
//!
//! This crate may depend on `prova-core` (bindings) and alloy; it holds no database, no HTTP server and no
//! command-line parsing. The indexer, the attestor, the auditor (`prova-verify`) and the local devnet all reach the
//! chain through it.

pub mod batch;
pub mod code;
pub mod endpoint;
pub mod error;
pub mod logs;
pub mod revert;
pub mod rpc;
pub mod tx;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, TxHash};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::ClientBuilder;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::layers::RetryBackoffLayer;
use prova_core::bindings;

pub use batch::rpc_batch;
pub use code::{CodePin, Shipped, check_code, code_hash};
pub use endpoint::{redact_url, scrub_url};
pub use error::{Error, Result};
pub use logs::{decode, describe_log, get_logs};
pub use revert::{call_error, contract_answer, describe_contract_error, explain_revert, rpc_error, view};
pub use tx::{Account, TxInfo, chain_time, find_event, next_block_time};

/// Retries of a transient fault (rate limit, 5xx, timeout, dropped connection) on connections made by [`connect`].
const RETRIES: u32 = 5;
/// First backoff of those retries, in milliseconds (doubled per retry, with jitter, by alloy's retry layer).
const BACKOFF_MS: u64 = 250;

/// The transport of every connection: [`endpoint::Http`], so that no error or log line repeats the URL.
fn transport(rpc_url: &str) -> Result<endpoint::Http> {
    Ok(endpoint::Http::new(rpc_url.parse().map_err(|_| Error::InvalidUrl)?))
}

fn client(rpc_url: &str) -> Result<alloy::rpc::client::RpcClient> {
    let http = transport(rpc_url)?;
    let local = http.is_local();
    let layer = RetryBackoffLayer::new_with_policy(RETRIES, BACKOFF_MS, u64::MAX, rpc::TransientFaults);
    Ok(ClientBuilder::default().layer(layer).transport(http, local))
}

/// A read-only provider for `rpc_url` whose calls retry transient faults ([`rpc::TransientFaults`]).
pub fn connect(rpc_url: &str) -> Result<DynProvider> {
    Ok(ProviderBuilder::new().connect_client(client(rpc_url)?).erased())
}

/// A provider with no retry layer, for a caller that runs its own retry loop ([`rpc::Rpc`]).
pub fn connect_without_retries(rpc_url: &str) -> Result<DynProvider> {
    let http = transport(rpc_url)?;
    let local = http.is_local();
    Ok(ProviderBuilder::new().connect_client(ClientBuilder::default().transport(http, local)).erased())
}

/// A provider that signs and sends transactions with `signer`, retrying transient faults like [`connect`].
pub fn connect_with_signer(rpc_url: &str, signer: PrivateKeySigner) -> Result<DynProvider> {
    Ok(ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_client(client(rpc_url)?).erased())
}

/// The chain id behind `provider`, with an error that says the endpoint is unreachable.
pub async fn chain_id(provider: &DynProvider) -> Result<u64> {
    provider.get_chain_id().await.map_err(Error::Unreachable)
}

/// Checks that the chain is `expected` (when given) and that `contract` holds code; returns the chain id.
pub async fn check_contract(provider: &DynProvider, contract: Address, expected_chain: Option<u64>) -> Result<u64> {
    let chain_id = chain_id(provider).await?;
    if let Some(expected) = expected_chain
        && expected != chain_id
    {
        return Err(Error::WrongChain { actual: chain_id, expected });
    }
    let code = provider
        .get_code_at(contract)
        .await
        .map_err(|source| Error::Rpc { what: format!("reading the code at {contract}"), source })?;
    if code.is_empty() {
        return Err(Error::NoContract { address: contract, chain_id });
    }
    Ok(chain_id)
}

/// Checks that the chain is `expected` (when given) and that `registry` holds a ProvenanceRegistry: contract code
/// whose `domainSeparator()` is the EIP-712 domain of a ProvenanceRegistry at that address on that chain (what every
/// signature for it commits to). Returns the chain id.
pub async fn check_registry(provider: &DynProvider, registry: Address, expected_chain: Option<u64>) -> Result<u64> {
    let not_one = |chain_id, reason| Error::NotARegistry { address: registry, chain_id, reason };
    let chain_id = match check_contract(provider, registry, expected_chain).await {
        Err(Error::NoContract { chain_id, .. }) => return Err(not_one(chain_id, "no contract at that address")),
        other => other?,
    };
    let expected = bindings::registry_domain(chain_id, registry).separator();
    match bindings::IProvenanceRegistry::new(registry, provider).domainSeparator().call().await {
        Ok(separator) if separator == expected => Ok(chain_id),
        Ok(_) => Err(not_one(chain_id, "the contract there has another EIP-712 domain")),
        Err(error) if revert::contract_answer(&error).is_some() => {
            Err(not_one(chain_id, "the contract there does not answer domainSeparator()"))
        }
        Err(error) => Err(call_error(format!("asking {registry} for its domainSeparator()"), error)),
    }
}

/// Deploys a fresh ProvenanceRegistry and returns its address.
pub async fn deploy_registry(provider: &DynProvider) -> Result<(Address, TransactionReceipt)> {
    let tx = alloy::rpc::types::TransactionRequest::default().with_deploy_code(bindings::registry_bytecode());
    let receipt = send(provider, tx).await?;
    let address = receipt
        .contract_address
        .ok_or_else(|| Error::Missing("the deployment receipt has no contract address".into()))?;
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
            .ok_or_else(|| Error::Missing("the deployment receipt has no contract address".into()))?;
        Ok::<_, Error>((address, receipt.block_number.unwrap_or_default()))
    };
    let (identity, block) = deploy(bindings::identity_bytecode()).await?;
    let with_identity = |code: alloy::primitives::Bytes| [code.as_ref(), &identity.abi_encode()].concat().into();
    let (reputation, _) = deploy(with_identity(bindings::reputation_bytecode())).await?;
    let (validation, _) = deploy(with_identity(bindings::validation_bytecode())).await?;
    Ok((AgentRegistries { identity, reputation, validation }, block))
}

/// Sends a transaction and waits for its receipt, failing if it reverted; a refusal is explained.
pub async fn send(provider: &DynProvider, tx: alloy::rpc::types::TransactionRequest) -> Result<TransactionReceipt> {
    let pending = provider.send_transaction(tx).await.map_err(|e| rpc_error("sending the transaction", e))?;
    wait(pending, 1).await
}

/// How long a transaction may take to be mined and confirmed.
const CONFIRMATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits for `confirmations` confirmations of a pending transaction and checks that it succeeded.
///
/// The receipt is polled for (alloy's block watcher can miss the block of a transaction mined while it was paused,
/// which fast chains make likely), then the head, until it is `confirmations - 1` blocks past the receipt's block;
/// the receipt is read again then, so a transaction moved by a reorg meanwhile is waited for in its new block.
pub async fn wait(
    pending: alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    confirmations: u64,
) -> Result<TransactionReceipt> {
    let hash: TxHash = *pending.tx_hash();
    let provider = pending.provider().clone();
    let poll = provider.client().poll_interval();
    let deadline = tokio::time::Instant::now() + CONFIRMATION_TIMEOUT;
    let not_confirmed = |source| Error::NotConfirmed { hash, source: Box::new(source) };
    let mut receipt = pending
        .with_required_confirmations(1)
        .with_timeout(Some(CONFIRMATION_TIMEOUT))
        .get_receipt()
        .await
        .map_err(not_confirmed)?;
    let rpc = |what: &str| {
        let what = format!("{what} of transaction {hash}");
        move |source| Error::Rpc { what, source }
    };
    if confirmations > 1 {
        loop {
            let mined = receipt.block_number.unwrap_or_default();
            let head = provider.get_block_number().await.map_err(rpc("waiting for confirmations"))?;
            if head + 1 >= mined + confirmations {
                match provider.get_transaction_receipt(hash).await.map_err(rpc("reading the receipt"))? {
                    Some(now) if now.block_hash == receipt.block_hash => break,
                    // Moved by a reorg, or back in the pool: wait for it where it lands.
                    Some(now) => receipt = now,
                    None => {}
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(not_confirmed(alloy::providers::PendingTransactionError::TxWatcher(
                    alloy::providers::WatchTxError::Timeout,
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
    if !receipt.status() {
        return Err(Error::Reverted(hash));
    }
    Ok(receipt)
}

/// The identity registry a reputation registry rates (checking that `reputation` holds a contract).
pub async fn identity_of_reputation(provider: &DynProvider, reputation: Address) -> Result<Address> {
    check_contract(provider, reputation, None).await?;
    bindings::IReputationRegistry::new(reputation, provider).getIdentityRegistry().call().await.map_err(|e| {
        call_error(format!("asking {reputation} for its identity registry (is it a reputation registry?)"), e)
    })
}
