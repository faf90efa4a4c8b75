//! Shared helpers of the end-to-end tests: a real anvil, a real Postgres, a deployed registry, the `prova` binary
//! and the API on a real port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use prova_devnet::local::{LocalPostgres, find_foundry_tool, free_port};
use sqlx::PgPool;

pub mod chaos_proxy;

/// One test's world: anvil with a deployed registry, a fresh database, and a scratch folder.
#[derive(Debug)]
pub struct Stack {
    /// The anvil process (killed on drop).
    pub anvil: AnvilInstance,
    /// Where it persists states, removed after it (see [`anvil_with_states_in`]).
    _anvil_states: tempfile::TempDir,
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
    /// A pool on a second fresh database holding the attestor's private store.
    pub attestor_pool: PgPool,
    /// Its URL.
    pub attestor_database_url: String,
    /// Scratch folder.
    pub dir: tempfile::TempDir,
    /// The Postgres cluster this test started, if `DATABASE_URL` was not given.
    pub postgres: Option<LocalPostgres>,
    _pg_dir: Option<tempfile::TempDir>,
}

/// Anvil on a free port, persisting its states in `states` instead of `~/.foundry/anvil/tmp`. Anvil removes that
/// folder only when it exits cleanly, and tests kill it: the indexer bench's 200,000-event chain left 15 GB there per
/// run, and a later build ran out of disk.
pub fn anvil_with_states_in(states: &Path) -> anyhow::Result<Anvil> {
    Ok(Anvil::at(find_foundry_tool("anvil")?).port(free_port()?).arg("--cache-path").arg(states.display().to_string()))
}

impl Stack {
    /// Starts anvil, deploys the registry, and creates a fresh database (in the cluster named by `DATABASE_URL`,
    /// or in a private cluster started for this test).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// [`Stack::start`] with extra anvil arguments (e.g. `["--block-time", "1"]`).
    pub async fn start_with(anvil_args: &[&str]) -> anyhow::Result<Self> {
        let anvil_states = tempfile::Builder::new().prefix("prova-e2e-anvil").tempdir()?;
        let anvil = anvil_with_states_in(anvil_states.path())?.args(anvil_args).try_spawn()?;
        let rpc_url = anvil.endpoint();
        let admin_key: PrivateKeySigner = anvil.keys()[0].clone().into();
        let admin = prova_chain::connect_with_signer(&rpc_url, admin_key.clone())?;
        let chain_id = prova_chain::chain_id(&admin).await?;
        let (registry, receipt) = prova_chain::deploy_registry(&admin).await?;

        let (postgres, pg_dir, server_url) = match std::env::var("DATABASE_URL") {
            Ok(url) => (None, None, url),
            Err(_) => {
                let dir = tempfile::Builder::new().prefix("prova-e2e-pg").tempdir()?;
                let pg = LocalPostgres::start(dir.path(), free_port()?)?;
                let url = pg.url("postgres");
                (Some(pg), Some(dir), url)
            }
        };
        let (database_url, pool) = fresh_database(&server_url, prova_db::Schema::Registry).await?;
        let (attestor_database_url, attestor_pool) = fresh_database(&server_url, prova_db::Schema::Attestor).await?;

        Ok(Self {
            anvil,
            _anvil_states: anvil_states,
            rpc_url,
            chain_id,
            registry,
            deploy_block: receipt.block_number.unwrap_or_default(),
            admin,
            admin_key,
            pool,
            database_url,
            attestor_pool,
            attestor_database_url,
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
        self.prova_command(args, env).output().expect("run prova")
    }

    /// [`Stack::prova`] in the folder `dir`, with no keystore password from the test's environment.
    pub fn prova_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.prova_command(args, &[]);
        cmd.current_dir(dir).env_remove("PROVA_KEYSTORE_PASSWORD").stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run prova")
    }

    fn prova_command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
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
        cmd
    }

