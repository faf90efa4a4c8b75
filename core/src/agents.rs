//! ERC-8004 agents end to end, shared by the `prova agent` commands, `prova dev` and the tests: registering an
//! agent and binding it to a model version, signing interaction receipts, giving and revoking feedback, validation
//! requests and answers, sending many such transactions at once, and loading a reputation registry's feedback from
//! raw chain logs so that scores can be recomputed with no database (`prova verify reputation`).
//!
//! Every sending function checks what it can before it signs (the chain, that the agent exists, that the sender
//! may act, that a receipt is usable now) and names the problem; a revert the checks did not foresee is decoded
//! from the registries' custom errors.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::client::BatchRequest;
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use alloy::transports::{RpcError, TransportErrorKind};
use serde::{Deserialize, Serialize};

use crate::bindings::IIdentityRegistry::{self, IIdentityRegistryErrors};
use crate::bindings::IReputationRegistry::{self, IReputationRegistryErrors, InteractionReceipt};
use crate::bindings::IValidationRegistry::{self, IValidationRegistryErrors};
use crate::bindings::MODEL_VERSION_KEY;
use crate::error::{Error, Result};
use crate::reputation::Feedback;

// ------------------------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------------------------

/// Explains a revert of an ERC-8004 registry (identity, reputation or validation) in words; `None` when the data is
/// none of their custom errors.
pub fn explain_revert(data: &[u8]) -> Option<String> {
    if let Ok(error) = IIdentityRegistryErrors::abi_decode(data) {
        return Some(explain_identity(&error));
    }
    if let Ok(error) = IReputationRegistryErrors::abi_decode(data) {
        return Some(explain_reputation(&error));
    }
    if let Ok(error) = IValidationRegistryErrors::abi_decode(data) {
        return Some(explain_validation(&error));
    }
    None
}

fn explain_identity(error: &IIdentityRegistryErrors) -> String {
    use IIdentityRegistryErrors as E;
    match error {
        E::IdentityUnauthorized(e) => format!("{} is not the owner or an operator of agent {}", e.caller, e.agentId),
        E::IdentityReservedMetadataKey(e) => {
            format!("metadata key {:?} is reserved; the agent wallet is set with setAgentWallet", e.metadataKey)
        }
        E::InvalidModelVersion(_) => format!("a {MODEL_VERSION_KEY} value must be a non-zero 32-byte version hash"),
        E::IdentityZeroWallet(_) => "the agent wallet cannot be the zero address (unset it instead)".into(),
        E::IdentityWalletSignatureExpired(e) => format!("the wallet's signature expired at unix time {}", e.deadline),
        E::IdentityInvalidWalletSignature(e) => {
            format!("the signature is not an AgentWallet signature of {}", e.newWallet)
        }
        E::ERC721NonexistentToken(e) => format!("agent {} does not exist in the identity registry", e.tokenId),
        E::ERC721InsufficientApproval(e) => format!("{} may not move agent {}", e.operator, e.tokenId),
    }
}

fn explain_reputation(error: &IReputationRegistryErrors) -> String {
    use IReputationRegistryErrors as E;
    match error {
        E::ReputationInvalidIdentityRegistry(e) => format!("identity registry {} has no code", e.identityRegistry),
        E::ReputationUnknownAgent(e) => format!("agent {} does not exist in the identity registry", e.agentId),
        E::ReputationSelfFeedback(e) => {
            format!("{} is the owner or an operator of agent {} and cannot rate it", e.caller, e.agentId)
        }
        E::ReputationInvalidValueDecimals(e) => format!("valueDecimals is {}; at most 18 are allowed", e.valueDecimals),
        E::ReputationUnknownFeedback(e) => {
            format!("{} has no feedback #{} for agent {}", e.clientAddress, e.feedbackIndex, e.agentId)
        }
        E::ReputationFeedbackAlreadyRevoked(e) => {
            format!("feedback #{} of {} for agent {} is already revoked", e.feedbackIndex, e.clientAddress, e.agentId)
        }
        E::ReputationEmptyClients(_) => "getSummary needs at least one client address".into(),
        E::ReceiptWrongAgent(e) => format!("the receipt is for agent {}, not agent {}", e.receiptAgentId, e.agentId),
        E::ReceiptWrongClient(e) => {
            format!("the receipt names client {}, but the sender is {}", e.receiptClient, e.caller)
        }
        E::ReceiptExpired(e) => format!("the receipt expired at unix time {}", e.deadline),
        E::InvalidReceiptSignature(e) => format!(
            "the receipt is not signed by {} (the agent's wallet, or its owner when it has no wallet)",
            e.expectedSigner
        ),
        E::ReceiptAlreadyUsed(e) => {
            format!("interaction {} of agent {} already backs a feedback", e.interactionHash, e.agentId)
        }
    }
}

fn explain_validation(error: &IValidationRegistryErrors) -> String {
    use IValidationRegistryErrors as E;
    match error {
        E::ValidationInvalidIdentityRegistry(e) => format!("identity registry {} has no code", e.identityRegistry),
        E::ValidationUnknownAgent(e) => format!("agent {} does not exist in the identity registry", e.agentId),
        E::ValidationUnauthorized(e) => format!("{} is not the owner or an operator of agent {}", e.caller, e.agentId),
        E::ValidationZeroValidator(_) => "the validator address cannot be zero".into(),
        E::ValidationZeroRequestHash(_) => "the request hash cannot be zero".into(),
        E::ValidationRequestExists(e) => format!("validation request {} already exists", e.requestHash),
        E::ValidationUnknownRequest(e) => format!("validation request {} does not exist", e.requestHash),
        E::ValidationNotValidator(e) => {
            format!("{} is not the validator named in request {}", e.caller, e.requestHash)
        }
        E::ValidationInvalidResponse(e) => format!("a validation response is 0 to 100, not {}", e.response),
    }
}

