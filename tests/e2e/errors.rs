//! Every failure a newcomer meets following the README, produced for real on anvil and Postgres: each README
//! command is driven into one failure, and its error must name the cause and the fix (the account and its
//! balance, the relayer option, the key's flag or variable, both chain ids, the unreachable host and port without
//! its secrets, the missing registry, the decoded revert) and exit 2. `docs/errors.md` lists the same cases.
//!
//! The nonce cases are real too: a proxy in front of anvil sends another transaction of the same account with the
//! same nonce just before the command's own, as a second process sending from that account would.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use prova_e2e::{Node, Stack, stderr, write_model};
use serde_json::Value;

const PASSWORD: &str = "errors-test";

/// One README command driven into one failure.
struct Case {
    /// What goes wrong.
    name: &'static str,
    /// The command line (the README's, with its placeholders filled).
    args: Vec<String>,
    /// Its environment.
    env: Vec<(&'static str, String)>,
    /// What the error must say.
    says: Vec<String>,
    /// What it must never say (secrets).
    hides: Vec<String>,
}

fn case(name: &'static str, args: &[&str], env: &[(&'static str, &str)], says: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        says: says.iter().map(|s| (*s).to_owned()).collect(),
        hides: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_names_its_cause_and_its_fix() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let dir = stack.dir.path();
    let lab = Lab::new(&stack).await?;
    let (rpc, registry) = (stack.rpc_url.as_str(), stack.registry.to_string());
    let model = dir.join("llm-7b");
    write_model(&model, 1);
    let model = model.to_str().unwrap();
    let keystore = lab.keystore.to_str().unwrap();
    let password = ("PROVA_KEYSTORE_PASSWORD", PASSWORD);
    let admin = ("PROVA_PRIVATE_KEY", lab.admin_hex.as_str());
    let publish = |extra: &[&str]| -> Vec<String> {
        let base = ["model", "publish", model, "--model", "acme/llm-7b", "--metadata-uri", "ipfs://x"];
        let chain = ["--rpc", rpc, "--registry", &registry];
        [&base[..], extra, &chain].concat().iter().map(|a| (*a).to_owned()).collect()
    };
    let (closed_port, pg_port) = (prova_devnet::local::free_port()?, prova_devnet::local::free_port()?);
    let secret_rpc = format!("http://produser:SECRETPASS@127.0.0.1:{closed_port}/v3/SECRETKEY?apikey=SECRETQ");
    let secret_pg = format!("postgres://prova:SECRETPASS@127.0.0.1:{pg_port}/prova_attestor");
    let samples = dir.join("samples.jsonl");
    std::fs::write(&samples, "{\"model_version\":\"0x01\",\"request\":\"q\",\"response\":\"a\"}\n")?;
    let other_contract = not_a_registry(&stack).await?;
    let attestor = lab.attestor.to_string();

    let mut cases = vec![
        Case {
            args: publish(&["--keystore", keystore]),
            ..case(
                "the attestor key has no ETH",
                &[],
                &[password],
                &[&attestor, "balance is 0 ETH on chain 31337", "PROVA_RELAYER_PRIVATE_KEY", "fix: send ETH to"],
            )
        },
        Case {
            args: publish(&["--keystore", keystore]),
            ..case(
                "a wrong keystore password",
                &[],
                &[("PROVA_KEYSTORE_PASSWORD", "wrong")],
                &["wrong password", keystore, "fix: set PROVA_KEYSTORE_PASSWORD"],
            )
        },
        Case {
            args: publish(&["--keystore", "keystores/missing.json"]),
            ..case("a keystore that is not there", &[], &[password], &["keystores/missing.json", "prova key new"])
        },
        case(
            "no key at all",
            &["publisher", "register", "--name", "Acme AI", "--rpc", rpc, "--registry", &registry],
            &[],
            &["no signing key", "--keystore", "PROVA_PRIVATE_KEY"],
        ),
        Case {
            args: publish(&["--keystore", keystore, "--chain-id", "1"]),
            ..case(
                "the RPC endpoint serves another chain",
                &[],
                &[password],
                &["wrong chain", "serves chain 31337, expected 1", "fix: point --rpc"],
            )
        },
        Case {
            hides: ["SECRETPASS", "SECRETKEY", "SECRETQ", "produser", "v3"].map(String::from).to_vec(),
            ..case(
                "the RPC endpoint cannot be reached",
                &["publisher", "register", "--name", "Acme AI", "--rpc", &secret_rpc, "--registry", &registry],
                &[admin],
                &[
                    &format!(
                        "cannot reach the RPC endpoint http://127.0.0.1:{closed_port}/<redacted> (connection refused)"
                    ),
                    "fix: check --rpc",
                ],
            )
        },
        Case {
            hides: ["SECRETPASS", "prova_attestor"].map(String::from).to_vec(),
            ..case(
                "Postgres cannot be reached",
                &["outputs", "ingest", samples.to_str().unwrap(), "--sample-rate", "0.1"],
                &[("DATABASE_URL", &secret_pg)],
                &[&format!("cannot reach Postgres at 127.0.0.1:{pg_port}"), "fix: check DATABASE_URL"],
            )
        },
        case(
            "no contract at the registry address",
            &["verify", "model", model, "--rpc", rpc, "--registry", &format!("{:#x}", Address::repeat_byte(9))],
            &[],
            &[
                &format!(
                    "no ProvenanceRegistry at {} on chain 31337 (no contract at that address)",
                    Address::repeat_byte(9)
                ),
                "fix: check --registry",
            ],
        ),
        Case {
            args: publish(&["--keystore", keystore])
                .into_iter()
                .map(|a| if a == registry { other_contract.to_string() } else { a })
                .collect(),
            ..case(
                "another contract at the registry address",
                &[],
                &[password],
                &[&format!("no ProvenanceRegistry at {other_contract} on chain 31337"), "fix: check --registry"],
            )
        },
        case(
            "the registry refuses the transaction",
            &["publisher", "register", "--name", "Acme AI", "--rpc", rpc, "--registry", &registry],
            &[admin],
            &["the registry refused", "RegistryPublisherExists"],
        ),
    ];
    for case in &mut cases {
        case.hides.extend(["SECRETPASS".to_owned(), PASSWORD.to_owned(), lab.admin_hex[2..].to_owned()]);
    }
    for case in &cases {
        check(&stack, dir, case);
    }
    nonce_and_replacement_errors_name_the_account(&stack, dir).await
}

