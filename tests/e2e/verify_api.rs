//! `prova verify api` audits a running API against the chain: on the `prova dev` stack (plus a validation, a
//! revoked feedback, a revoked version and a compromised key, sent as real transactions) every kind of fact is
//! checked and matches; rows altered by hand in Postgres are named exactly, with the field, the API's value and the
//! chain's; a wrong chain, a dead RPC endpoint and a dead API are errors (exit 2), not verdicts.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use prova_attestor::agents::{self, FeedbackInput};
use prova_chain::Account;
use prova_devnet::ChildGuard;
use prova_devnet::local::free_port;
use prova_e2e::{anvil_with_states_in, prova_bin, spawn_dev, stderr, stdout};
use serde_json::Value;

/// Lowercase `0x` hex, as the API and the report write hashes and addresses.
fn hex(bytes: impl AsRef<[u8]>) -> String {
    alloy::hex::encode_prefixed(bytes)
}

/// The kinds the summary lists, as it names them.
const KINDS: [&str; 8] = [
    "model versions",
    "output batches",
    "publishers",
    "attestor keys",
    "agents",
    "feedback",
    "validations",
    "reputation scores",
];

/// A running `prova dev`, stopped (Ctrl-C) on drop.
struct Dev {
    _child: ChildGuard,
    _data: tempfile::TempDir,
    rpc: String,
    api: String,
    postgres: String,
    registry: Address,
    identity: Address,
    reputation: Address,
    validation: Address,
    base_version: B256,
    finetune_version: B256,
    publisher: Address,
    good: U256,
}

/// The word after `label` in the banner line that starts with `line`.
fn banner_field(banner: &str, line: &str, label: &str) -> String {
    let l =
        banner.lines().map(str::trim).find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no {line}:\n{banner}"));
    let (_, rest) = l.split_once(label).unwrap_or_else(|| panic!("no {label} in {l}"));
    rest.split_whitespace().next().unwrap().trim_matches(|c| c == '(' || c == ')' || c == ',').to_owned()
}

impl Dev {
    fn start() -> anyhow::Result<Self> {
        let (mut child, data, _listen) = spawn_dev("prova-verify-api")?;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        while let Some(line) = lines.next().transpose()? {
            if line.starts_with("Try:") {
                break;
            }
            banner.push(line);
        }
        // Keep draining stdout so that dev never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let banner = banner.join("\n");
        assert!(banner.contains("prova dev is running"), "banner:\n{banner}");
        Ok(Self {
            _child: ChildGuard::new(child),
            _data: data,
            rpc: banner_field(&banner, "chain ", "chain"),
            api: banner_field(&banner, "api ", "api"),
            postgres: banner_field(&banner, "postgres ", "postgres"),
            registry: banner_field(&banner, "registry ", "registry").parse()?,
            identity: banner_field(&banner, "erc-8004 ", "identity").parse()?,
            reputation: banner_field(&banner, "erc-8004 ", "reputation").parse()?,
            validation: banner_field(&banner, "erc-8004 ", "validation").parse()?,
            base_version: banner_field(&banner, "versions ", "base").parse()?,
            finetune_version: banner_field(&banner, "fine-tune ", "fine-tune").parse()?,
            publisher: banner_field(&banner, "publisher ", "Demo Lab").parse()?,
            good: banner_field(&banner, "agents ", "good #").parse()?,
        })
    }

    fn verify(&self, extra: &[&str]) -> Output {
        verify(&self.api, &self.rpc, extra)
    }
}

fn verify(api: &str, rpc: &str, extra: &[&str]) -> Output {
    Command::new(prova_bin())
        .args(["verify", "api", "--api", api, "--rpc", rpc])
        .args(extra)
        .env_remove("PROVA_CHAIN_ID")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run prova")
}

/// The (checked, mismatched) counts of the summary, by kind.
fn summary(text: &str) -> Vec<(String, u64, u64)> {
    KINDS
        .iter()
        .map(|kind| {
            let line = text.lines().find(|l| l.starts_with(kind)).unwrap_or_else(|| panic!("no {kind} line:\n{text}"));
            let numbers: Vec<u64> = line[kind.len()..].split_whitespace().map(|n| n.parse().unwrap()).collect();
            ((*kind).to_owned(), numbers[0], numbers[1])
        })
        .collect()
}