    /// Starts an indexer following the stack's registry from its deployment (polling every 100 ms) and the API on a
    /// free port; returns the API's base URL.
    pub async fn index_and_serve(&self) -> anyhow::Result<String> {
        let config = prova_indexer::IndexerConfig {
            start_block: self.deploy_block,
            poll_interval: std::time::Duration::from_millis(100),
            ..prova_indexer::IndexerConfig::new(self.registry)
        };
        let provider = prova_chain::connect_without_retries(&self.rpc_url)?;
        let indexer = prova_indexer::Indexer::new(self.pool.clone(), provider, config).await?;
        tokio::spawn(async move { indexer.run(std::future::pending()).await });
        self.serve_api().await
    }

    /// Starts the API on a free port and returns its base URL.
    pub async fn serve_api(&self) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = prova_api::AppState::new(self.pool.clone());
        tokio::spawn(prova_api::serve(listener, state, std::future::pending()));
        Ok(url)
    }
}

/// Starts `prova dev` from the workspace on free ports, with its data in a fresh folder and its stdout piped (the
/// caller reads the banner). Returns the process, the folder and the API's listen address.
pub fn spawn_dev(prefix: &str) -> anyhow::Result<(std::process::Child, tempfile::TempDir, String)> {
    spawn_dev_with(prefix, &[])
}

/// [`spawn_dev`] with more arguments of `prova dev` (e.g. `--json`).
pub fn spawn_dev_with(
    prefix: &str,
    extra: &[&str],
) -> anyhow::Result<(std::process::Child, tempfile::TempDir, String)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace");
    let data = tempfile::Builder::new().prefix(prefix).tempdir()?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let child = Command::new(prova_bin())
        .args(["dev", "--data-dir", data.path().to_str().expect("a UTF-8 temp path"), "--listen", &listen])
        .args(["--anvil-port", &free_port()?.to_string(), "--pg-port", &free_port()?.to_string()])
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("PROVA_RPC_URL")
        .env_remove("PROVA_PRIVATE_KEY")
        .env("RUST_LOG", "warn")
        .current_dir(workspace)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()?;
    Ok((child, data, listen))
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

// ------------------------------------------------------------------------------------------------------------------
// Chaos-test helpers: cheap registry events sent as anvil's unlocked accounts, the indexer's cursor, and the check
// that the database equals an independent re-read of the chain.
// ------------------------------------------------------------------------------------------------------------------

/// Gas given to each `invalidateNonce` transaction (it uses about 46,000), so anvil need not estimate it.
const NONCE_TX_GAS: u64 = 80_000;