/// Runs a case: exit 2, the cause and the fix said, no secret, and the error on a line of its own.
fn check(stack: &Stack, dir: &Path, case: &Case) {
    let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = case.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = stack.prova_in(dir, &args, &env);
    let text = stderr(&out);
    println!("{}:\n{text}", case.name);
    assert_eq!(out.status.code(), Some(2), "{}: exit code\n{text}", case.name);
    for said in &case.says {
        assert!(text.contains(said.as_str()), "{}: no {said:?} in\n{text}", case.name);
    }
    for hidden in &case.hides {
        assert!(!text.contains(hidden.as_str()), "{}: {hidden:?} shown in\n{text}", case.name);
    }
    let error_lines: Vec<&str> = text.lines().filter(|l| l.contains("error: ")).collect();
    assert!(
        error_lines.len() == 1 && error_lines[0].starts_with("error: "),
        "{}: the error must start a line of its own\n{text}",
        case.name
    );
    assert!(
        text.lines().any(|l| l.starts_with("  fix: ")) || case.name.contains("refuses"),
        "{}: no fix\n{text}",
        case.name
    );
}

/// The lab: the admin (anvil's account 0) registered as a publisher, and a fresh attestor key, added, in a keystore
/// (alloy's cheaper scrypt cost, which prova reads: this test is about errors, not key strength).
struct Lab {
    admin_hex: String,
    attestor: Address,
    keystore: PathBuf,
}

impl Lab {
    async fn new(stack: &Stack) -> anyhow::Result<Self> {
        let publisher = stack.admin_key.address();
        prova_attestor::admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
        let keys = stack.dir.path().join("keystores");
        std::fs::create_dir_all(&keys)?;
        let (attestor, _) =
            PrivateKeySigner::new_keystore(&keys, &mut rand::thread_rng(), PASSWORD, Some("attestor.json"))?;
        prova_attestor::admin::add_own_attestor(&stack.admin, stack.registry, publisher, &attestor).await?;
        Ok(Self {
            admin_hex: stack.admin_key.to_bytes().to_string(),
            attestor: attestor.address(),
            keystore: keys.join("attestor.json"),
        })
    }
}

/// An ERC-8004 identity registry: a contract that is not a ProvenanceRegistry.
async fn not_a_registry(stack: &Stack) -> anyhow::Result<Address> {
    Ok(prova_chain::deploy_agent_registries(&stack.admin).await?.0.identity)
}

