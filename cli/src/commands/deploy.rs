//! `prova deploy`: deploy a ProvenanceRegistry from the bytecode built into the binary.

use std::process::ExitCode;

use crate::signer::KeyArgs;
use clap::Args;

/// Arguments of `prova deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc_url: String,
    /// The deployer key.
    #[command(flatten)]
    pub key: KeyArgs,
}

impl DeployArgs {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let provider = prova_chain::connect_with_signer(&self.rpc_url, self.key.load()?)?;
        let chain_id = prova_chain::chain_id(&provider).await?;
        let (registry, receipt) = prova_chain::deploy_registry(&provider).await?;
        println!("registry      {registry}");
        println!("chain id      {chain_id}");
        super::publisher::print_receipt(&receipt);
        Ok(ExitCode::SUCCESS)
    }
}