/// Raw JSON-RPC to anvil. Transactions are sent with `eth_sendTransaction` from anvil's unlocked default accounts,
/// so the node assigns the account nonces (a provider's cached nonces break across reorgs).
#[derive(Debug, Clone)]
pub struct Node {
    url: String,
    http: reqwest::Client,
    registry: Address,
    senders: Vec<Address>,
    next_sender: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    next_nonce: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Node {
    /// Talks to the stack's anvil and sends to its registry from all of anvil's default accounts.
    pub fn new(stack: &Stack) -> Self {
        Self {
            url: stack.rpc_url.clone(),
            http: reqwest::Client::new(),
            registry: stack.registry,
            senders: stack.anvil.addresses().to_vec(),
            next_sender: Default::default(),
            // Registry nonces are used once per signer; start at a random point so no two nodes collide.
            next_nonce: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
                rand::random::<u32>() as u64 * 1_000_000_000,
            )),
        }
    }

    /// One JSON-RPC call; a JSON-RPC error is an error.
    pub async fn call(&self, method: &str, params: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut answer: serde_json::Value = self.http.post(&self.url).json(&request).send().await?.json().await?;
        anyhow::ensure!(answer["error"].is_null(), "{method} failed: {}", answer["error"]);
        Ok(answer["result"].take())
    }

    /// Several calls in one JSON-RPC batch; the results in the order of `calls`. Any error fails the batch.
    pub async fn batch(&self, calls: Vec<(&str, serde_json::Value)>) -> anyhow::Result<Vec<serde_json::Value>> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let requests: Vec<serde_json::Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .collect();
        let answers: Vec<serde_json::Value> = self.http.post(&self.url).json(&requests).send().await?.json().await?;
        let mut results = vec![serde_json::Value::Null; calls.len()];
        for mut answer in answers {
            let id =
                answer["id"].as_u64().ok_or_else(|| anyhow::anyhow!("batch answer without id: {answer}"))? as usize;
            anyhow::ensure!(answer["error"].is_null(), "{} failed: {}", calls[id].0, answer["error"]);
            results[id] = answer["result"].take();
        }
        Ok(results)
    }

    /// Turns anvil's automine on or off (off: transactions wait in the pool for [`Node::mine`]).
    pub async fn set_automine(&self, on: bool) -> anyhow::Result<()> {
        self.call("evm_setAutomine", serde_json::json!([on])).await.map(drop)
    }

    /// Mines one block with whatever the pool holds.
    pub async fn mine(&self) -> anyhow::Result<()> {
        self.call("evm_mine", serde_json::json!([])).await.map(drop)
    }

    /// The head block number.
    pub async fn head(&self) -> anyhow::Result<u64> {
        let head = self.call("eth_blockNumber", serde_json::json!([])).await?;
        Ok(u64::from_str_radix(head.as_str().unwrap_or_default().trim_start_matches("0x"), 16)?)
    }

    /// The canonical hash of block `number` and its transaction count, or `None` past the head.
    pub async fn block(&self, number: u64) -> anyhow::Result<Option<(alloy::primitives::B256, usize)>> {
        let block = self.call("eth_getBlockByNumber", serde_json::json!([format!("{number:#x}"), false])).await?;
        if block.is_null() {
            return Ok(None);
        }
        let hash = block["hash"].as_str().unwrap_or_default().parse()?;
        Ok(Some((hash, block["transactions"].as_array().map_or(0, Vec::len))))
    }

    /// A transaction request that calls `invalidateNonce` with a fresh nonce, from the next default account in turn
    /// (one `NonceInvalidated` event).
    pub fn nonce_tx(&self) -> serde_json::Value {
        use alloy::sol_types::SolCall;
        use std::sync::atomic::Ordering::Relaxed;
        let from = self.senders[self.next_sender.fetch_add(1, Relaxed) % self.senders.len()];
        let nonce = alloy::primitives::U256::from(self.next_nonce.fetch_add(1, Relaxed));
        let data = prova_core::bindings::IProvenanceRegistry::invalidateNonceCall { nonce }.abi_encode();
        serde_json::json!({
            "from": from,
            "to": self.registry,
            "data": alloy::primitives::Bytes::from(data),
            "gas": format!("{NONCE_TX_GAS:#x}"),
        })
    }

    /// Deploys the bulk emitter ([`BULK_EMITTER_INITCODE`]) and returns its address; mines a block if automine is off.
    pub async fn deploy_bulk_emitter(&self) -> anyhow::Result<Address> {
        let tx = serde_json::json!({"from": self.senders[0], "data": format!("0x{BULK_EMITTER_INITCODE}"), "gas": "0x100000"});
        let hash = self.call("eth_sendTransaction", serde_json::json!([tx])).await?;
        if self.call("anvil_getAutomine", serde_json::json!([])).await? == serde_json::json!(false) {
            self.mine().await?;
        }
        let receipt = self.call("eth_getTransactionReceipt", serde_json::json!([hash])).await?;
        anyhow::ensure!(receipt["status"] == "0x1", "bulk emitter deployment failed: {receipt}");
        Ok(receipt["contractAddress"].as_str().unwrap_or_default().parse()?)
    }

    /// With automine off: mines `blocks` blocks, each holding one transaction to the bulk `emitter` that emits
    /// `events_per_tx` registry events, and checks that every one succeeded. The transactions are sent first and
    /// mined with one `anvil_mine`, a block gas limit letting one through per block.
    pub async fn mine_bulk(&self, emitter: Address, blocks: usize, events_per_tx: u64) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        let gas = 60_000 + 40_000 * events_per_tx;
        let mut hashes = Vec::with_capacity(blocks);
        for chunk in (0..blocks).collect::<Vec<_>>().chunks(100) {
            let calls = chunk
                .iter()
                .map(|_| {
                    let nonce = self.next_nonce.fetch_add(events_per_tx, Relaxed);
                    let mut data = [0u8; 96];
                    data[12..32].copy_from_slice(self.registry.as_slice());
                    data[56..64].copy_from_slice(&nonce.to_be_bytes());
                    data[88..96].copy_from_slice(&events_per_tx.to_be_bytes());
                    let from = self.senders[self.next_sender.fetch_add(1, Relaxed) % self.senders.len()];
                    let data = alloy::primitives::Bytes::from(data.to_vec());
                    let tx = serde_json::json!({"from": from, "to": emitter, "data": data, "gas": format!("{gas:#x}")});
                    ("eth_sendTransaction", serde_json::json!([tx]))
                })
                .collect();
            hashes.extend(self.batch(calls).await?);
        }
        self.call("anvil_setBlockGasLimit", serde_json::json!([format!("{:#x}", gas + gas / 2)])).await?;
        let mined = self.call("anvil_mine", serde_json::json!([format!("{blocks:#x}")])).await;
        self.call("anvil_setBlockGasLimit", serde_json::json!(["0x1c9c380"])).await?;
        mined?;
        for chunk in hashes.chunks(100) {
            let receipts = self
                .batch(chunk.iter().map(|h| ("eth_getTransactionReceipt", serde_json::json!([h]))).collect())
                .await?;
            for receipt in receipts {
                anyhow::ensure!(receipt["status"] == "0x1", "bulk emission failed or was not mined: {receipt}");
                let logs = receipt["logs"].as_array().map_or(0, Vec::len);
                anyhow::ensure!(logs as u64 == events_per_tx, "{logs} events instead of {events_per_tx}: {receipt}");
            }
        }
        Ok(())
    }

    /// With automine off: sends `events` `invalidateNonce` transactions in one batch, mines one block, and checks
    /// that the block holds them all.
    pub async fn mine_events(&self, events: usize) -> anyhow::Result<()> {
        let calls = (0..events).map(|_| ("eth_sendTransaction", serde_json::json!([self.nonce_tx()]))).collect();
        self.batch(calls).await?;
        self.mine().await?;
        let head = self.head().await?;
        let (_, txs) = self.block(head).await?.ok_or_else(|| anyhow::anyhow!("block {head} missing"))?;
        anyhow::ensure!(txs == events, "block {head} holds {txs} transactions, {events} were sent");
        Ok(())
    }
}

