//! `prova deploy`: deploy a ProvenanceRegistry from the bytecode built into the binary.

use std::process::ExitCode;

use crate::explain::Sender;
use crate::signer::KeyArgs;
use anyhow::Context as _;
use clap::Args;

/// Arguments of `prova deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc_url: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// The deployer key.
    #[command(flatten)]
    pub key: KeyArgs,
}

impl DeployArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let signer = self.key.load()?;
        let sender = Sender::new(signer.address());
        let provider = prova_chain::connect_with_signer(&self.rpc_url, signer)?;
        let chain_id = prova_chain::chain_id(&provider).await?;
        let (registry, receipt) = prova_chain::deploy_registry(&provider).await.context(sender)?;
        if self.json {
            let tx = prova_chain::TxInfo::from(&receipt);
            let value = serde_json::json!({ "registry": registry, "chain_id": chain_id, "tx": tx });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("registry      {registry}");
            println!("chain id      {chain_id}");
            super::publisher::print_receipt(&receipt);
        }
        Ok(ExitCode::SUCCESS)
    }
}
