//! A real ERC-8004 client against prova: agent0-sdk (npm, pinned in `package-lock.json`) drives prova's registries
//! on anvil through `tests/agent0/drive.mjs`. It registers an agent with an HTTP URI and one with an on-chain
//! `data:` URI, sets a wallet, gives feedback from four clients (decimals up to 18, negative values, values above
//! 100, tags, endpoints), revokes, appends responses, reads it all back and asks `getReputationSummary` over RPC.
//! Then prova's indexer and API must show exactly what the SDK wrote, the SDK's summary must equal the API's `mean`
//! summary, and `prova verify reputation --algorithm all` must accept every agent.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use prova_chain::AgentRegistries;
use prova_e2e::{Stack, stderr, stdout};
use prova_indexer::{ContractKind, Indexer, IndexerConfig};
use serde_json::Value;

/// How long the SDK script may take (it takes a few seconds).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread")]
async fn agent0_sdk_writes_what_the_api_serves_and_verify_accepts() -> anyhow::Result<()> {
    let started = Instant::now();
    let stack = Stack::start().await?;
    let (registries, block) = prova_chain::deploy_agent_registries(&stack.admin).await?;
    let report = Report(run_sdk_script(&stack, &registries).await?);
    println!("agent0-sdk {} done after {:.1?}", report.0["sdkVersion"], started.elapsed());

    index(&stack, &registries, block).await?;
    let api = stack.serve_api().await?;
    let world = World { stack: &stack, registries, api, report };

    the_sdk_reads_back_what_it_wrote(&world)?;
    for agent in ["weather", "reviewer"] {
        the_api_shows_the_agent_as_registered(&world, agent).await?;
        the_api_lists_every_feedback_exactly_as_written(&world, agent).await?;
        verify_reputation_accepts_every_algorithm(&world, agent)?;
    }
    the_sdk_summaries_equal_the_api_mean(&world).await?;
    println!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// The stack, the registries, the API over the indexed database, and what the SDK script reported.
struct World<'a> {
    stack: &'a Stack,
    registries: AgentRegistries,
    api: String,
    report: Report,
}

/// The JSON report of `tests/agent0/drive.mjs`.
struct Report(Value);

impl Report {
    /// The agent id (decimal) of the agent the script calls `name`.
    fn agent_id(&self, name: &str) -> String {
        self.0["agents"][name]["agentId"].as_str().unwrap_or_else(|| panic!("no agent {name} in the report")).into()
    }

    /// The address of client number `i` (`clients` in the report).
    fn client(&self, i: &Value) -> Address {
        let i = usize::try_from(i.as_u64().expect("a client number")).unwrap();
        address(&self.0["clients"][i])
    }

    /// The report's entries of `list` about agent `name`.
    fn of<'r>(&'r self, list: &str, name: &'r str) -> impl Iterator<Item = &'r Value> + 'r {
        self.0[list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in the report"))
            .iter()
            .filter(move |v| v["agent"] == name)
    }

    /// Whether the script revoked `client`'s feedback number `index` on agent `name`.
    fn revoked(&self, name: &str, client: &Value, index: &Value) -> bool {
        self.of("revoked", name).any(|r| r["client"] == *client && r["feedbackIndex"] == *index)
    }

    /// How many responses the script appended to that feedback.
    fn responses(&self, name: &str, client: &Value, index: &Value) -> u64 {
        self.of("responses", name).filter(|r| r["client"] == *client && r["feedbackIndex"] == *index).count() as u64
    }
}