/// Init code of a tiny contract that calls `registry.invalidateNonce(nonce + i)` for `i` in `0..count`, given the
/// calldata `(address registry, uint256 nonce, uint256 count)`: one transaction, `count` registry events. Hand-assembled
/// (no compiler needed); the runtime, after the 11-byte constructor that returns it:
///
/// ```text
/// 00 PUSH1 0x40 CALLDATALOAD PUSH1 0x20 CALLDATALOAD     count, nonce
/// 06 JUMPDEST DUP2 ISZERO PUSH2 0x3d JUMPI                 while count != 0:
/// 0d PUSH4 0xb70e36f0 PUSH1 0xe0 SHL PUSH1 0 MSTORE        mem[0..4] = invalidateNonce selector
/// 18 DUP1 PUSH1 4 MSTORE                                   mem[4..36] = nonce
/// 1c PUSH1 0 PUSH1 0 PUSH1 0x24 PUSH1 0 PUSH1 0            call(gas, registry, 0, mem[0..36], 0, 0)
/// 26 PUSH1 0 CALLDATALOAD GAS CALL
/// 2b ISZERO PUSH2 0x3f JUMPI                               revert if the call failed
/// 30 PUSH1 1 ADD SWAP1 PUSH1 1 SWAP1 SUB SWAP1             nonce += 1, count -= 1
/// 39 PUSH2 0x06 JUMP
/// 3d JUMPDEST STOP
/// 3f JUMPDEST PUSH1 0 DUP1 REVERT
/// ```
const BULK_EMITTER_INITCODE: &str = "604480600b6000396000f36040356020355b811561003d5763b70e36f060e01b600052806004526000600060\
                                     24600060006000355af11561003f57600101906001900390610006565b005b600080fd";

/// The indexer's cursor row for one contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorRow {
    /// First block not yet indexed.
    pub next_block: u64,
    /// Latest head the indexer saw.
    pub head_block: Option<u64>,
    /// The instance holding the write lock, as it recorded itself.
    pub writer: Option<String>,
    /// The last transient fault, if not cleared since.
    pub last_error: Option<String>,
}

