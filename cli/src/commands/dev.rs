//! `prova dev`: the whole stack on one machine, with demo data.
//!
//! Starts anvil and a private Postgres cluster under `.prova/dev` (unless `--rpc` / `--database-url` are given),
//! deploys the registry, registers a demo publisher with an attestor key, publishes two demo model versions
//! (a base model and a fine-tune of it), deploys the ERC-8004 identity, reputation and validation registries with
//! demo agents and feedback (honest clients with interaction receipts, and a Sybil ring), then runs the indexers
//! and the API (trust-seeded with some honest clients) until Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::signer::{KEYSTORE_PASSWORD_ENV, PRIVATE_KEY_ENV, new_keystore, parse_private_key};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use clap::Args;
use prova_api::AppState;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, Published, publish_model_version};
use prova_chain::AgentRegistries;
use prova_core::manifest::{HashOptions, Manifest, hash_dir};
use prova_devnet::demo::{HonestAgent, SybilPlan, build_sybil_demo};
use prova_devnet::local::{LocalPostgres, cluster_dir, find_foundry_tool};
use prova_indexer::{ContractKind, Indexer, IndexerConfig};
use tokio::sync::watch;

/// Password of the demo attestor keystore; it guards a throwaway key on a local chain.
const DEMO_KEYSTORE_PASSWORD: &str = "prova-dev";