/// Turns an RPC error into a message, explaining a registry's custom error when the node returns revert data.
pub fn describe_rpc_error(error: &RpcError<TransportErrorKind>) -> String {
    if let Some(explained) = error.as_error_resp().and_then(|p| p.as_revert_data()).and_then(|d| explain_revert(&d)) {
        return format!("the registry refused the transaction: {explained}");
    }
    error.to_string()
}

/// Turns a contract call error into a message, explaining a registry's custom error when there is one.
pub fn describe_contract_error(error: &alloy::contract::Error) -> String {
    if let Some(explained) = error.as_revert_data().and_then(|d| explain_revert(&d)) {
        return format!("the registry refused the call: {explained}");
    }
    match error {
        alloy::contract::Error::TransportError(e) => describe_rpc_error(e),
        other => other.to_string(),
    }
}

fn call_error(error: alloy::contract::Error) -> Error {
    Error::Chain(describe_contract_error(&error))
}

// ------------------------------------------------------------------------------------------------------------------
// Accounts and transactions
// ------------------------------------------------------------------------------------------------------------------

/// A signing account on one chain: a provider that sends as it, and its address.
#[derive(Debug, Clone)]
pub struct Account {
    /// Signs and sends as [`Account::address`].
    pub provider: DynProvider,
    /// The account's address.
    pub address: Address,
}

impl Account {
    /// Connects to `rpc_url`, sending as `signer`.
    pub fn connect(rpc_url: &str, signer: PrivateKeySigner) -> Result<Self> {
        let address = signer.address();
        Ok(Self { provider: crate::chain::connect_with_signer(rpc_url, signer)?, address })
    }

    /// Sends `input` to `to`, waits for one confirmation and checks that it succeeded; a refusal is explained.
    pub async fn send(&self, to: Address, input: Bytes) -> Result<TransactionReceipt> {
        let tx = TransactionRequest::default().with_to(to).with_input(input);
        let pending = self.provider.send_transaction(tx).await.map_err(|e| Error::Chain(describe_rpc_error(&e)))?;
        crate::chain::wait(pending, 1).await
    }
}

/// Where a transaction landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxInfo {
    /// The transaction hash.
    pub tx_hash: B256,
    /// Its block.
    pub block_number: u64,
    /// Gas it used.
    pub gas_used: u64,
}

impl From<&TransactionReceipt> for TxInfo {
    fn from(receipt: &TransactionReceipt) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
        }
    }
}

/// The first log of `event` emitted by `contract` in `receipt`, decoded.
fn find_event<E: SolEvent>(receipt: &TransactionReceipt, contract: Address) -> Result<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == contract && log.topic0() == Some(&E::SIGNATURE_HASH))
        .find_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .ok_or_else(|| {
            Error::Chain(format!("transaction {} holds no {} event", receipt.transaction_hash, E::SIGNATURE))
        })
}

/// Checks that the chain is `expected` (when given) and that `contract` holds code; returns the chain id.
pub async fn check_contract(provider: &DynProvider, contract: Address, expected_chain: Option<u64>) -> Result<u64> {
    crate::chain::check_registry(provider, contract, expected_chain).await
}

/// The latest block's timestamp: "now" as the chain sees it (what receipt deadlines are checked against).
pub async fn chain_time(provider: &DynProvider) -> Result<u64> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| Error::Chain(format!("cannot read the latest block: {e}")))?
        .ok_or_else(|| Error::Chain("the RPC endpoint returned no latest block".into()))?;
    Ok(block.header.timestamp)
}

// ------------------------------------------------------------------------------------------------------------------
// Identity
// ------------------------------------------------------------------------------------------------------------------

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
        return Err(Error::Format("the model version hash cannot be zero".into()));
    }
    let receipt = account.send(identity, register_call(uri, model_version)).await?;
    let event: IIdentityRegistry::Registered = find_event(&receipt, identity)?;
    Ok(Registered { agent_id: event.agentId, owner: event.owner, model_version, tx: TxInfo::from(&receipt) })
}

/// Reads an agent; an unknown agent is an error that says so.
pub async fn agent_info(provider: &DynProvider, identity: Address, agent_id: U256) -> Result<AgentInfo> {
    let registry = IIdentityRegistry::new(identity, provider);
    let owner = registry.ownerOf(agent_id).call().await.map_err(|e| {
        match e.as_decoded_interface_error::<IIdentityRegistryErrors>() {
            Some(IIdentityRegistryErrors::ERC721NonexistentToken(_)) => {
                Error::Chain(format!("agent {agent_id} does not exist in identity registry {identity}"))
            }
            _ => call_error(e),
        }
    })?;
    let wallet = registry.getAgentWallet(agent_id).call().await.map_err(call_error)?;
    let version = registry.modelVersion(agent_id).call().await.map_err(call_error)?;
    let uri = registry.tokenURI(agent_id).call().await.map_err(call_error)?;
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
    if !registry.isAuthorizedOrOwner(who, agent_id).call().await.map_err(call_error)? {
        return Err(Error::Chain(format!(
            "the signing account {who} is not the owner ({}) or an operator of agent {agent_id}",
            info.owner
        )));
    }
    Ok(info)
}

