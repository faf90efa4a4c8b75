//! `prova agent ...`: ERC-8004 agents. Register one (optionally bound to a model version), bind a model version,
//! sign interaction receipts with the agent's wallet key, give and revoke feedback, and ask for or give
//! validations. Keys come from `--keystore` or `PROVA_PRIVATE_KEY`, never from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::explain::Sender;
use crate::signer::KeyArgs;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::DynProvider;
use anyhow::Context;
use clap::{Args, Subcommand};
use prova_attestor::agents::{self, FeedbackInput};
use prova_chain::{Account, TxInfo};
use prova_core::interaction::SignedReceipt;

use super::parse_b256;

/// Agent subcommands.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register a new agent owned by the signing account; prints its agent id.
    Register(RegisterArgs),
    /// Bind an agent to a ProvenanceRegistry model version (metadata "prova.modelVersion"; owner or operator).
    BindModel(BindModelArgs),
    /// Show an agent: owner, wallet, model version and registration file.
    Show(ShowArgs),
    /// Sign an interaction receipt for a client with the agent's wallet key (or its owner's, when it has none).
    Receipt(ReceiptArgs),
    /// Give an agent feedback from the signing account: verified with --receipt, plain without.
    Feedback(FeedbackArgs),
    /// Revoke one of the signing account's feedbacks.
    Revoke(RevokeArgs),
    /// Ask a validator to check an agent's work, or answer such a request.
    #[command(subcommand)]
    Validate(ValidateCommand),
}

/// Validation subcommands.
#[derive(Debug, Subcommand)]
pub enum ValidateCommand {
    /// Ask a validator to validate work of an agent (sent by the agent's owner or an operator).
    Request(ValidateRequestArgs),
    /// Answer a validation request with a score from 0 to 100 (sent by the validator it names).
    Respond(ValidateRespondArgs),
}

/// The chain, shared by every agent command.
#[derive(Debug, Clone, Args)]
pub struct RpcArgs {
    /// JSON-RPC endpoint of the chain, e.g. http://127.0.0.1:8545.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc_url: String,
    /// Refuse to act unless the RPC endpoint serves this chain id.
    #[arg(long, env = "PROVA_CHAIN_ID")]
    pub chain_id: Option<u64>,
}

impl RpcArgs {
    /// A read-only provider, after checking the chain id and that `contract` holds code.
    async fn read(&self, contract: Address) -> anyhow::Result<DynProvider> {
        let provider = prova_chain::connect(&self.rpc_url)?;
        prova_chain::check_contract(&provider, contract, self.chain_id).await?;
        Ok(provider)
    }

    /// An account sending with `key`, after checking the chain id and that `contract` holds code.
    async fn account(&self, key: &KeyArgs, contract: Address) -> anyhow::Result<Account> {
        let account = Account::connect(&self.rpc_url, key.load()?)?;
        prova_chain::check_contract(&account.provider, contract, self.chain_id).await?;
        Ok(account)
    }
}

/// Arguments of `prova agent register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The agent's registration file (ERC-8004 agentURI), e.g. ipfs://... or https://...
    #[arg(long, default_value = "")]
    pub uri: String,
    /// Bind the new agent to this ProvenanceRegistry version hash at registration.
    #[arg(long, value_parser = parse_b256)]
    pub model_version: Option<B256>,
    /// A ProvenanceRegistry: refuse a --model-version that is not registered (or is revoked) there.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Option<Address>,
    /// Address of the ERC-8004 identity registry.
    #[arg(long, env = "PROVA_IDENTITY_REGISTRY")]
    pub identity_registry: Address,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The key of the new agent's owner.
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `prova agent bind-model`.
#[derive(Debug, Args)]
pub struct BindModelArgs {
    /// The agent id.
    pub agent_id: U256,
    /// The ProvenanceRegistry version hash the agent runs.
    #[arg(value_parser = parse_b256)]
    pub version_hash: B256,
    /// A ProvenanceRegistry: refuse a version that is not registered (or is revoked) there.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Option<Address>,
    /// Address of the ERC-8004 identity registry.
    #[arg(long, env = "PROVA_IDENTITY_REGISTRY")]
    pub identity_registry: Address,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The key of the agent's owner or an operator.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `prova agent show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The agent id.
    pub agent_id: U256,
    /// Address of the ERC-8004 identity registry.
    #[arg(long, env = "PROVA_IDENTITY_REGISTRY")]
    pub identity_registry: Address,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
}