/// Runs the agent0-sdk script against the stack's anvil; its JSON report.
async fn run_sdk_script(stack: &Stack, registries: &AgentRegistries) -> anyhow::Result<Value> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace");
    let key = |i| stack.anvil_key(i).to_bytes().to_string();
    let clients = (3..7).map(key).collect::<Vec<_>>().join(",");
    let child = tokio::process::Command::new("node")
        .arg(workspace.join("tests/agent0/drive.mjs"))
        .current_dir(workspace)
        .env("AGENT0_RPC_URL", &stack.rpc_url)
        .env("AGENT0_CHAIN_ID", stack.chain_id.to_string())
        .env("AGENT0_IDENTITY_REGISTRY", registries.identity.to_string())
        .env("AGENT0_REPUTATION_REGISTRY", registries.reputation.to_string())
        .env("AGENT0_VALIDATION_REGISTRY", registries.validation.to_string())
        .env("AGENT0_OWNER_KEY", key(1))
        .env("AGENT0_WALLET_KEY", key(2))
        .env("AGENT0_CLIENT_KEYS", clients)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run node (needed for agent0-sdk; `npm ci` installs the SDK): {e}"))?;
    let out = tokio::time::timeout(SCRIPT_DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| anyhow::anyhow!("tests/agent0/drive.mjs still running after {SCRIPT_DEADLINE:?}"))??;
    eprint!("{}", stderr(&out));
    anyhow::ensure!(out.status.success(), "tests/agent0/drive.mjs failed ({}):\n{}", out.status, stderr(&out));
    Ok(serde_json::from_str(&stdout(&out))?)
}

/// Indexes the three registries from their deployment block to the head.
async fn index(stack: &Stack, registries: &AgentRegistries, block: u64) -> anyhow::Result<()> {
    for (contract, kind) in [
        (registries.identity, ContractKind::Identity),
        (registries.reputation, ContractKind::Reputation),
        (registries.validation, ContractKind::Validation),
    ] {
        let config = IndexerConfig { kind, start_block: block, ..IndexerConfig::new(contract) };
        let provider = prova_chain::connect_without_retries(&stack.rpc_url)?;
        Indexer::new(stack.pool.clone(), provider, config).await?.sync_to_head().await?;
    }
    Ok(())
}

/// `GET {api}{path}`, which must answer 200.
async fn get(api: &str, path: &str) -> anyhow::Result<Value> {
    let url = format!("{api}{path}");
    let response = reqwest::get(&url).await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "{url}: HTTP {status}: {body}");
    Ok(body)
}