/// Fails unless `version_hash` is registered in the ProvenanceRegistry at `registry`, not revoked and not signed by
/// a compromised key.
pub async fn check_model_version(provider: &DynProvider, registry: Address, version_hash: B256) -> Result<()> {
    let verdict = crate::verify::verify_model_version(provider, registry, version_hash, None).await?;
    match verdict.failure() {
        None => Ok(()),
        Some(reason) => Err(Error::Chain(format!("cannot bind the agent: {reason}"))),
    }
}

/// Binds `agent_id` to a ProvenanceRegistry model version (`setMetadata("prova.modelVersion", versionHash)`), sent
/// by its owner or an operator.
pub async fn bind_model(account: &Account, identity: Address, agent_id: U256, version_hash: B256) -> Result<TxInfo> {
    if version_hash.is_zero() {
        return Err(Error::Format("the model version hash cannot be zero".into()));
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

// ------------------------------------------------------------------------------------------------------------------
// Interaction receipts
// ------------------------------------------------------------------------------------------------------------------

/// The fields of an `InteractionReceipt`, in a JSON-friendly form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFields {
    /// The agent that served the interaction.
    pub agent_id: U256,
    /// The client that may give feedback with it.
    pub client: Address,
    /// Identifies the interaction (a job id, a payment transaction hash, ...); each backs one feedback.
    pub interaction_hash: B256,
    /// Unix time (chain time) after which the receipt is refused.
    pub deadline: u64,
}

impl ReceiptFields {
    /// The EIP-712 message.
    pub fn message(&self) -> InteractionReceipt {
        InteractionReceipt {
            agentId: self.agent_id,
            client: self.client,
            interactionHash: self.interaction_hash,
            deadline: U256::from(self.deadline),
        }
    }
}

/// An interaction receipt signed by the agent's wallet (or owner), as `prova agent receipt` writes it and
/// `prova agent feedback --receipt` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The chain of the reputation registry.
    pub chain_id: u64,
    /// The reputation registry whose EIP-712 domain the receipt is signed in.
    pub reputation_registry: Address,
    /// The receipt.
    pub receipt: ReceiptFields,
    /// Who signed it.
    pub signer: Address,
    /// The 65-byte ECDSA signature.
    pub signature: Bytes,
}

impl SignedReceipt {
    /// Signs `receipt` for the registry at `reputation` on `chain_id`.
    pub fn sign(signer: &PrivateKeySigner, chain_id: u64, reputation: Address, receipt: ReceiptFields) -> Result<Self> {
        let digest = receipt.message().signing_hash(chain_id, reputation);
        let signature =
            signer.sign_hash_sync(&digest).map_err(|e| Error::Key(format!("signing the receipt failed: {e}")))?;
        Ok(Self {
            chain_id,
            reputation_registry: reputation,
            receipt,
            signer: signer.address(),
            signature: signature.as_bytes().to_vec().into(),
        })
    }

    /// The address that produced the signature (whatever `signer` claims).
    pub fn recover_signer(&self) -> Result<Address> {
        let signature = alloy::primitives::Signature::try_from(self.signature.as_ref())
            .map_err(|e| Error::Format(format!("the receipt's signature is malformed: {e}")))?;
        let digest = self.receipt.message().signing_hash(self.chain_id, self.reputation_registry);
        signature
            .recover_address_from_prehash(&digest)
            .map_err(|e| Error::Format(format!("the receipt's signature does not recover: {e}")))
    }
}

/// Signs a receipt for `client` with `signer`, after checking that `signer` is who the registry will expect (the
/// agent's wallet, or its owner when it has none). The deadline is the chain's time plus `valid_for`.
pub async fn sign_receipt(
    provider: &DynProvider,
    reputation: Address,
    signer: &PrivateKeySigner,
    agent_id: U256,
    client: Address,
    interaction_hash: B256,
    valid_for: Duration,
) -> Result<SignedReceipt> {
    let chain_id = crate::chain::chain_id(provider).await?;
    let identity = identity_of_reputation(provider, reputation).await?;
    let agent = agent_info(provider, identity, agent_id).await?;
    let expected = agent.receipt_signer();
    if signer.address() != expected {
        let whose = match agent.wallet {
            Some(wallet) => format!("its wallet {wallet}"),
            None => format!("it has no wallet, so its owner {} signs", agent.owner),
        };
        return Err(Error::Key(format!("key {} cannot sign receipts for agent {agent_id}: {whose}", signer.address())));
    }
    if client.is_zero() {
        return Err(Error::Format("the receipt's client cannot be the zero address".into()));
    }
    let deadline = chain_time(provider).await? + valid_for.as_secs();
    SignedReceipt::sign(signer, chain_id, reputation, ReceiptFields { agent_id, client, interaction_hash, deadline })
}

/// The identity registry a reputation registry rates (checking that `reputation` holds a contract).
pub async fn identity_of_reputation(provider: &DynProvider, reputation: Address) -> Result<Address> {
    check_contract(provider, reputation, None).await?;
    IReputationRegistry::new(reputation, provider).getIdentityRegistry().call().await.map_err(|e| {
        Error::Chain(format!("{reputation} does not look like a reputation registry: {}", describe_contract_error(&e)))
    })
}