/// The first default anvil account, used as deployer and publisher admin when no key is given.
const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Arguments of `prova dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Use this chain instead of starting anvil (its PROVA_PRIVATE_KEY account, or anvil's first account, pays).
    #[arg(long = "rpc", env = "PROVA_RPC_URL", hide_env_values = true)]
    pub rpc_url: Option<String>,
    /// Use this database instead of starting a private Postgres cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Database for the demo lab's private output store (default: a database named after the registry's with
    /// `_attestor` appended, on the same server). It never shares a database with the registry mirror.
    #[arg(long, env = "PROVA_ATTESTOR_DATABASE_URL", hide_env_values = true)]
    pub attestor_database_url: Option<String>,
    /// Folder for the Postgres cluster, demo models and keystore.
    #[arg(long, default_value = ".prova/dev")]
    pub data_dir: PathBuf,
    /// Port for anvil.
    #[arg(long, default_value_t = 8545)]
    pub anvil_port: u16,
    /// Port for the private Postgres cluster.
    #[arg(long, default_value_t = 54329)]
    pub pg_port: u16,
    /// Address the API listens on.
    #[arg(long, env = "PROVA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Print the running stack as one JSON line on stdout instead of the banner, once everything is ready.
    #[arg(long)]
    pub json: bool,
}

/// The demo data that was published.
struct Demo {
    base: Published,
    base_dir: PathBuf,
    finetune: Published,
    keystore: PathBuf,
    manifests: Vec<Manifest>,
    attestor: PrivateKeySigner,
}

/// Honest demo clients: each rates with interaction receipts signed by the agents' owners.
const HONEST_CLIENTS: usize = 8;
/// The first few honest clients are the API's default trust seeds.
const TRUST_SEEDS: usize = 3;
/// Sybil ring members: fresh addresses with agents of their own, rating the bad agent and each other 100, with no
/// receipts.
const RING_SIZE: usize = 20;
/// Times each ring member rates the bad agent 100 (enough to lift it above the good agent under `mean`).
const RING_RATINGS_OF_BAD: usize = 2;
/// Ring agents each ring member rates 100.
const RING_RATINGS_OF_RING: usize = 2;
/// Gas limit of the demo's agent transactions, registrations and feedback (sent at once, so they cannot be
/// estimated one by one).
const AGENT_GAS: u64 = 400_000;

/// The ERC-8004 demo: registries, agents and who rated them.
struct DemoAgents {
    registries: AgentRegistries,
    deploy_block: u64,
    /// Highly rated by every honest client (bound to the base model).
    good: U256,
    /// Rated low by honest clients and 100 by the Sybil ring (bound to the fine-tune).
    bad: U256,
    /// Rated fairly by half of the honest clients (bound to the base model).
    steady: U256,
    /// The ring's own agents.
    ring_agents: Vec<U256>,
    /// The API's default trust seeds.
    seeds: Vec<Address>,
}

/// The demo output batch: a receipt on disk, with the request and response it covers.
struct DemoOutputs {
    receipt: PathBuf,
    request: PathBuf,
    response: PathBuf,
    response_hash: B256,
}

impl DevArgs {
    /// Runs the stack until Ctrl-C.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))?;

        // Keep these alive: dropping them stops anvil and Postgres.
        let (anvil, rpc_url) = self.chain()?;
        let (_postgres, database_url) = self.database()?;

        let admin_key = match std::env::var(PRIVATE_KEY_ENV) {
            Ok(hex) => parse_private_key(&hex, PRIVATE_KEY_ENV)?,
            Err(_) => parse_private_key(ANVIL_KEY_0, "the anvil default key")?,
        };
        let admin = prova_chain::connect_with_signer(&rpc_url, admin_key.clone())?;
        let chain_id = prova_chain::chain_id(&admin).await?;
        let (registry, deploy_receipt) = prova_chain::deploy_registry(&admin).await?;
        let deploy_block = deploy_receipt.block_number.unwrap_or_default();
        tracing::info!(%registry, chain_id, "deployed ProvenanceRegistry");

        let pool = prova_db::connect_and_migrate(&database_url, 16, prova_db::Schema::Registry).await?;
        // A fresh deployment can reuse an address seen on an earlier dev chain; drop what was indexed there.
        prova_indexer::store::purge_registry(&pool, chain_id, registry).await?;

        let demo = self.publish_demo(&admin, registry).await?;
        let agents = demo_agents(&admin, &admin_key, &demo, anvil.is_some()).await?;
        let seeds = agents.seeds.clone();

        let contracts = [
            (registry, ContractKind::Provenance, deploy_block),
            (agents.registries.identity, ContractKind::Identity, agents.deploy_block),
            (agents.registries.reputation, ContractKind::Reputation, agents.deploy_block),
            (agents.registries.validation, ContractKind::Validation, agents.deploy_block),
        ];
        let mut indexers = Vec::new();
        for (contract, kind, start_block) in contracts {
            if kind != ContractKind::Provenance {
                prova_indexer::store::purge_registry(&pool, chain_id, contract).await?;
            }
            let config = IndexerConfig {
                kind,
                start_block,
                poll_interval: Duration::from_millis(250),
                ..IndexerConfig::new(contract)
            };
            indexers.push(Indexer::new(pool.clone(), prova_chain::connect_without_retries(&rpc_url)?, config).await?);
        }
        for result in futures::future::join_all(indexers.iter().map(Indexer::sync_to_head)).await {
            result?;
        }

        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("cannot listen on {} (pass --listen to choose another address)", self.listen))?;
        let api_url = format!("http://{}", listener.local_addr()?);

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let indexer_tasks: Vec<_> = indexers
            .into_iter()
            .map(|indexer| {
                let stop = stopped(stop_rx.clone());
                tokio::spawn(async move { indexer.run(stop).await })
            })
            .collect();
        // The registry deployed here is the chain's canonical one: no other deployment can add claims to its answers.
        let config = prova_api::ApiConfig {
            canonical_registries: [(chain_id, registry)].into_iter().collect(),
            // The explorer checks against this chain's own endpoint unless the visitor picks another.
            explorer: prova_api::explorer::ExplorerConfig {
                chains: [(
                    chain_id,
                    prova_api::explorer::ExplorerChain { rpc_url: Some(rpc_url.clone()), block_explorer: None },
                )]
                .into_iter()
                .collect(),
            },
            ..prova_api::ApiConfig::default()
        };
        let state = AppState::new(pool)
            .with_trust_seeds(seeds)
            .with_config(config)
            .with_response_cache(64 << 20)
            .await
            .context("cannot start the API's response cache")?;
        let api_task = tokio::spawn(prova_api::serve(listener, state, stopped(stop_rx)));
        // The demo manifests go to the API like a lab's would, so file-level matching works from the start.
        for manifest in &demo.manifests {
            super::api_client::upload_manifest(&api_url, manifest, Duration::from_secs(30)).await?;
        }
        let attestor_database_url = match &self.attestor_database_url {
            Some(url) => url.clone(),
            None => {
                let name = format!("{}_attestor", prova_db::database_name(&database_url));
                prova_db::create_database(&database_url, &name).await?
            }
        };
        let outputs =
            self.attest_demo_outputs(&demo, &rpc_url, &attestor_database_url, registry, chain_id, &api_url).await?;

        let banner = Banner {
            rpc_url: &rpc_url,
            chain_id,
            registry,
            database_url: &database_url,
            api_url: &api_url,
            demo: &demo,
            outputs: &outputs,
            agents: &agents,
        };
        if self.json {
            println!("{}", banner.json());
        } else {
            print_banner(&banner);
        }

        crate::shutdown_signal().await;
        eprintln!("\nstopping: indexers, API, anvil, Postgres");
        let _ = stop_tx.send(true);
        for task in indexer_tasks {
            let _ = task.await;
        }
        let _ = api_task.await;
        Ok(ExitCode::SUCCESS)
    }

    /// Starts anvil unless `--rpc` was given.
    fn chain(&self) -> anyhow::Result<(Option<AnvilInstance>, String)> {
        if let Some(url) = &self.rpc_url {
            return Ok((None, url.clone()));
        }
        // Anvil removes the states it persists only when it exits cleanly, and it is killed when `prova dev` stops:
        // keep them in the data folder, and drop the last run's, whose chain is gone.
        let states = self.data_dir.join("anvil-states");
        if states.exists() {
            std::fs::remove_dir_all(&states).with_context(|| format!("cannot clear {}", states.display()))?;
        }
        let anvil = Anvil::at(find_foundry_tool("anvil")?)
            .port(self.anvil_port)
            .chain_id(31337)
            .arg("--cache-path")
            .arg(states.display().to_string())
            .try_spawn()
            .with_context(|| {
                format!("cannot start anvil on port {} (pass --anvil-port to choose another)", self.anvil_port)
            })?;
        let url = anvil.endpoint();
        Ok((Some(anvil), url))
    }

    /// Starts the private Postgres cluster unless `--database-url` was given.
    fn database(&self) -> anyhow::Result<(Option<LocalPostgres>, String)> {
        if let Some(url) = &self.database_url {
            return Ok((None, url.clone()));
        }
        let pg = LocalPostgres::start(&cluster_dir(&self.data_dir.join("pg")), self.pg_port)?;
        let url = pg.create_database("prova_dev")?;
        Ok((Some(pg), url))
    }

    /// Attests a batch of demo outputs of the base model as a lab would: stored, anchored, leaves uploaded, and one
    /// receipt written to disk.
    async fn attest_demo_outputs(
        &self,
        demo: &Demo,
        rpc_url: &str,
        database_url: &str,
        registry: alloy::primitives::Address,
        chain_id: u64,
        api_url: &str,
    ) -> anyhow::Result<DemoOutputs> {
        use prova_attestor::outputs::evidence::ReceiptMaker;
        use prova_attestor::outputs::store::{self, Sample, SealPolicy};
        let pool = prova_db::connect_and_migrate(database_url, 4, prova_db::Schema::Attestor).await?;
        let version = demo.base.version_hash;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
        let text =
            |i: usize| (format!("Demo question {i}: what is {i} squared?"), format!("{i} squared is {}.", i * i));
        let samples: Vec<Sample> =
            (0..64).map(|i| Sample::new(version, text(i).0.as_bytes(), text(i).1.as_bytes(), now)).collect();
        store::insert_samples(&pool, &samples).await?;
        let relayer = match std::env::var(PRIVATE_KEY_ENV) {
            Ok(hex) => parse_private_key(&hex, PRIVATE_KEY_ENV)?,
            Err(_) => parse_private_key(ANVIL_KEY_0, "the anvil default key")?,
        };
        let submitter = prova_attestor::outputs::Submitter {
            pool: pool.clone(),
            provider: prova_chain::connect(rpc_url)?,
            attestor: demo.attestor.clone(),
            relayer,
            registry,
            chain_id,
            confirmations: 1,
            batch_uri_base: format!("{api_url}/v1/output-batches/"),
            wait: Duration::from_secs(30),
        };
        // The batch waits while the chain's time is before its window's end (anvil's clock may lag ours by a second).
        submitter.run_until_settled(SealPolicy { max_leaves: 4096, max_age_secs: 0 }, Duration::from_secs(60)).await?;
        for batch in store::batches_to_upload(&pool).await? {
            let leaves: Vec<_> = store::batch_leaves(&pool, &batch).await?.into_iter().map(|(_, leaf)| leaf).collect();
            let key = &submitter.attestor;
            super::api_client::upload_leaves(api_url, batch.root(), &leaves, key, chain_id, registry).await?;
            store::mark_uploaded(&pool, batch.id).await?;
        }
        let (request, response) = text(7);
        let id = *store::find_samples(&pool, keccak256(&request), keccak256(&response))
            .await?
            .first()
            .expect("stored above");
        let receipt = ReceiptMaker::default().receipt(&pool, id).await?.expect("the batch was just confirmed");
        let out = DemoOutputs {
            receipt: self.data_dir.join("demo-receipt.json"),
            request: self.data_dir.join("demo-request.txt"),
            response: self.data_dir.join("demo-response.txt"),
            response_hash: receipt.leaf.response_hash,
        };
        std::fs::write(&out.receipt, serde_json::to_string_pretty(&receipt)? + "\n")?;
        std::fs::write(&out.request, request)?;
        std::fs::write(&out.response, response)?;
        Ok(out)
    }

    /// Registers the demo publisher and key and publishes the demo versions.
    async fn publish_demo(
        &self,
        admin: &alloy::providers::DynProvider,
        registry: alloy::primitives::Address,
    ) -> anyhow::Result<Demo> {
        let publisher =
            admin::register_publisher(admin, registry, "Demo Lab", "https://example.org/demo-lab.json").await?;
        let publisher = publisher.from;
        // A new throwaway key per run: keystores are never overwritten, so the last run's goes first.
        let keys = self.data_dir.join("keys");
        let last = keys.join("attestor.json");
        if let Err(e) = std::fs::remove_file(&last)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(e).with_context(|| format!("cannot replace {}", last.display()));
        }
        let (keystore, attestor) = new_keystore(&keys, DEMO_KEYSTORE_PASSWORD, Some("attestor.json"))?;
        admin::add_own_attestor(admin, registry, publisher, &attestor).await?;
        // Fund the attestor so `prova model publish --keystore ...` works as printed; the demo itself is relayed.
        let funding = alloy::rpc::types::TransactionRequest::default()
            .to(attestor.address())
            .value(alloy::primitives::U256::from(10u128.pow(19)));
        prova_chain::send(admin, funding).await?;

        let base_dir = self.data_dir.join("demo-model");
        write_demo_model(&base_dir, "base")?;
        let (base, base_manifest) =
            publish_demo_version(admin, registry, &attestor, &base_dir, "demo-lab/tiny-llm", B256::ZERO).await?;
        let finetune_dir = self.data_dir.join("demo-model-finetune");
        write_demo_model(&finetune_dir, "finetune")?;
        let (finetune, finetune_manifest) = publish_demo_version(
            admin,
            registry,
            &attestor,
            &finetune_dir,
            "demo-lab/tiny-llm-chat",
            base.version_hash,
        )
        .await?;
        Ok(Demo { base, base_dir, finetune, keystore, manifests: vec![base_manifest, finetune_manifest], attestor })
    }
}

/// Deploys the ERC-8004 registries and fills them (with [`build_sybil_demo`]): three demo agents bound to the demo
/// model versions, honest clients rating them with interaction receipts, and a Sybil ring (fresh addresses with agents
/// of their own, no receipts) rating the bad agent and each other 100. Transactions go out in two bulk rounds
/// (registrations, then feedback); on our own anvil each round is mined into as few blocks as possible.
async fn demo_agents(
    admin: &DynProvider,
    admin_key: &PrivateKeySigner,
    demo: &Demo,
    own_anvil: bool,
) -> anyhow::Result<DemoAgents> {
    let (registries, deploy_block) = prova_chain::deploy_agent_registries(admin).await?;
    tracing::info!(identity = %registries.identity, reputation = %registries.reputation, "deployed ERC-8004 registries");
    let models = [Some(demo.base.version_hash), Some(demo.finetune.version_hash), Some(demo.base.version_hash)];
    let honest_agents: Vec<HonestAgent> = ["good", "bad", "steady"]
        .into_iter()
        .zip(models)
        .map(|(name, model)| HonestAgent {
            name: name.into(),
            uri: format!("https://example.org/demo-agents/{name}.json"),
            model,
        })
        .collect();
    let plan = SybilPlan {
        agents: &honest_agents,
        honest_clients: HONEST_CLIENTS,
        // Every honest client rates the good agent high, the first four rate the bad one low, every other one rates
        // the steady one fairly.
        rating: |i, agent| {
            let i = i128::try_from(i).expect("small");
            match agent {
                0 => Some(85 + i),
                1 => (i < 4).then_some(10 + 3 * i),
                _ => (i % 2 == 0).then_some(70 + i),
            }
        },
        ring_size: RING_SIZE,
        ring_uri: |i| format!("https://example.org/ring/{i}.json"),
        ring_target: 1,
        ring_ratings_of_target: RING_RATINGS_OF_BAD,
        ring_ratings_of_ring: RING_RATINGS_OF_RING,
        gas: AGENT_GAS,
        mine: own_anvil,
    };
    let built = build_sybil_demo(admin, admin_key, &registries, &plan).await?;
    let (good, bad, steady) = (built.agents[0], built.agents[1], built.agents[2]);
    let seeds = built.honest_addresses(TRUST_SEEDS);
    Ok(DemoAgents { registries, deploy_block, good, bad, steady, ring_agents: built.ring_agents, seeds })
}

async fn publish_demo_version(
    relayer: &alloy::providers::DynProvider,
    registry: alloy::primitives::Address,
    attestor: &PrivateKeySigner,
    dir: &Path,
    model_name: &str,
    parent: B256,
) -> anyhow::Result<(Published, Manifest)> {
    let manifest = hash_dir(dir, &HashOptions::default())?;
    let request = PublishRequest {
        parent,
        metadata_uri: format!("https://example.org/{model_name}.json"),
        ..PublishRequest::new(manifest.version_hash, model_name)
    };
    Ok((publish_model_version(relayer, registry, attestor, &request).await?, manifest))
}

/// Writes a small deterministic model folder; `variant` changes the weights.
fn write_demo_model(dir: &Path, variant: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("config.json"), "{\"architecture\":\"tiny-llm\",\"layers\":4,\"hidden\":256}\n")?;
    std::fs::write(dir.join("tokenizer.json"), "{\"vocab_size\":32000}\n")?;
    let mut weights = Vec::with_capacity(1 << 20);
    let mut block = keccak256(variant.as_bytes());
    while weights.len() < (1 << 20) {
        weights.extend_from_slice(block.as_slice());
        block = keccak256(block);
    }
    std::fs::write(dir.join("model.safetensors"), weights)?;
    Ok(())
}

struct Banner<'a> {
    rpc_url: &'a str,
    chain_id: u64,
    registry: alloy::primitives::Address,
    database_url: &'a str,
    api_url: &'a str,
    demo: &'a Demo,
    outputs: &'a DemoOutputs,
    agents: &'a DemoAgents,
}

impl Banner<'_> {
    /// The RPC endpoint as shown: a provider URL's path, query and credentials (its key) redacted.
    fn shown_rpc_url(&self) -> String {
        prova_chain::redact_url(self.rpc_url)
    }

    /// The RPC endpoint in the printed commands: the URL itself when nothing in it is secret (the local anvil),
    /// otherwise the environment variable that holds it.
    fn rpc_arg(&self) -> String {
        let shown = self.shown_rpc_url();
        if shown.contains(prova_chain::endpoint::REDACTED) {
            "\"$PROVA_RPC_URL\"".into()
        } else {
            self.rpc_url.to_owned()
        }
    }

    /// The stack as `--json` prints it.
    fn json(&self) -> serde_json::Value {
        let (d, a) = (self.demo, self.agents);
        serde_json::json!({
            "chain_id": self.chain_id,
            "rpc_url": self.shown_rpc_url(),
            "registry": self.registry,
            "database_url": shown_database_url(self.database_url),
            "api_url": self.api_url,
            "explorer_url": format!("{}/explorer/", self.api_url),
            "publisher": d.base.publisher,
            "attestor": d.base.attestor,
            "keystore": d.keystore,
            "keystore_password_env": KEYSTORE_PASSWORD_ENV,
            "versions": { "base": d.base.version_hash, "finetune": d.finetune.version_hash, "base_dir": d.base_dir },
            "erc8004": a.registries,
            "agents": { "good": a.good, "bad": a.bad, "steady": a.steady, "ring": a.ring_agents },
            "trust_seeds": a.seeds,
            "demo_output": {
                "receipt": self.outputs.receipt,
                "request": self.outputs.request,
                "response": self.outputs.response,
                "response_hash": self.outputs.response_hash,
            },
        })
    }
}

/// A database URL as shown: its password masked.
fn shown_database_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(prova_chain::endpoint::REDACTED));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => prova_chain::redact_url(url),
    }
}

fn print_banner(b: &Banner<'_>) {
    let prova = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let cwd = std::env::current_dir().ok()?;
            exe.strip_prefix(&cwd).map(|p| PathBuf::from(".").join(p)).ok().or(Some(exe))
        })
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "prova".into());
    let d = b.demo;
    println!();
    println!("prova dev is running (Ctrl-C stops everything)");
    let (rpc_shown, rpc) = (b.shown_rpc_url(), b.rpc_arg());
    println!("  chain      {rpc_shown} (chain id {})", b.chain_id);
    println!("  registry   {}", b.registry);
    println!("  postgres   {}", shown_database_url(b.database_url));
    println!("  api        {}", b.api_url);
    println!("  explorer   {}/explorer/ (checks run in your browser against {rpc_shown})", b.api_url);
    println!("  publisher  Demo Lab {}", d.base.publisher);
    println!(
        "  attestor   {} (keystore {}, password in {KEYSTORE_PASSWORD_ENV})",
        d.base.attestor,
        d.keystore.display()
    );
    println!("  versions   base {} (tx {})", d.base.version_hash, d.base.tx_hash);
    println!("             fine-tune {} (parent: base)", d.finetune.version_hash);
    let a = b.agents;
    let r = &a.registries;
    println!("  erc-8004   identity {} reputation {} validation {}", r.identity, r.reputation, r.validation);
    println!(
        "  agents     good #{} (base model), bad #{} (fine-tune), steady #{} (base model); Sybil ring #{}..#{}",
        a.good,
        a.bad,
        a.steady,
        a.ring_agents.first().copied().unwrap_or_default(),
        a.ring_agents.last().copied().unwrap_or_default()
    );
    println!(
        "             {HONEST_CLIENTS} honest clients rate with interaction receipts; {RING_SIZE} ring addresses rate the bad agent \
         and each other 100, without receipts"
    );
    println!("  seeds      {} (the API's default trust seeds: honest clients)", join_addresses(&a.seeds));
    println!();
    println!("Try:");
    println!("  curl -s {}/v1/model-versions/{}", b.api_url, d.base.version_hash);
    println!("  curl -s {}/v1/model-versions/{}/lineage", b.api_url, d.finetune.version_hash);
    println!("  curl -s {}/v1/publishers/{}", b.api_url, d.base.publisher);
    println!("  curl -s {}/v1/outputs/{}", b.api_url, b.outputs.response_hash);
    println!("  curl -s {}/v1/status", b.api_url);
    println!("  curl -s {}/v1/agents/{}/{}", b.api_url, b.chain_id, a.good);
    println!("  curl -s '{}/v1/agents?sort=reputation&algorithm=mean'    # the Sybil ring wins", b.api_url);
    println!(
        "  curl -s '{}/v1/agents?sort=reputation&algorithm=trust'   # seeded trust: the good agent wins",
        b.api_url
    );
    println!("  {prova} verify model {} --rpc {} --registry {}", d.base_dir.display(), rpc, b.registry);
    println!(
        "  {prova} verify output {} --request {} --response {} --rpc {}",
        b.outputs.receipt.display(),
        b.outputs.request.display(),
        b.outputs.response.display(),
        rpc
    );
    println!(
        "  {prova} verify reputation {} {} --algorithm all --rpc {} --identity-registry {} --reputation-registry {} --api {}",
        b.chain_id, a.bad, rpc, r.identity, r.reputation, b.api_url
    );
    println!(
        "  {KEYSTORE_PASSWORD_ENV}={DEMO_KEYSTORE_PASSWORD} {prova} model publish <your-folder> --model demo-lab/my-model \\\n      --keystore {} --rpc {} --registry {}",
        d.keystore.display(),
        rpc,
        b.registry
    );
    println!();
}

fn join_addresses(addresses: &[Address]) -> String {
    addresses.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::shown_database_url;

    #[test]
    fn the_banner_never_shows_a_database_password() {
        let shown = shown_database_url("postgres://lab:s3cret-pw@db.example:5432/prova");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("db.example:5432/prova"), "{shown}");
        let local = "postgres://postgres@127.0.0.1:54329/prova_dev";
        assert_eq!(shown_database_url(local), local);
        assert!(!shown_database_url("host=db password=s3cret-pw").contains("s3cret-pw"));
    }
}