/// Reads the cursor of `contract` on `chain_id`, if the indexer created it.
pub async fn cursor_row(pool: &PgPool, chain_id: u64, contract: Address) -> anyhow::Result<Option<CursorRow>> {
    type Columns = (i64, Option<i64>, Option<String>, Option<String>);
    let row: Option<Columns> = sqlx::query_as(
        "SELECT next_block, head_block, writer, last_error FROM indexer_cursors WHERE chain_id = $1 AND contract = $2",
    )
    .bind(chain_id as i64)
    .bind(contract.to_vec())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(next, head, writer, last_error)| CursorRow {
        next_block: next as u64,
        head_block: head.map(|h| h as u64),
        writer,
        last_error,
    }))
}

/// A streaming standby of `primary` (a [`LocalPostgres`], whose defaults allow it: `wal_level = replica`, WAL
/// senders, and trusted replication connections on loopback), copied with `pg_basebackup -R` into a fresh folder
/// named after `prefix` and started on a free port: it replays the primary's WAL as it is streamed. The standby is
/// stopped (fast) when the returned cluster drops, which must come before its folder's.
pub fn start_streaming_replica(
    primary: &LocalPostgres,
    prefix: &str,
) -> anyhow::Result<(LocalPostgres, tempfile::TempDir)> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    // Postgres starts only on a data folder no one else may read.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let bin = prova_devnet::local::postgres_bin_dir()?;
    // Postgres refuses to run as root: as root, the copy is made by, and belongs to, the `postgres` user.
    let root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)?;
    let mut basebackup = if root {
        let status = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status()?;
        anyhow::ensure!(status.success(), "chown postgres {} failed", dir.path().display());
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join("pg_basebackup"));
        command
    } else {
        Command::new(bin.join("pg_basebackup"))
    };
    let output = basebackup
        .args(["-h", "127.0.0.1", "-p", &primary.port().to_string(), "-U", "postgres", "-D"])
        .arg(dir.path())
        // -R: write `standby.signal` and the primary's address, so the copy starts as a streaming standby.
        .args(["-R", "--wal-method=stream", "--checkpoint=fast", "--no-sync"])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .output()?;
    anyhow::ensure!(output.status.success(), "pg_basebackup failed: {}", stderr(&output));
    let replica = LocalPostgres::start(dir.path(), free_port()?).map_err(|error| {
        let log = std::fs::read_to_string(dir.path().join("postgres.log")).unwrap_or_default();
        anyhow::anyhow!("the standby did not start: {error}\n{log}")
    })?;
    Ok((replica, dir))
}

/// Creates a fresh database with `schema`'s migrations applied in the cluster at `server_url`; returns its URL and a
/// pool.
pub async fn fresh_database(server_url: &str, schema: prova_db::Schema) -> anyhow::Result<(String, PgPool)> {
    let name = format!("prova_e2e_{}", alloy::primitives::B256::random().to_string()[2..18].to_owned());
    let url = prova_db::create_database(server_url, &name).await?;
    let pool = prova_db::connect_and_migrate(&url, 8, schema).await?;
    Ok((url, pool))
}

/// One registry event: its table, block number, block hash, tx hash, log index and decoded columns (as text: bytes
/// in lowercase hex).
type EventRow = (String, u64, String, String, u64, Vec<String>);

/// What the database holds for a registry once it equals the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirror {
    /// The head the chain was read to.
    pub head: u64,
    /// Events on the chain (and in the database).
    pub events: usize,
    /// Events per table.
    pub by_table: std::collections::BTreeMap<String, usize>,
}