fn address(v: &Value) -> Address {
    v.as_str().unwrap_or_else(|| panic!("not an address: {v}")).parse().unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A decimal as a dApp passes it to `giveFeedback` (`"-3.7"`, `"0.000001"`) in ERC-8004's encoding: the integer
/// value as a decimal string and `valueDecimals`, with trailing zeros of the fraction dropped.
fn encode(decimal: &str) -> (String, u8) {
    assert!(decimal.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.'), "plain decimal: {decimal}");
    let (negative, unsigned) = decimal.strip_prefix('-').map_or((false, decimal), |rest| (true, rest));
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let frac = frac.trim_end_matches('0');
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if negative && digits != "0" { "-" } else { "" };
    (format!("{sign}{digits}"), u8::try_from(frac.len()).unwrap())
}

/// `value / 10^decimals` as the nearest `f64`, which is what JavaScript's `Number(value) / 10 ** decimals` gives
/// for these magnitudes.
fn as_f64(value: &str, decimals: u8) -> f64 {
    value.parse::<f64>().unwrap() / 10f64.powi(i32::from(decimals))
}

/// The SDK's `getFeedback` reads back every value, tag, endpoint and revocation the script wrote, and `loadAgent`
/// finds both registration files (HTTP and `data:`) and the wallets.
fn the_sdk_reads_back_what_it_wrote(world: &World<'_>) -> anyhow::Result<()> {
    let report = &world.report.0;
    let given = report["given"].as_array().unwrap();
    let read = report["readBack"].as_array().unwrap();
    assert_eq!(given.len(), read.len());
    for (g, r) in given.iter().zip(read) {
        let (value, decimals) = encode(text(&g["value"]));
        let expected = as_f64(&value, decimals);
        assert_eq!(text(&r["value"]).parse::<f64>()?, expected, "read back {g} as {r}");
        assert_eq!(text(&g["sdkValue"]).parse::<f64>()?, expected, "SDK result of {g}");
        let tags: Vec<&Value> = [&g["tag1"], &g["tag2"]].into_iter().filter(|t| *t != "").collect();
        assert_eq!(r["tags"].as_array().unwrap().iter().collect::<Vec<_>>(), tags, "tags of {g}");
        assert_eq!(r["endpoint"], g["endpoint"], "endpoint of {g}");
        let revoked = world.report.revoked(text(&g["agent"]), &g["client"], &g["feedbackIndex"]);
        assert_eq!(r["isRevoked"], revoked, "revoked flag of {g}");
    }
    let (owner, wallet) = (address(&report["owner"]), address(&report["wallet"]));
    for (name, expected_wallet) in [("weather", wallet), ("reviewer", owner)] {
        let loaded = &report["loaded"][name];
        assert_eq!(loaded["agentURI"], report["agents"][name]["agentURI"], "{name}");
        assert!(!text(&loaded["name"]).is_empty(), "loadAgent found no registration file for {name}: {loaded}");
        assert_eq!(address(&loaded["owner"]), owner);
        assert_eq!(address(&loaded["wallet"]), expected_wallet, "wallet of {name}");
    }
    assert!(text(&report["agents"]["weather"]["agentURI"]).starts_with("http://127.0.0.1:"));
    assert!(text(&report["agents"]["reviewer"]["agentURI"]).starts_with("data:application/json;base64,"));
    Ok(())
}

/// `GET /v1/agents/{chain}/{id}`: the URI, owner, wallet and metadata the SDK registered, and the feedback counts.
async fn the_api_shows_the_agent_as_registered(world: &World<'_>, name: &str) -> anyhow::Result<()> {
    let (report, id) = (&world.report, world.report.agent_id(name));
    let agent = get(&world.api, &format!("/v1/agents/{}/{id}", world.stack.chain_id)).await?;
    assert_eq!(agent["agent_id"], id.as_str(), "{agent}");
    assert_eq!(address(&agent["identity_registry"]), world.registries.identity);
    assert_eq!(agent["agent_uri"], report.0["agents"][name]["agentURI"], "{name}");
    assert_eq!(address(&agent["owner"]), address(&report.0["owner"]));
    // The HTTP agent's wallet is the one setWallet set; the other keeps the standard's initial wallet, its owner.
    let wallet = if name == "weather" { &report.0["wallet"] } else { &report.0["owner"] };
    assert_eq!(address(&agent["wallet"]), address(wallet), "wallet of {name}");

    // The SDK writes each metadata value as UTF-8 bytes under its key.
    let metadata: BTreeMap<&str, &Value> =
        agent["metadata"].as_array().unwrap().iter().map(|m| (text(&m["key"]), &m["value_utf8"])).collect();
    let written: BTreeMap<&str, &Value> =
        report.0["agents"][name]["metadata"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(metadata, written, "metadata of {name}: {agent}");

    let given: Vec<&Value> = report.of("given", name).collect();
    let clients: std::collections::BTreeSet<String> = given.iter().map(|g| g["client"].to_string()).collect();
    let feedback = &agent["feedback"];
    assert_eq!(address(&agent["reputation_registry"]), world.registries.reputation);
    assert_eq!(feedback["total"], given.len(), "{name}: {feedback}");
    assert_eq!(feedback["revoked"], report.of("revoked", name).count(), "{name}: {feedback}");
    assert_eq!(feedback["verified"], 0);
    assert_eq!(feedback["distinct_clients"], clients.len(), "{name}: {feedback}");
    Ok(())
}

/// `GET /v1/agents/{chain}/{id}/feedback`: every record the SDK gave, with its exact value and decimals (also
/// negative, above 100, and with 18 decimals), tags, endpoint, revocation and response count.
async fn the_api_lists_every_feedback_exactly_as_written(world: &World<'_>, name: &str) -> anyhow::Result<()> {
    let (report, id) = (&world.report, world.report.agent_id(name));
    let page = get(&world.api, &format!("/v1/agents/{}/{id}/feedback?limit=100", world.stack.chain_id)).await?;
    assert!(page["next_cursor"].is_null());
    let mut items: BTreeMap<(Address, u64), &Value> = BTreeMap::new();
    for item in page["items"].as_array().unwrap() {
        items.insert((address(&item["client"]), item["feedback_index"].as_u64().unwrap()), item);
    }
    let given: Vec<&Value> = report.of("given", name).collect();
    assert_eq!(items.len(), given.len(), "{name}: {page}");
    for g in given {
        let key = (report.client(&g["client"]), g["feedbackIndex"].as_u64().unwrap());
        let item = items.get(&key).unwrap_or_else(|| panic!("{name}: no feedback {key:?} in {page}"));
        let (value, decimals) = encode(text(&g["value"]));
        assert_eq!((text(&item["value"]), item["value_decimals"].as_u64()), (value.as_str(), Some(decimals.into())));
        assert_eq!((&item["tag1"], &item["tag2"], &item["endpoint"]), (&g["tag1"], &g["tag2"], &g["endpoint"]), "{g}");
        // Without IPFS the SDK writes no feedback file.
        assert_eq!(
            (item["feedback_uri"].as_str(), item["feedback_hash"].as_str()),
            (Some(""), Some(&*B256::ZERO.to_string()))
        );
        let revoked = report.revoked(name, &g["client"], &g["feedbackIndex"]);
        assert_eq!((item["revoked"].as_bool(), item["revocation"].is_null()), (Some(revoked), !revoked), "{item}");
        assert_eq!(item["responses"], report.responses(name, &g["client"], &g["feedbackIndex"]), "{item}");
        assert_eq!(item["verified"], false);
        assert_eq!(text(&item["chain"]["tx_hash"]).parse::<B256>()?, text(&g["txHash"]).parse::<B256>()?, "{item}");
    }
    Ok(())
}

/// Each `getReputationSummary` the SDK computed over RPC (the registry's `getSummary` over every client from
/// `getClients`) equals the API's `mean` summary with the same tags: same count, same average. Values outside
/// 0..100 are in both summaries but left out of prova's score, and counted in `out_of_range`.
async fn the_sdk_summaries_equal_the_api_mean(world: &World<'_>) -> anyhow::Result<()> {
    let report = &world.report;
    let mut with_out_of_range = 0;
    for s in report.0["summaries"].as_array().unwrap() {
        let name = text(&s["agent"]);
        let mut query = String::from("algorithm=mean");
        for tag in ["tag1", "tag2"] {
            if s[tag] != "" {
                query.push_str(&format!("&{tag}={}", text(&s[tag])));
            }
        }
        let path = format!("/v1/agents/{}/{}/reputation?{query}", world.stack.chain_id, report.agent_id(name));
        let body = get(&world.api, &path).await?;
        let score = &body["score"];
        let summary = &score["summary"];
        let average = as_f64(text(&summary["summary_value"]), summary["summary_decimals"].as_u64().unwrap() as u8);
        assert_eq!(summary["count"], s["count"], "{s} vs {body}");
        assert_eq!(average, text(&s["averageValue"]).parse::<f64>()?, "{s} vs {body}");

        // The records the filter keeps, as the script gave them.
        let kept: Vec<f64> = report
            .of("given", name)
            .filter(|g| !report.revoked(name, &g["client"], &g["feedbackIndex"]))
            .filter(|g| ["tag1", "tag2"].iter().all(|t| s[*t] == "" || g[*t] == s[*t]))
            .map(|g| text(&g["value"]).parse().unwrap())
            .collect();
        let out_of_range = kept.iter().filter(|v| !(0.0..=100.0).contains(*v)).count();
        assert_eq!(s["count"], kept.len(), "{s}");
        assert_eq!(score["out_of_range"], out_of_range, "{s} vs {body}");
        assert_eq!(score["count"].as_u64().unwrap() as usize, kept.len() - out_of_range, "{body}");
        if out_of_range == 0 {
            // Nothing left out: prova's score is the SDK's average.
            assert_eq!(score["score"].as_f64(), Some(average), "{s} vs {body}");
        } else {
            with_out_of_range += 1;
        }
    }
    assert!(with_out_of_range > 0, "the scenario must have a summary with values outside 0..100");
    Ok(())
}

/// `prova verify reputation ... --algorithm all` recomputes every algorithm from the chain and agrees with the API.
fn verify_reputation_accepts_every_algorithm(world: &World<'_>, name: &str) -> anyhow::Result<()> {
    let (identity, reputation) = (world.registries.identity.to_string(), world.registries.reputation.to_string());
    let (chain, agent) = (world.stack.chain_id.to_string(), world.report.agent_id(name));
    let _: U256 = agent.parse()?;
    let out = world.stack.prova(
        &[
            "verify",
            "reputation",
            &chain,
            &agent,
            "--identity-registry",
            &identity,
            "--reputation-registry",
            &reputation,
            "--api",
            &world.api,
            "--algorithm",
            "all",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "verify reputation {name}:\n{}\n{}", stdout(&out), stderr(&out));
    Ok(())
}