/// Polls `url` until `done` holds for its JSON answer.
async fn wait_for(url: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(url).send().await
            && let Ok(body) = response.json::<Value>().await
            && done(&body)
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {url}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Adds what the demo lacks, as real transactions: an agent with a validation request and its answer, feedback
/// that is revoked, the fine-tune revoked, and a second attestor key flagged compromised. Waits until indexed.
async fn add_facts(dev: &Dev) -> anyhow::Result<()> {
    let anvil_key = |i: u8| -> PrivateKeySigner {
        // anvil's default mnemonic accounts 5..7 (0 pays for the demo).
        let keys = [
            "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
            "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
            "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
        ];
        keys[usize::from(i)].parse().unwrap()
    };
    let owner = Account::connect(&dev.rpc, anvil_key(0))?;
    let validator = Account::connect(&dev.rpc, anvil_key(1))?;
    let client = Account::connect(&dev.rpc, anvil_key(2))?;
    let agent =
        agents::register(&owner, dev.identity, "https://example.org/audited.json", Some(dev.base_version)).await?;
    let request_hash = B256::repeat_byte(0x42);
    agents::request_validation(
        &owner,
        dev.validation,
        validator.address,
        agent.agent_id,
        "ipfs://request",
        request_hash,
    )
    .await?;
    let (id, uri) = (agent.agent_id, "ipfs://response");
    agents::respond_validation(&validator, dev.validation, id, request_hash, 87, uri, B256::ZERO, "audit").await?;
    let given =
        agents::give_feedback(&client, dev.reputation, agent.agent_id, &FeedbackInput::value(40, 0), None).await?;
    agents::revoke_feedback(&client, dev.reputation, agent.agent_id, given.feedback_index).await?;
    agents::give_feedback(&client, dev.reputation, agent.agent_id, &FeedbackInput::value(77, 0), None).await?;

    let admin_key: PrivateKeySigner = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse()?;
    let admin = prova_chain::connect_with_signer(&dev.rpc, admin_key)?;
    prova_attestor::admin::revoke_version(&admin, dev.registry, dev.publisher, dev.finetune_version, "superseded")
        .await?;
    let spare_key = PrivateKeySigner::random();
    let spare = spare_key.address();
    prova_attestor::admin::add_own_attestor(&admin, dev.registry, dev.publisher, &spare_key).await?;
    let now = prova_chain::chain_time(&admin).await?;
    prova_attestor::admin::mark_compromised(&admin, dev.registry, dev.publisher, spare, now - 5).await?;

    let chain_id = 31337;
    let api = &dev.api;
    wait_for(&format!("{api}/v1/agents/{chain_id}/{}/validations", agent.agent_id), |b| {
        !b["items"][0]["response"].is_null()
    })
    .await?;
    wait_for(&format!("{api}/v1/agents/{chain_id}/{}", agent.agent_id), |b| {
        b["feedback"]["total"] == 2 && b["feedback"]["revoked"] == 1
    })
    .await?;
    wait_for(&format!("{api}/v1/publishers/{:#x}", dev.publisher), |b| {
        b["attestor_keys"].as_array().is_some_and(|k| k.iter().any(|k| k["status"] == "compromised"))
    })
    .await?;
    wait_for(&format!("{api}/v1/model-versions/{}", dev.finetune_version), |b| !b["claims"][0]["revocation"].is_null())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn audits_the_dev_stack_and_names_tampered_rows() -> anyhow::Result<()> {
    let dev = Dev::start()?;
    add_facts(&dev).await?;

    // Test 1: every kind of fact is checked and matches the chain.
    every_kind_of_fact_is_checked_and_matches(&dev);
    a_sample_checks_at_most_n_facts_per_kind_and_repeats_with_its_seed(&dev);
    // Test 2: rows altered by hand in the API's database are named exactly: kind, id, field, API value, chain value.
    let tampered = three_rows_are_altered_by_hand(&dev).await?;
    each_altered_row_is_named_with_its_field_and_both_values(&dev, &tampered);
    the_json_report_gives_the_same_verdict(&dev)?;
    // Test 3 (part): an RPC endpoint of another chain is refused before anything is checked.
    a_wrong_chain_is_refused_before_anything_is_checked(&dev)?;
    Ok(())
}

/// Every kind of fact is checked and matches the chain.
fn every_kind_of_fact_is_checked_and_matches(dev: &Dev) {
    let out = dev.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for (kind, checked, mismatched) in summary(&text) {
        assert!(checked > 0, "no {kind} checked:\n{text}");
        assert_eq!(mismatched, 0, "{kind}:\n{text}");
    }
    assert!(text.contains("VERIFIED"), "{text}");
}

/// A sample checks at most N facts per kind, and is repeatable with its seed.
fn a_sample_checks_at_most_n_facts_per_kind_and_repeats_with_its_seed(dev: &Dev) {
    let out = dev.verify(&["--sample", "2", "--seed", "7"]);
    let sampled = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{sampled}\n{}", stderr(&out));
    for (kind, checked, _) in summary(&sampled) {
        // Feedback and validations are sampled among those of the sampled agents, which may have none.
        let least = if kind == "feedback" || kind == "validations" { 0 } else { 1 };
        let most = if kind == "reputation scores" { 4 } else { 2 };
        assert!((least..=most).contains(&checked), "{kind}: {checked} checked:\n{sampled}");
    }
    assert!(sampled.contains("--seed 7"), "{sampled}");
}

/// What [`three_rows_are_altered_by_hand`] changed.
struct Tampered {
    /// The client of the altered feedback.
    client: Address,
    /// Its feedback index.
    index: i64,
    /// Its value in the database now, and on the chain.
    value: String,
    original: i128,
    /// The output batch moved one block up, and its block in the database now.
    root: B256,
    block: i64,
}

/// In the API's database: the base version's metadata URI, one feedback value of the good agent and one output
/// batch's block number.
async fn three_rows_are_altered_by_hand(dev: &Dev) -> anyhow::Result<Tampered> {
    let pool = sqlx::PgPool::connect(&dev.postgres).await?;
    sqlx::query("UPDATE model_version_registered SET metadata_uri = 'ipfs://tampered' WHERE version_hash = $1")
        .bind(dev.base_version.to_vec())
        .execute(&pool)
        .await?;
    let (client, index): (Vec<u8>, i64) = sqlx::query_as(
        "SELECT client, feedback_index FROM feedback_given WHERE agent_id = $1::NUMERIC ORDER BY block_number, log_index LIMIT 1",
    )
    .bind(dev.good.to_string())
    .fetch_one(&pool)
    .await?;
    let client = Address::from_slice(&client);
    let value: String = sqlx::query_scalar(
        "UPDATE feedback_given SET value = value + 1 WHERE agent_id = $1::NUMERIC AND client = $2 AND feedback_index = $3
         RETURNING value::TEXT",
    )
    .bind(dev.good.to_string())
    .bind(client.to_vec())
    .bind(index)
    .fetch_one(&pool)
    .await?;
    let original: i128 = value.parse::<i128>()? - 1;
    let (root, block): (Vec<u8>, i64) =
        sqlx::query_as("UPDATE outputs_attested SET block_number = block_number + 1 RETURNING root, block_number")
            .fetch_one(&pool)
            .await?;
    let root = B256::from_slice(&root);
    Ok(Tampered { client, index, value, original, root, block })
}

/// Each altered row is named exactly: kind, id, field, API value, chain value; the verdict is NOT VERIFIED.
fn each_altered_row_is_named_with_its_field_and_both_values(dev: &Dev, tampered: &Tampered) {
    let Tampered { client, index, value, original, root, block } = tampered;
    let out = dev.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let expect = [
        format!(
            "model version {}: metadata_uri: api \"ipfs://tampered\" != chain \"https://example.org/demo-lab/tiny-llm.json\"",
            hex(dev.base_version)
        ),
        format!(
            "feedback agent {} client {} #{index}: value: api \"{value}\" != chain \"{original}\"",
            dev.good,
            hex(client)
        ),
        format!("output batch {}: chain.block_number: api {block} != chain {}", hex(root), block - 1),
    ];
    for line in &expect {
        assert!(text.lines().any(|l| l == line), "missing line\n  {line}\nin:\n{text}");
    }
    let summary = summary(&text);
    assert_eq!(summary[0].2, 1, "one model version mismatched:\n{text}");
    assert_eq!(summary[1].2, 1, "one output batch mismatched:\n{text}");
    assert!(text.contains("NOT VERIFIED"), "{text}");
}

/// The same verdict as JSON.
fn the_json_report_gives_the_same_verdict(dev: &Dev) -> anyhow::Result<()> {
    let out = dev.verify(&["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["verified"], false);
    let tampered = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "model version" && m["field"] == "metadata_uri")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(tampered["id"], hex(dev.base_version));
    assert_eq!(tampered["api"], "\"ipfs://tampered\"");
    Ok(())
}

/// An RPC endpoint of another chain, or `--chain-id` of another, is refused before anything is checked (exit 2).
fn a_wrong_chain_is_refused_before_anything_is_checked(dev: &Dev) -> anyhow::Result<()> {
    let states = tempfile::tempdir()?;
    let other = anvil_with_states_in(states.path())?.chain_id(4242).try_spawn()?;
    let out = verify(&dev.api, &other.endpoint(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let error = stderr(&out);
    assert!(error.contains("wrong chain") && error.contains("4242") && error.contains("31337"), "{error}");
    let out = dev.verify(&["--chain-id", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("wrong chain"), "{}", stderr(&out));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_endpoints_are_errors_not_verdicts() -> anyhow::Result<()> {
    let dead = format!("http://127.0.0.1:{}", free_port()?);
    let states = tempfile::tempdir()?;
    let anvil = anvil_with_states_in(states.path())?.try_spawn()?;

    let out = verify("http://127.0.0.1:9", &dead, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("the RPC endpoint") && stderr(&out).contains("does not answer"), "{}", stderr(&out));

    let out = verify(&dead, &anvil.endpoint(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("the API") && stderr(&out).contains("does not answer"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no verdict is printed: {}", stdout(&out));
    Ok(())
}