/// Checks, before sending, that `client` can give feedback to `agent_id` with `receipt` now: same chain and
/// registry, same agent and client, not expired by chain time, not used, and signed by the agent's wallet (or
/// owner).
pub async fn check_receipt(
    provider: &DynProvider,
    reputation: Address,
    agent_id: U256,
    client: Address,
    receipt: &SignedReceipt,
) -> Result<()> {
    let chain_id = crate::chain::chain_id(provider).await?;
    let r = &receipt.receipt;
    let refuse = |why: String| Err(Error::Chain(format!("the receipt cannot be used: {why}")));
    if receipt.chain_id != chain_id {
        return refuse(format!("it is for chain {}, but the RPC endpoint serves chain {chain_id}", receipt.chain_id));
    }
    if receipt.reputation_registry != reputation {
        return refuse(format!("it is for reputation registry {}, not {reputation}", receipt.reputation_registry));
    }
    if r.agent_id != agent_id {
        return refuse(format!("it is for agent {}, not agent {agent_id}", r.agent_id));
    }
    if r.client != client {
        return refuse(format!("it names client {}, but the sending key is {client}", r.client));
    }
    let now = chain_time(provider).await?;
    if now > r.deadline {
        return refuse(format!("it expired at unix time {} (chain time is {now})", r.deadline));
    }
    let registry = IReputationRegistry::new(reputation, provider);
    if registry.receiptUsed(agent_id, r.interaction_hash).call().await.map_err(call_error)? {
        return refuse(format!("interaction {} of agent {agent_id} already backs a feedback", r.interaction_hash));
    }
    let identity = registry.getIdentityRegistry().call().await.map_err(call_error)?;
    let expected = agent_info(provider, identity, agent_id).await?.receipt_signer();
    let signer = receipt.recover_signer()?;
    if signer != expected {
        return refuse(format!(
            "it is signed by {signer}, but agent {agent_id}'s receipts must be signed by {expected}"
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------------
// Feedback
// ------------------------------------------------------------------------------------------------------------------

/// One feedback to give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackInput {
    /// The rating, a fixed-point number: `value / 10^decimals`.
    pub value: i128,
    /// 0 to 18.
    pub decimals: u8,
    /// First tag ("" for none).
    pub tag1: String,
    /// Second tag ("" for none).
    pub tag2: String,
    /// The agent endpoint the feedback is about.
    pub endpoint: String,
    /// Off-chain feedback file.
    pub feedback_uri: String,
    /// keccak256 of the feedback file, or zero.
    pub feedback_hash: B256,
}

impl FeedbackInput {
    /// A plain rating with no tags or files.
    pub fn value(value: i128, decimals: u8) -> Self {
        Self { value, decimals, ..Self::default() }
    }
}

/// A feedback that made it on-chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedbackGiven {
    /// The rated agent.
    pub agent_id: U256,
    /// The client (sender).
    pub client: Address,
    /// Its index per (agent, client), from 1.
    pub feedback_index: u64,
    /// Whether it was given with a receipt.
    pub verified: bool,
    /// The transaction.
    #[serde(flatten)]
    pub tx: TxInfo,
}

/// The calldata of `giveFeedback`, or of `giveFeedbackWithReceipt` when a receipt is given.
pub fn feedback_call(agent_id: U256, input: &FeedbackInput, receipt: Option<&SignedReceipt>) -> Bytes {
    let f = input.clone();
    match receipt {
        None => IReputationRegistry::giveFeedbackCall {
            agentId: agent_id,
            value: f.value,
            valueDecimals: f.decimals,
            tag1: f.tag1,
            tag2: f.tag2,
            endpoint: f.endpoint,
            feedbackURI: f.feedback_uri,
            feedbackHash: f.feedback_hash,
        }
        .abi_encode()
        .into(),
        Some(r) => IReputationRegistry::giveFeedbackWithReceiptCall {
            agentId: agent_id,
            value: f.value,
            valueDecimals: f.decimals,
            tag1: f.tag1,
            tag2: f.tag2,
            endpoint: f.endpoint,
            feedbackURI: f.feedback_uri,
            feedbackHash: f.feedback_hash,
            receipt: r.receipt.message(),
            signature: r.signature.clone(),
        }
        .abi_encode()
        .into(),
    }
}

/// Gives `agent_id` feedback from `account`: verified when `receipt` is given (checked first, see
/// [`check_receipt`]), plain otherwise.
pub async fn give_feedback(
    account: &Account,
    reputation: Address,
    agent_id: U256,
    input: &FeedbackInput,
    receipt: Option<&SignedReceipt>,
) -> Result<FeedbackGiven> {
    if input.decimals > crate::reputation::MAX_DECIMALS {
        return Err(Error::Format(format!("--decimals is {}; at most 18 are allowed", input.decimals)));
    }
    let provider = &account.provider;
    let identity = identity_of_reputation(provider, reputation).await?;
    let agent = agent_info(provider, identity, agent_id).await?;
    let operator = IIdentityRegistry::new(identity, provider)
        .isAuthorizedOrOwner(account.address, agent_id)
        .call()
        .await
        .map_err(call_error)?;
    if operator {
        return Err(Error::Chain(format!(
            "{} is the owner ({}) or an operator of agent {agent_id}; an agent cannot be rated by its own side",
            account.address, agent.owner
        )));
    }
    if let Some(receipt) = receipt {
        check_receipt(provider, reputation, agent_id, account.address, receipt).await?;
    }
    let sent = account.send(reputation, feedback_call(agent_id, input, receipt)).await?;
    let event: IReputationRegistry::NewFeedback = find_event(&sent, reputation)?;
    Ok(FeedbackGiven {
        agent_id,
        client: account.address,
        feedback_index: event.feedbackIndex,
        verified: receipt.is_some(),
        tx: TxInfo::from(&sent),
    })
}

/// The calldata of `revokeFeedback`.
pub fn revoke_call(agent_id: U256, feedback_index: u64) -> Bytes {
    IReputationRegistry::revokeFeedbackCall { agentId: agent_id, feedbackIndex: feedback_index }.abi_encode().into()
}

/// Revokes `account`'s feedback number `feedback_index` to `agent_id`.
pub async fn revoke_feedback(
    account: &Account,
    reputation: Address,
    agent_id: U256,
    feedback_index: u64,
) -> Result<TxInfo> {
    check_contract(&account.provider, reputation, None).await?;
    let receipt = account.send(reputation, revoke_call(agent_id, feedback_index)).await?;
    Ok(TxInfo::from(&receipt))
}

// ------------------------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------------------------

/// Asks `validator` to validate work of `agent_id` (sent by its owner or an operator).
pub async fn request_validation(
    account: &Account,
    validation: Address,
    validator: Address,
    agent_id: U256,
    request_uri: &str,
    request_hash: B256,
) -> Result<TxInfo> {
    if validator.is_zero() {
        return Err(Error::Format("the validator address cannot be zero".into()));
    }
    if request_hash.is_zero() {
        return Err(Error::Format("the request hash cannot be zero".into()));
    }
    check_contract(&account.provider, validation, None).await?;
    let identity =
        IValidationRegistry::new(validation, &account.provider).getIdentityRegistry().call().await.map_err(|e| {
            Error::Chain(format!(
                "{validation} does not look like a validation registry: {}",
                describe_contract_error(&e)
            ))
        })?;
    require_operator(&account.provider, identity, agent_id, account.address).await?;
    let call = IValidationRegistry::validationRequestCall {
        validatorAddress: validator,
        agentId: agent_id,
        requestURI: request_uri.to_owned(),
        requestHash: request_hash,
    };
    Ok(TxInfo::from(&account.send(validation, call.abi_encode().into()).await?))
}

/// Answers validation request `request_hash` with `response` (0 to 100), sent by the validator it names.
pub async fn respond_validation(
    account: &Account,
    validation: Address,
    request_hash: B256,
    response: u8,
    response_uri: &str,
    response_hash: B256,
    tag: &str,
) -> Result<TxInfo> {
    if response > 100 {
        return Err(Error::Format(format!("a validation response is 0 to 100, not {response}")));
    }
    check_contract(&account.provider, validation, None).await?;
    let status = IValidationRegistry::new(validation, &account.provider)
        .getValidationStatus(request_hash)
        .call()
        .await
        .map_err(call_error)?;
    if status.validatorAddress != account.address {
        return Err(Error::Chain(format!(
            "request {request_hash} names validator {}, not the signing account {}",
            status.validatorAddress, account.address
        )));
    }
    let call = IValidationRegistry::validationResponseCall {
        requestHash: request_hash,
        response,
        responseURI: response_uri.to_owned(),
        responseHash: response_hash,
        tag: tag.to_owned(),
    };
    Ok(TxInfo::from(&account.send(validation, call.abi_encode().into()).await?))
}

// ------------------------------------------------------------------------------------------------------------------
// Many transactions at once (demo data, tests)
// ------------------------------------------------------------------------------------------------------------------

/// JSON-RPC calls per batch request.
const BATCH_CALLS: usize = 200;

/// Signs many transactions locally, each with an explicit nonce and gas limit so that none waits for another to be
/// mined, sends them in JSON-RPC batches and waits for all of them.
///
/// Transactions queued together must not depend on each other's effects unless they share a sender (nonces keep
/// one sender's transactions in order); send dependent ones in a later [`Bulk::send`].
#[derive(Debug)]
pub struct Bulk {
    provider: DynProvider,
    chain_id: u64,
    max_fee_per_gas: u128,
    priority_fee: u128,
    nonces: HashMap<Address, u64>,
    queued: Vec<Queued>,
}

#[derive(Debug)]
struct Queued {
    label: String,
    signer: PrivateKeySigner,
    to: Address,
    input: Bytes,
    value: U256,
    gas: u64,
}

impl Bulk {
    /// A bulk sender on the chain behind `provider` (read-only; the keys come with each transaction). The fee cap
    /// is fifty times the current estimate, so that the base fee can climb while full blocks are mined.
    pub async fn new(provider: DynProvider) -> Result<Self> {
        let chain_id = crate::chain::chain_id(&provider).await?;
        let fees =
            provider.estimate_eip1559_fees().await.map_err(|e| Error::Chain(format!("cannot estimate fees: {e}")))?;
        let priority_fee = fees.max_priority_fee_per_gas.max(1);
        let max_fee_per_gas = fees.max_fee_per_gas.max(1_000_000_000) * 50 + priority_fee;
        Ok(Self { provider, chain_id, max_fee_per_gas, priority_fee, nonces: HashMap::new(), queued: Vec::new() })
    }

    /// The most a transaction of `gas` gas can cost at this sender's fee cap (fund senders with at least this).
    pub fn max_cost(&self, gas: u64) -> U256 {
        U256::from(self.max_fee_per_gas) * U256::from(gas)
    }

    /// Queues a call from `signer` to `to` with gas limit `gas`; `label` names it in errors.
    pub fn push(&mut self, label: impl Into<String>, signer: &PrivateKeySigner, to: Address, input: Bytes, gas: u64) {
        self.queued.push(Queued { label: label.into(), signer: signer.clone(), to, input, value: U256::ZERO, gas });
    }

    /// Queues a plain transfer of `value` wei from `signer` to `to`.
    pub fn push_transfer(&mut self, signer: &PrivateKeySigner, to: Address, value: U256) {
        let label = format!("transfer to {to}");
        self.queued.push(Queued { label, signer: signer.clone(), to, input: Bytes::new(), value, gas: 21_000 });
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Signs and sends every queued transaction, then waits until all are mined and checks that each succeeded.
    /// With `mine`, the node is anvil and blocks are mined with `evm_mine` until all are in (use it with automine
    /// off to put many transactions in each block); otherwise the node mines on its own.
    pub async fn send(&mut self, mine: bool) -> Result<Vec<TransactionReceipt>> {
        let queued = std::mem::take(&mut self.queued);
        if queued.is_empty() {
            return Ok(Vec::new());
        }
        self.load_nonces(&queued).await?;
        let mut raw = Vec::with_capacity(queued.len());
        for q in &queued {
            let nonce = self.nonces.get_mut(&q.signer.address()).expect("loaded above");
            let tx = TransactionRequest::default()
                .with_from(q.signer.address())
                .with_to(q.to)
                .with_input(q.input.clone())
                .with_value(q.value)
                .with_nonce(*nonce)
                .with_gas_limit(q.gas)
                .with_max_fee_per_gas(self.max_fee_per_gas)
                .with_max_priority_fee_per_gas(self.priority_fee)
                .with_chain_id(self.chain_id);
            *nonce += 1;
            let envelope = tx
                .build(&EthereumWallet::from(q.signer.clone()))
                .await
                .map_err(|e| Error::Chain(format!("cannot sign {}: {e}", q.label)))?;
            raw.push(Bytes::from(envelope.encoded_2718()));
        }
        let mut hashes = Vec::with_capacity(raw.len());
        for (chunk, labels) in raw.chunks(BATCH_CALLS).zip(queued.chunks(BATCH_CALLS)) {
            let sent: Vec<B256> =
                self.batch("eth_sendRawTransaction", chunk.iter().map(|r| (r.clone(),)).collect()).await?;
            debug_assert_eq!(sent.len(), labels.len());
            hashes.extend(sent);
        }
        let receipts = self.wait_all(&hashes, mine).await?;
        for (receipt, q) in receipts.iter().zip(&queued) {
            if !receipt.status() {
                return Err(Error::Chain(format!("{} reverted (tx {})", q.label, receipt.transaction_hash)));
            }
        }
        Ok(receipts)
    }

    /// Reads the pending nonce of every sender not seen before.
    async fn load_nonces(&mut self, queued: &[Queued]) -> Result<()> {
        let mut new: Vec<Address> =
            queued.iter().map(|q| q.signer.address()).filter(|a| !self.nonces.contains_key(a)).collect();
        new.sort();
        new.dedup();
        for chunk in new.chunks(BATCH_CALLS) {
            let params = chunk.iter().map(|a| (*a, BlockNumberOrTag::Pending)).collect();
            let counts: Vec<alloy::primitives::U64> = self.batch("eth_getTransactionCount", params).await?;
            for (address, count) in chunk.iter().zip(counts) {
                self.nonces.insert(*address, count.to::<u64>());
            }
        }
        Ok(())
    }

    /// Waits for the receipts of `hashes`, in order.
    async fn wait_all(&self, hashes: &[B256], mine: bool) -> Result<Vec<TransactionReceipt>> {
        let mut receipts: Vec<Option<TransactionReceipt>> = vec![None; hashes.len()];
        let started = std::time::Instant::now();
        let mut mined_blocks = 0u32;
        loop {
            let missing: Vec<usize> = (0..hashes.len()).filter(|&i| receipts[i].is_none()).collect();
            if missing.is_empty() {
                return Ok(receipts.into_iter().map(|r| r.expect("all present")).collect());
            }
            if mine {
                if mined_blocks >= 10_000 {
                    return Err(Error::Chain(format!(
                        "{} transactions still not mined after {mined_blocks} blocks",
                        missing.len()
                    )));
                }
                let _: serde_json::Value = self
                    .provider
                    .raw_request("evm_mine".into(), ())
                    .await
                    .map_err(|e| Error::Chain(format!("evm_mine failed (is the node anvil?): {e}")))?;
                mined_blocks += 1;
            } else {
                if started.elapsed() > Duration::from_secs(600) {
                    return Err(Error::Chain(format!(
                        "{} transactions still not mined after 10 minutes",
                        missing.len()
                    )));
                }
                // No async sleep in core: wait for the next receipt the node's own way, then sweep the rest.
                let pending =
                    alloy::providers::PendingTransactionBuilder::new(self.provider.root().clone(), hashes[missing[0]])
                        .with_timeout(Some(Duration::from_secs(600)));
                let receipt = pending
                    .get_receipt()
                    .await
                    .map_err(|e| Error::Chain(format!("waiting for {}: {e}", hashes[missing[0]])))?;
                receipts[missing[0]] = Some(receipt);
            }
            for chunk in missing.chunks(BATCH_CALLS) {
                let params = chunk.iter().map(|&i| (hashes[i],)).collect();
                let found: Vec<Option<TransactionReceipt>> = self.batch("eth_getTransactionReceipt", params).await?;
                for (&i, receipt) in chunk.iter().zip(found) {
                    if receipts[i].is_none() {
                        receipts[i] = receipt;
                    }
                }
            }
        }
    }

    async fn batch<P: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        params: Vec<P>,
    ) -> Result<Vec<R>> {
        rpc_batch(&self.provider, method, params).await
    }
}

/// Calls `method` once per element of `params` in one JSON-RPC batch request; the results in order.
pub async fn rpc_batch<P: Serialize, R: serde::de::DeserializeOwned>(
    provider: &DynProvider,
    method: &'static str,
    params: Vec<P>,
) -> Result<Vec<R>> {
    let mut results = Vec::with_capacity(params.len());
    for chunk in params.chunks(BATCH_CALLS) {
        let mut batch = BatchRequest::new(provider.client());
        let mut waiters = Vec::with_capacity(chunk.len());
        for p in chunk {
            let p = serde_json::to_value(p).map_err(|e| Error::Chain(format!("{method}: {e}")))?;
            let waiter = batch.add_call::<serde_json::Value, serde_json::Value>(method, &p);
            waiters.push(waiter.map_err(|e| Error::Chain(format!("{method}: {e}")))?);
        }
        batch.send().await.map_err(|e| Error::Chain(format!("{method} batch failed: {e}")))?;
        for waiter in waiters {
            let value =
                waiter.await.map_err(|e| Error::Chain(format!("{method} failed: {}", describe_rpc_error(&e))))?;
            results.push(
                serde_json::from_value(value).map_err(|e| Error::Chain(format!("{method} answered oddly: {e}")))?,
            );
        }
    }
    Ok(results)
}

/// Gives every address in `accounts` a balance of at least `amount` wei: with `anvil_setBalance` when the node has
/// it, else by transfers from `payer`.
pub async fn fund(provider: &DynProvider, accounts: &[Address], amount: U256, payer: &PrivateKeySigner) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let anvil: std::result::Result<serde_json::Value, _> =
        provider.raw_request("anvil_setBalance".into(), (accounts[0], amount)).await;
    if anvil.is_ok() {
        let params: Vec<(Address, U256)> = accounts.iter().map(|a| (*a, amount)).collect();
        let _: Vec<serde_json::Value> = rpc_batch(provider, "anvil_setBalance", params).await?;
        return Ok(());
    }
    let mut bulk = Bulk::new(provider.clone()).await?;
    for account in accounts {
        bulk.push_transfer(payer, *account, amount);
    }
    bulk.send(false).await.map(drop)
}

// ------------------------------------------------------------------------------------------------------------------
// Feedback from raw chain logs
// ------------------------------------------------------------------------------------------------------------------

/// A reputation registry's feedback as the chain's logs give it up to one block, with the owner of every agent as
/// the identity registry's logs give it up to a block (usually the same one): the input of
/// [`crate::reputation`]'s scoring functions, read with no database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainFeedback {
    /// The chain.
    pub chain_id: u64,
    /// The identity registry (owners come from its ERC-721 `Transfer` logs).
    pub identity: Address,
    /// The reputation registry (`NewFeedback`, `FeedbackRevoked` and `VerifiedFeedback` logs).
    pub reputation: Address,
    /// The last block of the reputation registry read.
    pub block: u64,
    /// The last block of the identity registry read.
    pub identity_block: u64,
    /// Every feedback record of a known agent, with its owner, revocation and receipt flag, in log order.
    pub feedback: Vec<Feedback>,
    /// The owner of every agent of the identity registry as of `identity_block` (zero for a burned one).
    pub owners: BTreeMap<U256, Address>,
    /// Feedback records left out because their agent has no `Transfer` up to `identity_block` (only possible when
    /// `identity_block` is below `block`, or the logs are read from after the agent's registration).
    pub unknown_agent_records: usize,
}