/// Compares the indexed database with an independent re-read of the chain: every log of `registry` from
/// `from_block` to the head (one `eth_getLogs`, decoded here), per table, as (block number, block hash, tx hash,
/// log index, decoded columns) with multiplicity; and the cursor, which must be at head + 1. `Ok(Err(diff))`
/// describes a mismatch.
pub async fn compare_db_with_chain(
    pool: &PgPool,
    rpc_url: &str,
    registry: Address,
    from_block: u64,
) -> anyhow::Result<Result<Mirror, String>> {
    use alloy::providers::Provider;
    use prova_indexer::events::Value as Column;
    use std::collections::BTreeMap;

    let provider = prova_chain::connect(rpc_url)?;
    let chain_id = provider.get_chain_id().await?;
    let head = provider.get_block_number().await?;
    let filter = alloy::rpc::types::Filter::new().address(registry).from_block(from_block).to_block(head);
    let logs = provider.get_logs(&filter).await?;

    // The chain, decoded independently of the indexer's reading code.
    let mut chain: BTreeMap<EventRow, usize> = BTreeMap::new();
    let mut columns: BTreeMap<&'static str, (&'static [&'static str], Vec<Column>)> = BTreeMap::new();
    let as_text = |value: &Column| match value {
        Column::Bytes(b) => alloy::primitives::hex::encode(b),
        Column::Text(s) | Column::Numeric(s) => s.clone(),
        Column::Int(i) => i.to_string(),
        Column::Bool(b) => b.to_string(),
    };
    for log in &logs {
        let position = (
            log.block_number.unwrap_or(u64::MAX),
            log.block_hash.map(|h| h.to_string()).unwrap_or_default(),
            log.transaction_hash.map(|h| h.to_string()).unwrap_or_default(),
            log.log_index.unwrap_or(u64::MAX),
        );
        let (table, values) = match prova_indexer::ContractKind::Provenance.decode(&log.inner) {
            Some(row) => {
                columns.entry(row.table).or_insert_with(|| (row.columns, row.values.clone()));
                (row.table.to_owned(), row.values.iter().map(as_text).collect())
            }
            None => ("<undecodable>".to_owned(), vec![format!("{:?}", log.inner)]),
        };
        *chain.entry((table, position.0, position.1, position.2, position.3, values)).or_default() += 1;
    }

    // The database: every event table that exists (another kind's tables may not be migrated yet).
    let mut db: BTreeMap<EventRow, usize> = BTreeMap::new();
    for table in prova_indexer::events::all_tables() {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(table).fetch_one(pool).await?;
        if !exists {
            continue;
        }
        let mut select = String::from("block_number, block_hash, tx_hash, log_index");
        if let Some((names, kinds)) = columns.get(table) {
            for (name, kind) in names.iter().zip(kinds) {
                select.push_str(&match kind {
                    Column::Bytes(_) => format!(", encode({name}, 'hex')"),
                    Column::Text(_) => format!(", {name}"),
                    _ => format!(", {name}::TEXT"),
                });
            }
        }
        let sql = format!("SELECT {select} FROM {table} WHERE chain_id = $1 AND contract = $2");
        let rows = sqlx::query(&sql).bind(chain_id as i64).bind(registry.to_vec()).fetch_all(pool).await?;
        for row in rows {
            use sqlx::Row;
            let width = row.len();
            let values = (4..width).map(|i| row.try_get::<String, _>(i)).collect::<Result<Vec<_>, _>>()?;
            let key = (
                table.to_owned(),
                row.try_get::<i64, _>(0)? as u64,
                format!("0x{}", alloy::primitives::hex::encode(row.try_get::<Vec<u8>, _>(1)?)),
                format!("0x{}", alloy::primitives::hex::encode(row.try_get::<Vec<u8>, _>(2)?)),
                row.try_get::<i64, _>(3)? as u64,
                values,
            );
            *db.entry(key).or_default() += 1;
        }
    }

    let cursor = cursor_row(pool, chain_id, registry).await?;
    let count_by_table = |rows: &BTreeMap<EventRow, usize>| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for ((table, ..), n) in rows {
            *counts.entry(table.clone()).or_default() += n;
        }
        counts
    };
    let mirror = Mirror { head, events: logs.len(), by_table: count_by_table(&chain) };
    let cursor_ok = cursor.as_ref().map(|c| c.next_block) == Some(head + 1);
    if chain == db && cursor_ok {
        return Ok(Ok(mirror));
    }

    // A readable diff: counts per table, the cursor, then the first rows missing from or extra in the database.
    let mut diff = format!(
        "the database differs from the chain (registry {registry:#x}, blocks {from_block}..={head}, {} logs on chain)\n",
        logs.len()
    );
    let db_counts = count_by_table(&db);
    let tables: std::collections::BTreeSet<&String> = mirror.by_table.keys().chain(db_counts.keys()).collect();
    for table in tables {
        let (c, d) = (mirror.by_table.get(table).copied().unwrap_or(0), db_counts.get(table).copied().unwrap_or(0));
        diff.push_str(&format!("  {table:<32} chain {c:>6}  db {d:>6}{}\n", if c == d { "" } else { "  <--" }));
    }
    if !cursor_ok {
        diff.push_str(&format!("  cursor: {cursor:?}, expected next_block {}\n", head + 1));
    }
    let describe = |(table, block, hash, tx, index, values): &EventRow, n: usize| {
        let times = if n > 1 { format!(" (x{n})") } else { String::new() };
        format!("{table} block {block} {hash} tx {tx} log {index} {values:?}{times}")
    };
    for (label, ours, theirs) in [("missing from the database", &chain, &db), ("extra in the database", &db, &chain)] {
        let rows: Vec<String> = ours
            .iter()
            .filter(|(row, n)| theirs.get(*row) != Some(*n))
            .map(|(row, n)| describe(row, n.saturating_sub(theirs.get(row).copied().unwrap_or(0))))
            .collect();
        if !rows.is_empty() {
            diff.push_str(&format!("  {label}: {}\n", rows.len()));
            for row in rows.iter().take(20) {
                diff.push_str(&format!("    {row}\n"));
            }
            if rows.len() > 20 {
                diff.push_str(&format!("    ... and {} more\n", rows.len() - 20));
            }
        }
    }
    Ok(Err(diff))
}