/// Another process sends from the same account at the same moment: its transaction takes the nonce first. With
/// automine on, the command's is then "nonce too low"; with automine off, the other one waits in the pool with a
/// higher fee and the command's is an underpriced replacement. Either way the error names the account and the fix.
async fn nonce_and_replacement_errors_name_the_account(stack: &Stack, dir: &Path) -> anyhow::Result<()> {
    let node = Node::new(stack);
    for (i, automine) in [(3usize, true), (4, false)] {
        let key = stack.anvil_key(i);
        let hex = key.to_bytes().to_string();
        let proxy = FrontRunner::start(&stack.rpc_url).await?;
        // With automine on, the other transaction is mined before the command's is forwarded (anvil mines just after
        // it answers); with it off, it waits in the pool.
        proxy.arm(competing_transaction(stack, &key).await?, automine);
        node.set_automine(automine).await?;
        let registry = stack.registry.to_string();
        let args = ["publisher", "register", "--name", "Acme AI", "--rpc", proxy.url.as_str(), "--registry", &registry];
        let out = stack.prova_in(dir, &args, &[("PROVA_PRIVATE_KEY", &hex)]);
        node.set_automine(true).await?;
        let text = stderr(&out);
        println!("nonce taken (automine {automine}):\n{text}");
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(proxy.fired(), "the competing transaction was not sent: {text}");
        let expected = if automine { "its nonce is used already" } else { "has the same nonce and a higher fee" };
        for said in [expected, &key.address().to_string(), "fix: another process is sending from this account"] {
            assert!(text.contains(said), "no {said:?} in\n{text}");
        }
        assert!(!text.contains(&hex[2..]), "the key is shown:\n{text}");
    }
    Ok(())
}

/// A transfer of 1 wei to itself from `key` at its next nonce, with a generous fee, signed.
async fn competing_transaction(stack: &Stack, key: &PrivateKeySigner) -> anyhow::Result<Bytes> {
    let nonce = stack.admin.get_transaction_count(key.address()).pending().await?;
    let fees = stack.admin.estimate_eip1559_fees().await?;
    let tx = alloy::rpc::types::TransactionRequest::default()
        .with_from(key.address())
        .with_to(key.address())
        .with_value(U256::from(1))
        .with_nonce(nonce)
        .with_chain_id(stack.chain_id)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(fees.max_fee_per_gas * 4)
        .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas * 4 + 1_000_000_000);
    let envelope = tx.build(&EthereumWallet::from(key.clone())).await?;
    Ok(alloy::eips::eip2718::Encodable2718::encoded_2718(&envelope).into())
}

/// A JSON-RPC proxy in front of anvil that, once armed, sends a given raw transaction just before the first
/// `eth_sendRawTransaction` it forwards (and, if asked, waits until it is mined).
struct FrontRunner {
    url: String,
    armed: Arc<Mutex<Option<Armed>>>,
    fired: Arc<Mutex<bool>>,
}

/// The raw transaction to send first, and whether to wait for its receipt.
type Armed = (Bytes, bool);

impl FrontRunner {
    async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let armed: Arc<Mutex<Option<Armed>>> = Arc::default();
        let fired: Arc<Mutex<bool>> = Arc::default();
        let state = (upstream.to_owned(), reqwest::Client::new(), armed.clone(), fired.clone());
        let app = axum::Router::new().route("/", axum::routing::post(forward)).with_state(Arc::new(state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, armed, fired })
    }

    fn arm(&self, raw: Bytes, mined: bool) {
        *self.armed.lock().unwrap() = Some((raw, mined));
    }

    fn fired(&self) -> bool {
        *self.fired.lock().unwrap()
    }
}

type ProxyState = Arc<(String, reqwest::Client, Arc<Mutex<Option<Armed>>>, Arc<Mutex<bool>>)>;

async fn forward(
    axum::extract::State(state): axum::extract::State<ProxyState>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let (upstream, http, armed, fired) = &*state;
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    if request["method"] == "eth_sendRawTransaction" {
        let armed = armed.lock().unwrap().take();
        if let Some((raw, mined)) = armed {
            let answer = call(http, upstream, "eth_sendRawTransaction", serde_json::json!([raw])).await;
            assert!(answer["error"].is_null(), "the competing transaction was refused: {answer}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let hash = serde_json::json!([answer["result"]]);
            while mined && call(http, upstream, "eth_getTransactionReceipt", hash.clone()).await["result"].is_null() {
                assert!(std::time::Instant::now() < deadline, "the competing transaction was not mined");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            *fired.lock().unwrap() = true;
        }
    }
    let response = http.post(upstream).header("content-type", "application/json").body(body).send().await.unwrap();
    let status = axum::http::StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, [("content-type", "application/json")], response.bytes().await.unwrap().to_vec())
}

async fn call(http: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    http.post(url).json(&request).send().await.unwrap().json().await.unwrap()
}