/// Reads the feedback of `reputation` and the owners of the agents of `identity` from their logs in blocks
/// `from_block..=to_block` (the latest block when `None`); see [`load_feedback_split`].
pub async fn load_feedback(
    provider: &DynProvider,
    identity: Address,
    reputation: Address,
    from_block: u64,
    to_block: Option<u64>,
) -> Result<ChainFeedback> {
    let to_block = match to_block {
        Some(block) => block,
        None => provider.get_block_number().await.map_err(|e| Error::Chain(format!("cannot read the head: {e}")))?,
    };
    load_feedback_split(provider, identity, reputation, from_block, to_block, to_block).await
}

/// Reads the feedback of `reputation` from its logs in `from_block..=reputation_block`, and the owners of the agents
/// of `identity` from its `Transfer` logs in `from_block..=identity_block` (an indexer may have read the two
/// registries to different blocks). Each record carries its agent's owner as of `identity_block`; records of agents
/// with no `Transfer` by then are left out and counted. Block times come from the logs or, where the node leaves
/// them out, from the block headers. Fails if `reputation` does not rate `identity`'s agents.
pub async fn load_feedback_split(
    provider: &DynProvider,
    identity: Address,
    reputation: Address,
    from_block: u64,
    reputation_block: u64,
    identity_block: u64,
) -> Result<ChainFeedback> {
    let chain_id = crate::chain::chain_id(provider).await?;
    check_contract(provider, identity, None).await?;
    let linked = identity_of_reputation(provider, reputation).await?;
    if linked != identity {
        return Err(Error::Chain(format!(
            "reputation registry {reputation} rates the agents of identity registry {linked}, not {identity}"
        )));
    }

    let transfer = vec![IIdentityRegistry::Transfer::SIGNATURE_HASH];
    let transfers = get_logs(provider, identity, transfer, from_block, identity_block).await?;
    let mut owners = BTreeMap::new();
    for log in &transfers {
        let transfer = log
            .log_decode::<IIdentityRegistry::Transfer>()
            .map_err(|e| Error::Chain(format!("undecodable Transfer log of {identity}: {e}")))?
            .inner
            .data;
        owners.insert(transfer.tokenId, transfer.to);
    }

    let topics = vec![
        IReputationRegistry::NewFeedback::SIGNATURE_HASH,
        IReputationRegistry::FeedbackRevoked::SIGNATURE_HASH,
        IReputationRegistry::VerifiedFeedback::SIGNATURE_HASH,
    ];
    let logs = get_logs(provider, reputation, topics, from_block, reputation_block).await?;
    let times = block_times(provider, &logs).await?;
    let mut records: Vec<Feedback> = Vec::new();
    let mut position: HashMap<(U256, Address, u64), usize> = HashMap::new();
    let mut unknown_agent_records = 0;
    for log in &logs {
        let undecodable = |e: alloy::sol_types::Error| Error::Chain(format!("undecodable log of {reputation}: {e}"));
        let block = log.block_number.unwrap_or_default();
        match log.topic0() {
            Some(&IReputationRegistry::NewFeedback::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::NewFeedback>().map_err(undecodable)?.inner.data;
                let Some(&owner) = owners.get(&e.agentId) else {
                    unknown_agent_records += 1;
                    continue;
                };
                let key = (e.agentId, e.clientAddress, e.feedbackIndex);
                if position.insert(key, records.len()).is_some() {
                    return Err(Error::Chain(format!("feedback {key:?} appears twice in the logs of {reputation}")));
                }
                records.push(Feedback {
                    agent_id: e.agentId,
                    agent_owner: owner,
                    client: e.clientAddress,
                    feedback_index: e.feedbackIndex,
                    value: e.value,
                    decimals: e.valueDecimals,
                    tag1: e.tag1,
                    tag2: e.tag2,
                    revoked: false,
                    verified: false,
                    timestamp: i64::try_from(times[&block]).unwrap_or(i64::MAX),
                });
            }
            Some(&IReputationRegistry::FeedbackRevoked::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::FeedbackRevoked>().map_err(undecodable)?.inner.data;
                if let Some(&i) = position.get(&(e.agentId, e.clientAddress, e.feedbackIndex)) {
                    records[i].revoked = true;
                }
            }
            Some(&IReputationRegistry::VerifiedFeedback::SIGNATURE_HASH) => {
                let e = log.log_decode::<IReputationRegistry::VerifiedFeedback>().map_err(undecodable)?.inner.data;
                if let Some(&i) = position.get(&(e.agentId, e.clientAddress, e.feedbackIndex)) {
                    records[i].verified = true;
                }
            }
            _ => {}
        }
    }
    Ok(ChainFeedback {
        chain_id,
        identity,
        reputation,
        block: reputation_block,
        identity_block,
        feedback: records,
        owners,
        unknown_agent_records,
    })
}

