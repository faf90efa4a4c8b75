//! Command-line arguments shared by several `prova` commands, flattened into each command's parser.

use alloy::primitives::{Address, B256};
use clap::Args;
use prova_chain::{CodePin, Shipped};

/// Where the chain and the registry are.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// JSON-RPC endpoint of the chain, e.g. http://127.0.0.1:8545.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc_url: String,
    /// Address of the ProvenanceRegistry contract.
    #[arg(long, env = "PROVA_REGISTRY")]
    pub registry: Address,
}

/// Where Postgres is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres connection URL, e.g. postgres://prova@127.0.0.1:5432/prova.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Maximum connections in the pool.
    #[arg(long, env = "PROVA_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

/// The RPC endpoints a verification reads the chain from. With several, the verification runs against each and
/// their verdicts must be identical: any disagreement is "could not check" (exit 2), since one of them lies or lags.
#[derive(Debug, Clone, Args)]
pub struct RpcEndpoints {
    /// JSON-RPC endpoint of the chain. Repeat it to ask several providers: every verdict is computed against each,
    /// and any disagreement between them is reported as "could not check" (exit 2). PROVA_RPC_URL gives one.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true, value_name = "URL", required = true)]
    pub urls: Vec<String>,
}

/// Pins of contracts' code: a configured address is not trusted because it holds some code.
#[derive(Debug, Clone, Default, Args)]
pub struct CodePinArgs {
    /// Refuse to go on (exit 2) unless keccak256 of the code at ADDRESS is HASH. `0xHASH` alone pins the command's
    /// main contract (the registry, or the only contract indexed). Repeatable, or comma-separated.
    #[arg(long = "code-hash", env = "PROVA_CODE_HASH", value_name = "[ADDRESS=]0xHASH", value_delimiter = ',')]
    pub code_hashes: Vec<CodeHashPin>,
    /// Refuse to go on (exit 2) unless every contract read holds the bytecode this prova ships for its kind (the
    /// runtime part of core/artifacts, immutables aside). Not for ERC-8004 deployments of others.
    #[arg(long)]
    pub pin_code: bool,
}

/// One `--code-hash`: a hash, for an address or for the command's main contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeHashPin {
    /// The contract, or `None` for the command's main contract.
    pub address: Option<Address>,
    /// keccak256 of its runtime code.
    pub hash: B256,
}

impl std::str::FromStr for CodeHashPin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, hash) = match text.split_once('=') {
            Some((address, hash)) => {
                (Some(address.trim().parse().map_err(|e| format!("{address:?} is not an address: {e}"))?), hash)
            }
            None => (None, text),
        };
        let hash = hash.trim().parse().map_err(|e| format!("{hash:?} is not a 32-byte hex hash: {e}"))?;
        Ok(Self { address, hash })
    }
}

impl CodePinArgs {
    /// What the code at `address` must be: its `--code-hash` (an `ADDRESS=` one, or a bare one when `main`), else
    /// with `--pin-code` the shipped bytecode of `shipped`; `None` when nothing pins it.
    pub fn pin(&self, address: Address, shipped: Shipped, main: bool) -> Option<CodePin> {
        let hash = self
            .code_hashes
            .iter()
            .find(|p| p.address == Some(address))
            .or_else(|| main.then(|| self.code_hashes.iter().find(|p| p.address.is_none())).flatten());
        match hash {
            Some(pin) => Some(CodePin::Hash(pin.hash)),
            None => self.pin_code.then_some(CodePin::Shipped(shipped)),
        }
    }

    /// Refuses pins that would check nothing: an `ADDRESS=` pin of a contract not among `contracts`, or a bare hash
    /// when the command has no main contract (`main_named`: what the bare form would need, for the message).
    pub fn ensure_used(&self, contracts: &[Address], main: Option<Address>, main_named: &str) -> anyhow::Result<()> {
        for pin in &self.code_hashes {
            match pin.address {
                Some(address) => anyhow::ensure!(
                    contracts.contains(&address),
                    "--code-hash pins {address}, which this command does not read"
                ),
                None => anyhow::ensure!(
                    main.is_some(),
                    "--code-hash {} names no contract: give ADDRESS=0xHASH ({main_named})",
                    pin.hash
                ),
            }
        }
        Ok(())
    }
}

/// Checks the code of each `(address, pin)` at `provider` (on `chain_id`): the first that differs is an error.
pub async fn check_pins(
    provider: &alloy::providers::DynProvider,
    chain_id: u64,
    pins: &[(Address, Option<CodePin>)],
) -> prova_chain::Result<()> {
    for &(address, pin) in pins {
        if let Some(pin) = pin {
            prova_chain::check_code(provider, address, chain_id, pin).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_hash_pins_parse_with_or_without_an_address() {
        let hash = B256::repeat_byte(0xab);
        let address = Address::repeat_byte(0x11);
        assert_eq!(format!("{hash}").parse(), Ok(CodeHashPin { address: None, hash }));
        assert_eq!(format!("{address}={hash}").parse(), Ok(CodeHashPin { address: Some(address), hash }));
        assert!("0x12".parse::<CodeHashPin>().is_err());
        assert!(format!("nope={hash}").parse::<CodeHashPin>().is_err());

        let pins = CodePinArgs { code_hashes: vec![CodeHashPin { address: None, hash }], pin_code: true };
        assert_eq!(pins.pin(address, Shipped::Provenance, true), Some(CodePin::Hash(hash)));
        assert_eq!(pins.pin(address, Shipped::Identity, false), Some(CodePin::Shipped(Shipped::Identity)));
        assert_eq!(CodePinArgs::default().pin(address, Shipped::Provenance, true), None);
        assert!(pins.ensure_used(&[], None, "").is_err(), "a bare hash needs a main contract");
        let other = CodePinArgs { code_hashes: vec![CodeHashPin { address: Some(address), hash }], pin_code: false };
        assert!(other.ensure_used(&[address], None, "").is_ok());
        assert!(other.ensure_used(&[Address::ZERO], None, "").is_err(), "a pin of a contract never read");
    }
}