/// Arguments of `prova agent receipt`.
#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// The agent that served the interaction.
    pub agent_id: U256,
    /// The client that may give feedback with the receipt.
    #[arg(long)]
    pub client: Address,
    /// Identifies the interaction (a job id hash, a payment transaction hash); random when neither this nor
    /// --interaction-file is given. Each interaction backs one feedback.
    #[arg(long, value_parser = parse_b256, conflicts_with = "interaction_file")]
    pub interaction_hash: Option<B256>,
    /// A file describing the interaction (a job record, an invoice); its keccak256 is the interaction hash.
    #[arg(long)]
    pub interaction_file: Option<PathBuf>,
    /// How long the receipt stays usable, in chain time: e.g. 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub valid_for: Duration,
    /// Address of the ERC-8004 reputation registry the receipt is for.
    #[arg(long, env = "PROVA_REPUTATION_REGISTRY")]
    pub reputation_registry: Address,
    /// Write the receipt JSON here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The key of the agent's owner or of its wallet (the signer must hold one of the roles at the receipt's issue
    /// time; the receipt stays usable until its deadline even if the role changes hands later).
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `prova agent feedback`.
#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The agent to rate.
    pub agent_id: U256,
    /// The rating, conventionally 0 to 100: an integer, or a decimal such as 87.5 (its digits set the decimals).
    #[arg(long, allow_hyphen_values = true)]
    pub value: String,
    /// valueDecimals, 0 to 18 (default: the number of digits after the point in --value).
    #[arg(long)]
    pub decimals: Option<u8>,
    /// First tag, e.g. "quality".
    #[arg(long, default_value = "")]
    pub tag1: String,
    /// Second tag.
    #[arg(long, default_value = "")]
    pub tag2: String,
    /// The agent endpoint the feedback is about.
    #[arg(long, default_value = "")]
    pub endpoint: String,
    /// Off-chain feedback file.
    #[arg(long, default_value = "")]
    pub feedback_uri: String,
    /// keccak256 of the feedback file.
    #[arg(long, value_parser = parse_b256, default_value = "")]
    pub feedback_hash: B256,
    /// An interaction receipt from `prova agent receipt`: the feedback is recorded as verified.
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Address of the ERC-8004 reputation registry.
    #[arg(long, env = "PROVA_REPUTATION_REGISTRY")]
    pub reputation_registry: Address,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The client's key (the receipt's client when --receipt is given).
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `prova agent revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The rated agent.
    pub agent_id: U256,
    /// The feedback's index among the signing account's feedbacks to the agent (from 1).
    pub feedback_index: u64,
    /// Address of the ERC-8004 reputation registry.
    #[arg(long, env = "PROVA_REPUTATION_REGISTRY")]
    pub reputation_registry: Address,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The client's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `prova agent validate request`.
#[derive(Debug, Args)]
pub struct ValidateRequestArgs {
    /// The agent whose work is to be validated.
    pub agent_id: U256,
    /// The validator asked.
    #[arg(long)]
    pub validator: Address,
    /// Where the validator finds the inputs.
    #[arg(long, default_value = "")]
    pub request_uri: String,
    /// Commitment to the request (it identifies the request, so it must be new).
    #[arg(long, value_parser = parse_b256, required_unless_present = "request_file", conflicts_with = "request_file")]
    pub request_hash: Option<B256>,
    /// The request file; its keccak256 is the request hash.
    #[arg(long)]
    pub request_file: Option<PathBuf>,
    /// Address of the ERC-8004 validation registry.
    #[arg(long, env = "PROVA_VALIDATION_REGISTRY")]
    pub validation_registry: Address,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The key of the agent's owner or an operator.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `prova agent validate respond`.
#[derive(Debug, Args)]
pub struct ValidateRespondArgs {
    /// The request answered.
    #[arg(value_parser = parse_b256)]
    pub request_hash: B256,
    /// The agent whose work was validated; the answer is refused if the request on-chain names another agent (a
    /// request hash copied from the mempool for someone else's agent).
    #[arg(long)]
    pub agent_id: U256,
    /// The score, 0 to 100.
    #[arg(long)]
    pub response: u8,
    /// Evidence.
    #[arg(long, default_value = "")]
    pub response_uri: String,
    /// Commitment to the evidence.
    #[arg(long, value_parser = parse_b256, conflicts_with = "response_file")]
    pub response_hash: Option<B256>,
    /// The evidence file; its keccak256 is the response hash.
    #[arg(long)]
    pub response_file: Option<PathBuf>,
    /// A tag, e.g. "zkml" or "tee".
    #[arg(long, default_value = "")]
    pub tag: String,
    /// Address of the ERC-8004 validation registry.
    #[arg(long, env = "PROVA_VALIDATION_REGISTRY")]
    pub validation_registry: Address,
    /// The chain.
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// The validator's key.
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

impl AgentCommand {
    /// Runs the subcommand.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Self::Register(args) => register(args).await,
            Self::BindModel(args) => bind_model(args).await,
            Self::Show(args) => show(args).await,
            Self::Receipt(args) => receipt(args).await,
            Self::Feedback(args) => feedback(args).await,
            Self::Revoke(args) => {
                let account = args.rpc.account(&args.key, args.reputation_registry).await?;
                let tx =
                    agents::revoke_feedback(&account, args.reputation_registry, args.agent_id, args.feedback_index)
                        .await
                        .context(sender(&account))?;
                if args.json {
                    let value = serde_json::json!({
                        "agent_id": args.agent_id.to_string(),
                        "client": account.address,
                        "feedback_index": args.feedback_index,
                        "tx": tx,
                    });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!(
                        "revoked       feedback #{} of {} to agent {}",
                        args.feedback_index, account.address, args.agent_id
                    );
                    print_tx(&tx);
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Validate(ValidateCommand::Request(args)) => {
                let request_hash = hash_of(args.request_hash, args.request_file.as_ref())?.expect("clap requires one");
                let account = args.rpc.account(&args.key, args.validation_registry).await?;
                let tx = agents::request_validation(
                    &account,
                    args.validation_registry,
                    args.validator,
                    args.agent_id,
                    &args.request_uri,
                    request_hash,
                )
                .await
                .context(sender(&account))?;
                if args.json {
                    let value = serde_json::json!({
                        "request_hash": request_hash,
                        "agent_id": args.agent_id.to_string(),
                        "validator": args.validator,
                        "tx": tx,
                    });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!("request hash  {request_hash}");
                    println!("agent         {}", args.agent_id);
                    println!("validator     {}", args.validator);
                    print_tx(&tx);
                }
                Ok(ExitCode::SUCCESS)
            }
            Self::Validate(ValidateCommand::Respond(args)) => {
                let response_hash = hash_of(args.response_hash, args.response_file.as_ref())?.unwrap_or_default();
                let account = args.rpc.account(&args.key, args.validation_registry).await?;
                let tx = agents::respond_validation(
                    &account,
                    args.validation_registry,
                    args.agent_id,
                    args.request_hash,
                    args.response,
                    &args.response_uri,
                    response_hash,
                    &args.tag,
                )
                .await
                .context(sender(&account))?;
                if args.json {
                    let value = serde_json::json!({
                        "request_hash": args.request_hash,
                        "response": args.response,
                        "tx": tx,
                    });
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    println!("request hash  {}", args.request_hash);
                    println!("response      {}", args.response);
                    print_tx(&tx);
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

async fn register(args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let account = args.rpc.account(&args.key, args.identity_registry).await?;
    if let (Some(version), Some(registry)) = (args.model_version, args.registry) {
        agents::check_model_version(&account.provider, registry, version).await?;
    }
    let registered = agents::register(&account, args.identity_registry, &args.uri, args.model_version)
        .await
        .context(sender(&account))?;
    let chain_id = prova_chain::chain_id(&account.provider).await?;
    if args.json {
        let mut value = serde_json::to_value(&registered)?;
        value["chain_id"] = chain_id.into();
        value["identity_registry"] = serde_json::to_value(args.identity_registry)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("agent id      {}", registered.agent_id);
        println!("agent         eip155:{chain_id}:{} #{}", args.identity_registry, registered.agent_id);
        println!("owner         {}", registered.owner);
        if let Some(version) = registered.model_version {
            println!("model version {version}");
        }
        print_tx(&registered.tx);
    }
    Ok(ExitCode::SUCCESS)
}

async fn bind_model(args: BindModelArgs) -> anyhow::Result<ExitCode> {
    let account = args.rpc.account(&args.key, args.identity_registry).await?;
    if let Some(registry) = args.registry {
        agents::check_model_version(&account.provider, registry, args.version_hash).await?;
    }
    let tx = agents::bind_model(&account, args.identity_registry, args.agent_id, args.version_hash)
        .await
        .context(sender(&account))?;
    if args.json {
        let value = serde_json::json!({
            "agent_id": args.agent_id.to_string(),
            "model_version": args.version_hash,
            "tx": tx,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("agent id      {}", args.agent_id);
        println!("model version {}", args.version_hash);
        print_tx(&tx);
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let provider = args.rpc.read(args.identity_registry).await?;
    let info = agents::agent_info(&provider, args.identity_registry, args.agent_id).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("agent id      {}", info.agent_id);
        println!("owner         {}", info.owner);
        println!("wallet        {}", info.wallet.map_or("(none; the owner signs receipts)".into(), |w| w.to_string()));
        println!("model version {}", info.model_version.map_or("(none)".into(), |v| v.to_string()));
        println!("uri           {}", info.uri);
    }
    Ok(ExitCode::SUCCESS)
}

async fn receipt(args: ReceiptArgs) -> anyhow::Result<ExitCode> {
    let signer = args.key.load()?;
    let provider = args.rpc.read(args.reputation_registry).await?;
    let interaction_hash = match hash_of(args.interaction_hash, args.interaction_file.as_ref())? {
        Some(hash) => hash,
        None => {
            let hash = B256::random();
            eprintln!("note: no --interaction-hash or --interaction-file; using the fresh interaction hash {hash}");
            hash
        }
    };
    let signed = agents::sign_receipt(
        &provider,
        args.reputation_registry,
        &signer,
        args.agent_id,
        args.client,
        interaction_hash,
        args.valid_for,
    )
    .await?;
    let json = serde_json::to_string_pretty(&signed)? + "\n";
    match &args.out {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote a receipt for client {} to agent {} (valid until {}) to {}",
                args.client,
                args.agent_id,
                prova_core::time::iso8601(signed.receipt.deadline),
                path.display()
            );
        }
        None => print!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn feedback(args: FeedbackArgs) -> anyhow::Result<ExitCode> {
    let (value, decimals) = parse_value(&args.value, args.decimals).map_err(|e| anyhow::anyhow!("--value: {e}"))?;
    let receipt: Option<SignedReceipt> = match &args.receipt {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a prova interaction receipt", path.display()))?,
            )
        }
        None => None,
    };
    let account = args.rpc.account(&args.key, args.reputation_registry).await?;
    let input = FeedbackInput {
        value,
        decimals,
        tag1: args.tag1,
        tag2: args.tag2,
        endpoint: args.endpoint,
        feedback_uri: args.feedback_uri,
        feedback_hash: args.feedback_hash,
    };
    let given = agents::give_feedback(&account, args.reputation_registry, args.agent_id, &input, receipt.as_ref())
        .await
        .context(sender(&account))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&given)?);
    } else {
        println!("agent id      {}", given.agent_id);
        println!("client        {}", given.client);
        println!("feedback      #{} value {value} with {decimals} decimals", given.feedback_index);
        println!("verified      {}", if given.verified { "yes (interaction receipt)" } else { "no (no receipt)" });
        print_tx(&given.tx);
    }
    Ok(ExitCode::SUCCESS)
}

/// The account's transactions' sender, for their errors.
fn sender(account: &Account) -> Sender {
    Sender::new(account.address)
}

/// Prints the transaction lines every sending command ends with.
fn print_tx(tx: &TxInfo) {
    println!("tx            {}", tx.tx_hash);
    println!("block         {}", tx.block_number);
    println!("gas used      {}", tx.gas_used);
}

/// The hash given directly, or the keccak256 of a file's bytes, or `None`.
fn hash_of(hash: Option<B256>, file: Option<&PathBuf>) -> anyhow::Result<Option<B256>> {
    match (hash, file) {
        (Some(hash), _) => Ok(Some(hash)),
        (None, Some(path)) => {
            Ok(Some(keccak256(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)))
        }
        (None, None) => Ok(None),
    }
}

/// Parses a rating such as `87`, `-3` or `87.25` into `(value, decimals)`. With `decimals` given, the value is
/// scaled to it (`87.5` with 2 decimals is 8750); a value with more digits after the point than that is refused.
pub fn parse_value(text: &str, decimals: Option<u8>) -> Result<(i128, u8), String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty()
        || !valid(whole)
        || !valid(fraction)
        || (digits.contains('.') && fraction.is_empty())
    {
        return Err(format!("{text:?} is not a number such as 87 or 87.5"));
    }
    let places = u8::try_from(fraction.len()).unwrap_or(u8::MAX);
    let decimals = decimals.unwrap_or(places);
    if decimals > 18 {
        return Err(format!("{decimals} decimals; at most 18 are allowed"));
    }
    if places > decimals {
        return Err(format!("{text:?} has {places} digits after the point but --decimals is {decimals}"));
    }
    let padded = format!("{whole}{fraction}{}", "0".repeat(usize::from(decimals - places)));
    let magnitude: i128 = padded.parse().map_err(|_| format!("{text:?} does not fit in an int128"))?;
    Ok((if negative { -magnitude } else { magnitude }, decimals))
}

/// Parses a duration such as `90`, `90s`, `30m`, `1h` or `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) =
        text.trim().split_at(text.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(text.trim().len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 90s, 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    n.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_with_their_decimals() {
        assert_eq!(parse_value("87", None), Ok((87, 0)));
        assert_eq!(parse_value("87.5", None), Ok((875, 1)));
        assert_eq!(parse_value("87.5", Some(2)), Ok((8750, 2)));
        assert_eq!(parse_value("-3.25", None), Ok((-325, 2)));
        assert_eq!(parse_value("0", Some(18)), Ok((0, 18)));
        assert_eq!(parse_value("0.000", None), Ok((0, 3)));
        assert!(parse_value("87.55", Some(1)).is_err());
        assert!(parse_value("1", Some(19)).is_err());
        assert!(parse_value("abc", None).is_err());
        assert!(parse_value("1.", None).is_err());
        assert!(parse_value("", None).is_err());
        assert!(parse_value("9".repeat(40).as_str(), None).is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