/// Every log of `address` with one of `topics` as topic0 in `from..=to`, in chain order (see
/// [`crate::audit::get_logs`]).
async fn get_logs(provider: &DynProvider, address: Address, topics: Vec<B256>, from: u64, to: u64) -> Result<Vec<Log>> {
    crate::audit::get_logs(provider, &Filter::new().address(address).event_signature(topics), from, to).await
}

/// The timestamp of every block that holds one of `logs`.
async fn block_times(provider: &DynProvider, logs: &[Log]) -> Result<HashMap<u64, u64>> {
    let mut times = HashMap::new();
    let mut missing = Vec::new();
    for log in logs {
        let block = log.block_number.ok_or_else(|| Error::Chain("a log without a block number".into()))?;
        match log.block_timestamp {
            Some(ts) => {
                times.insert(block, ts);
            }
            None => missing.push(block),
        }
    }
    missing.sort_unstable();
    missing.dedup();
    missing.retain(|b| !times.contains_key(b));
    let params: Vec<(BlockNumberOrTag, bool)> = missing.iter().map(|b| (BlockNumberOrTag::Number(*b), false)).collect();
    let headers: Vec<Option<serde_json::Value>> = rpc_batch(provider, "eth_getBlockByNumber", params).await?;
    for (block, header) in missing.into_iter().zip(headers) {
        let ts = header
            .as_ref()
            .and_then(|h| h["timestamp"].as_str())
            .and_then(|t| u64::from_str_radix(t.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| Error::Chain(format!("block {block} has no readable timestamp")))?;
        times.insert(block, ts);
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverts_are_explained() {
        let data = IReputationRegistryErrors::ReputationSelfFeedback(IReputationRegistry::ReputationSelfFeedback {
            agentId: U256::from(7),
            caller: Address::repeat_byte(0xaa),
        })
        .abi_encode();
        let text = explain_revert(&data).unwrap();
        assert!(text.contains("cannot rate it") && text.contains("agent 7"), "{text}");
        let data = IIdentityRegistryErrors::ERC721NonexistentToken(IIdentityRegistry::ERC721NonexistentToken {
            tokenId: U256::from(3),
        })
        .abi_encode();
        assert_eq!(explain_revert(&data).unwrap(), "agent 3 does not exist in the identity registry");
        assert_eq!(explain_revert(&[1, 2, 3, 4]), None);
    }

    #[test]
    fn a_signed_receipt_recovers_its_signer_and_round_trips_as_json() {
        let signer = PrivateKeySigner::random();
        let fields = ReceiptFields {
            agent_id: U256::from(1),
            client: Address::repeat_byte(1),
            interaction_hash: B256::repeat_byte(2),
            deadline: 1_800_000_000,
        };
        let signed = SignedReceipt::sign(&signer, 31337, Address::repeat_byte(3), fields).unwrap();
        assert_eq!(signed.recover_signer().unwrap(), signer.address());
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedReceipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signed);
        let mut forged = signed.clone();
        forged.receipt.client = Address::repeat_byte(9);
        assert_ne!(forged.recover_signer().unwrap(), signer.address());
    }

    #[test]
    fn register_calldata_selects_the_overload() {
        let plain = register_call("ipfs://a", None);
        assert_eq!(plain[..4], IIdentityRegistry::register_1Call::SELECTOR);
        let bound = register_call("ipfs://a", Some(B256::repeat_byte(1)));
        assert_eq!(bound[..4], IIdentityRegistry::register_2Call::SELECTOR);
    }
}
