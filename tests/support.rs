//! Shared helpers of the end-to-end tests: a real anvil, a real Postgres, a deployed registry, the `prova` binary
//! and the API on a real port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use prova_core::local::{LocalPostgres, find_foundry_tool, free_port};
use sqlx::PgPool;

pub mod chaos_proxy;

/// One test's world: anvil with a deployed registry, a fresh database, and a scratch folder.
pub struct Stack {
    /// The anvil process (killed on drop).
    pub anvil: AnvilInstance,
    /// Its RPC URL.
    pub rpc_url: String,
    /// Chain id.
    pub chain_id: u64,
    /// The deployed registry.
    pub registry: Address,
    /// Block of the deployment.
    pub deploy_block: u64,
    /// Provider signing with anvil account 0 (deployer, publisher admin).
    pub admin: DynProvider,
    /// Anvil account 0's key.
    pub admin_key: PrivateKeySigner,
    /// A fresh database with migrations applied.
    pub pool: PgPool,
    /// Its URL.
    pub database_url: String,
    /// Scratch folder.
    pub dir: tempfile::TempDir,
    /// The Postgres cluster this test started, if `DATABASE_URL` was not given.
    pub postgres: Option<LocalPostgres>,
    _pg_dir: Option<tempfile::TempDir>,
}

impl Stack {
    /// Starts anvil, deploys the registry, and creates a fresh database (in the cluster named by `DATABASE_URL`,
    /// or in a private cluster started for this test).
    pub async fn start() -> anyhow::Result<Self> {
        let anvil = Anvil::at(find_foundry_tool("anvil")?).port(free_port()?).try_spawn()?;
        let rpc_url = anvil.endpoint();
        let admin_key: PrivateKeySigner = anvil.keys()[0].clone().into();
        let admin = prova_core::chain::connect_with_signer(&rpc_url, admin_key.clone())?;
        let chain_id = prova_core::chain::chain_id(&admin).await?;
        let (registry, receipt) = prova_core::chain::deploy_registry(&admin).await?;

        let (postgres, pg_dir, server_url) = match std::env::var("DATABASE_URL") {
            Ok(url) => (None, None, url),
            Err(_) => {
                let dir = tempfile::Builder::new().prefix("prova-e2e-pg").tempdir()?;
                let pg = LocalPostgres::start(dir.path(), free_port()?)?;
                let url = pg.url("postgres");
                (Some(pg), Some(dir), url)
            }
        };
        let name = format!("prova_e2e_{}", alloy::primitives::B256::random().to_string()[2..18].to_owned());
        let admin_pool = PgPool::connect(&server_url).await?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin_pool).await?;
        admin_pool.close().await;
        let database_url = replace_database(&server_url, &name);
        let pool = prova_indexer::connect_db(&database_url, 8).await?;

        Ok(Self {
            anvil,
            rpc_url,
            chain_id,
            registry,
            deploy_block: receipt.block_number.unwrap_or_default(),
            admin,
            admin_key,
            pool,
            database_url,
            dir: tempfile::tempdir()?,
            postgres,
            _pg_dir: pg_dir,
        })
    }

    /// Anvil's default key number `i`.
    pub fn anvil_key(&self, i: usize) -> PrivateKeySigner {
        self.anvil.keys()[i].clone().into()
    }

    /// Runs `prova` with the chain and registry in the environment.
    pub fn prova(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(prova_bin());
        cmd.args(args)
            .env("PROVA_RPC_URL", &self.rpc_url)
            .env("PROVA_REGISTRY", self.registry.to_string())
            .env_remove("PROVA_PRIVATE_KEY")
            .env_remove("PROVA_KEYSTORE")
            .env_remove("PROVA_RELAYER_PRIVATE_KEY")
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run prova")
    }

    /// Starts the API on a free port and returns its base URL.
    pub async fn serve_api(&self) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = prova_api::AppState { pool: self.pool.clone() };
        tokio::spawn(prova_api::serve(listener, state, std::future::pending()));
        Ok(url)
    }
}

/// Swaps the database name in a Postgres URL.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// The `prova` binary: `PROVA_BIN` when set (scripts/test.sh builds it first), else built once per test process.
pub fn prova_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PROVA_BIN") {
            return PathBuf::from(bin);
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "prova-cli", "--bin", "prova"])
            .current_dir(&workspace)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of prova failed");
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
        target.join("debug").join("prova")
    })
}

/// stdout of a finished command, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a small model folder with deterministic bytes.
pub fn write_model(dir: &Path, seed: u8) {
    std::fs::create_dir_all(dir.join("weights")).unwrap();
    std::fs::write(dir.join("config.json"), format!("{{\"seed\":{seed}}}")).unwrap();
    let weights: Vec<u8> = (0..300_000u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    std::fs::write(dir.join("weights/model-00001.safetensors"), weights).unwrap();
    std::fs::write(dir.join("tokenizer.json"), b"{\"vocab_size\":32000}").unwrap();
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::create_dir_all(to).unwrap();
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