/// [`compare_db_with_chain`], failing with the diff on a mismatch.
pub async fn assert_db_matches_chain(
    pool: &PgPool,
    rpc_url: &str,
    registry: Address,
    from_block: u64,
) -> anyhow::Result<Mirror> {
    compare_db_with_chain(pool, rpc_url, registry, from_block).await?.map_err(|diff| anyhow::anyhow!(diff))
}

/// Polls [`compare_db_with_chain`] until the database equals the chain, failing with the last diff after `timeout`.
pub async fn wait_db_matches_chain(
    pool: &PgPool,
    rpc_url: &str,
    registry: Address,
    from_block: u64,
    timeout: std::time::Duration,
) -> anyhow::Result<Mirror> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match compare_db_with_chain(pool, rpc_url, registry, from_block).await {
            Ok(Ok(mirror)) => return Ok(mirror),
            Ok(Err(diff)) if std::time::Instant::now() >= deadline => {
                anyhow::bail!("no convergence within {timeout:?}: {diff}")
            }
            // The database may be down for a moment in a chaos test; keep trying until the deadline.
            Err(error) if std::time::Instant::now() >= deadline => return Err(error),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the cursor of `contract` reaches `next_block` (the indexer has committed every block below it).
pub async fn wait_cursor(
    pool: &PgPool,
    chain_id: u64,
    contract: Address,
    next_block: u64,
    timeout: std::time::Duration,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let cursor = cursor_row(pool, chain_id, contract).await.ok().flatten();
        if cursor.as_ref().is_some_and(|c| c.next_block >= next_block) {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the cursor did not reach {next_block} within {timeout:?}: {cursor:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The seed of a randomized test: `PROVA_CHAOS_SEED` when set, else a random one; printed for reruns.
pub fn chaos_seed(test: &str) -> u64 {
    let seed = std::env::var("PROVA_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("{test}: seed {seed} (rerun with PROVA_CHAOS_SEED={seed})");
    seed
}

/// An indexer following the head ([`prova_indexer::Indexer::run`]) on a tokio task; dropping it shuts it down.
#[derive(Debug)]
pub struct Following {
    task: tokio::task::JoinHandle<prova_indexer::Result<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Following {
    /// Starts `indexer.run()` in the background.
    pub fn spawn(indexer: prova_indexer::Indexer) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            indexer
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Self { task, stop: Some(stop) }
    }

    /// Whether `run()` returned (it must not, short of a shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks `run()` to shut down and waits for it to return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.take();
        let task = &mut self.task;
        tokio::time::timeout(std::time::Duration::from_secs(15), task).await??.map_err(Into::into)
    }
}
