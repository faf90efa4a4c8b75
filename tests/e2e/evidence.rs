//! Evidence that survives a dispute, attacked end to end on anvil and Postgres (issue 14, `docs/threat-model.md`):
//! a squatter and a mempool front-runner claim a lab's version, and a thief anchors outputs with a stolen attestor
//! key. Each attack must fail in the same way in the contract's views, the API, `prova verify model|output` and
//! `prova verify api`.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use prova_attestor::admin;
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_core::bindings::{
    AttestOutputs, IProvenanceRegistry, RegisterModelVersion, commitment_of, model_id, random_nonce,
};
use prova_core::manifest::{HashOptions, hash_dir};
use prova_core::merkle::MerkleTree;
use prova_core::outputs::{OutputLeaf, RECEIPT_FORMAT, Receipt};
use prova_e2e::{Stack, stderr, stdout, write_model};
use serde_json::{Value, json};

/// A publisher with its own attestor key: a lab, or someone pretending to be one.
struct Publisher {
    admin: DynProvider,
    admin_key: PrivateKeySigner,
    attestor: PrivateKeySigner,
}

impl Publisher {
    fn address(&self) -> Address {
        self.admin_key.address()
    }
}

/// Registers anvil key `admin` as a publisher named `name`, with anvil key `attestor` as its attestor.
async fn publisher(stack: &Stack, name: &str, admin: usize, attestor: usize) -> anyhow::Result<Publisher> {
    let admin_key = stack.anvil_key(admin);
    let provider = prova_chain::connect_with_signer(&stack.rpc_url, admin_key.clone())?;
    admin::register_publisher(&provider, stack.registry, name, "").await?;
    let attestor = stack.anvil_key(attestor);
    admin::add_own_attestor(&provider, stack.registry, admin_key.address(), &attestor).await?;
    Ok(Publisher { admin: provider, admin_key, attestor })
}

fn direct(version_hash: B256) -> PublishRequest {
    PublishRequest { commit: false, ..PublishRequest::new(version_hash, "acme/llm-7b") }
}

/// Waits until the indexer has passed the chain's head.
async fn wait_indexed(stack: &Stack) -> anyhow::Result<()> {
    let head = stack.admin.get_block_number().await?;
    prova_e2e::wait_cursor(&stack.pool, stack.chain_id, stack.registry, head + 1, Duration::from_secs(60)).await
}

async fn get(url: &str) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::get(url).await?;
    Ok((response.status().as_u16(), response.json().await?))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_squatter_and_a_front_runner_never_shadow_the_labs_claim() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let lab = publisher(&stack, "Acme AI", 1, 3).await?;
    let squatter = publisher(&stack, "Acme AI", 4, 5).await?;
    let runner = publisher(&stack, "Acme AI (official)", 6, 7).await?;
    let api = stack.index_and_serve().await?;
    let dir = stack.dir.path().join("acme-llm-7b");
    write_model(&dir, 7);
    let version = hash_dir(&dir, &HashOptions::default())?.version_hash;

    // The squatter registers the public model's hash before the lab does anything: it cannot block the lab.
    publish_model_version(&squatter.admin, stack.registry, &squatter.attestor, &direct(version)).await?;
    // The lab commits (the commitment hides the hash); a front-runner who sees the reveal's hash comes too late:
    // it registers between the commitment and the reveal, and the lab's priority is its commitment's block.
    let salt = B256::repeat_byte(0x5a);
    let registry = IProvenanceRegistry::new(stack.registry, &lab.admin);
    let commitment = commitment_of(lab.address(), version, salt);
    let committed = registry.commitModelVersion(commitment).send().await?.get_receipt().await?;
    publish_model_version(&runner.admin, stack.registry, &runner.attestor, &direct(version)).await?;
    reveal(&stack, &lab, version, salt).await?;

    let claims = [&squatter, &lab, &runner].map(Publisher::address);
    every_claim_stands_and_priority_follows_the_commitment(&stack, &claims, version, committed.block_number).await?;
    wait_indexed(&stack).await?;
    the_api_lists_every_claim_and_answers_for_the_publisher_asked(&api, &claims, version).await?;
    the_cli_lists_every_claim_and_checks_the_publisher_asked(&stack, &dir, &claims);
    Ok(())
}

/// The lab's reveal of its commitment, signed by its attestor key.
async fn reveal(stack: &Stack, lab: &Publisher, version: B256, salt: B256) -> anyhow::Result<()> {
    let message = RegisterModelVersion {
        publisher: lab.address(),
        versionHash: version,
        modelId: model_id("acme/llm-7b"),
        parent: B256::ZERO,
        metadataURI: String::new(),
        metadataHash: B256::ZERO,
        commitSalt: salt,
        nonce: random_nonce(),
        deadline: U256::from(prova_chain::chain_time(&lab.admin).await? + 600),
    };
    let signature = lab.attestor.sign_hash_sync(&message.signing_hash(stack.chain_id, stack.registry))?;
    let registry = IProvenanceRegistry::new(stack.registry, &lab.admin);
    let receipt = registry
        .registerModelVersion(message.claim(), "acme/llm-7b".into(), signature.as_bytes().into())
        .send()
        .await?
        .get_receipt()
        .await?;
    assert!(receipt.status(), "the lab's reveal reverted");
    Ok(())
}

/// `[squatter, lab, runner]` all hold a claim; the lab's committed block orders it before the runner's.
async fn every_claim_stands_and_priority_follows_the_commitment(
    stack: &Stack,
    claims: &[Address; 3],
    version: B256,
    committed_block: Option<u64>,
) -> anyhow::Result<()> {
    let registry = IProvenanceRegistry::new(stack.registry, &stack.admin);
    for publisher in claims {
        assert!(registry.isRegistered(*publisher, version).call().await?);
    }
    let [squatter, lab, runner] = claims;
    let lab_claim = registry.getModelVersion(*lab, version).call().await?;
    let runner_claim = registry.getModelVersion(*runner, version).call().await?;
    let squatter_claim = registry.getModelVersion(*squatter, version).call().await?;
    assert_eq!(Some(lab_claim.committedBlock), committed_block);
    assert!(runner_claim.registeredBlock < lab_claim.registeredBlock, "the runner landed first");
    assert!(lab_claim.committedBlock < runner_claim.registeredBlock, "but the lab committed before it");
    assert!(squatter_claim.registeredBlock < lab_claim.committedBlock, "the squatter came first of all");
    Ok(())
}

async fn the_api_lists_every_claim_and_answers_for_the_publisher_asked(
    api: &str,
    claims: &[Address; 3],
    version: B256,
) -> anyhow::Result<()> {
    let [squatter, lab, runner] = claims;
    let (status, all) = get(&format!("{api}/v1/model-versions/{version}")).await?;
    assert_eq!(status, 200, "{all}");
    let listed: Vec<String> =
        all["claims"].as_array().unwrap().iter().map(|c| c["publisher"].as_str().unwrap().to_owned()).collect();
    let expect: Vec<String> = [squatter, lab, runner].iter().map(|a| format!("{a:#x}")).collect();
    assert_eq!(listed, expect, "priority order: squatter (earliest block), lab (commitment), runner");
    assert_eq!(all["claim"], Value::Null, "no publisher asked about, none singled out");

    let (status, asked) = get(&format!("{api}/v1/model-versions/{version}?publisher={lab:#x}")).await?;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["claim"]["publisher"], format!("{lab:#x}"));
    assert!(asked["claim"]["committed_block"].is_u64(), "{asked}");
    assert_eq!(asked["claims"].as_array().unwrap().len(), 3);

    let stranger = Address::repeat_byte(0x77);
    let (status, none) = get(&format!("{api}/v1/model-versions/{version}?publisher={stranger:#x}")).await?;
    assert_eq!(status, 404, "{none}");
    Ok(())
}

fn the_cli_lists_every_claim_and_checks_the_publisher_asked(
    stack: &Stack,
    dir: &std::path::Path,
    claims: &[Address; 3],
) {
    let [squatter, lab, runner] = claims;
    let dir = dir.to_str().unwrap();
    let out = stack.prova(&["verify", "model", dir, "--publisher", &lab.to_string()], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("3 publishers claim it"), "{text}");
    assert!(text.contains(&format!("{lab}  <- the publisher asked about")), "{text}");
    let order: Vec<usize> = [squatter, lab, runner].iter().map(|a| text.find(&format!("{a}")).unwrap()).collect();
    assert!(order.is_sorted(), "claims in priority order: {text}");

    let out = stack.prova(&["verify", "model", dir, "--json"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdict["exact"]["claims"].as_array().unwrap().len(), 3);
    assert_eq!(verdict["exact"]["asked_publisher"], Value::Null);

    let stranger = Address::repeat_byte(0x77).to_string();
    let out = stack.prova(&["verify", "model", dir, "--publisher", &stranger], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("has not claimed version"), "{}", stdout(&out));
}

/// One anchored batch: its leaves and tree.
struct Batch {
    root: B256,
    leaves: Vec<OutputLeaf>,
    tree: MerkleTree,
    tx_hash: B256,
    block_number: u64,
}

impl Batch {
    fn receipt(&self, chain_id: u64, registry: Address, i: usize) -> Receipt {
        let leaf = self.leaves[i];
        Receipt {
            format: RECEIPT_FORMAT.into(),
            chain_id,
            registry,
            root: self.root,
            leaf,
            proof: self.tree.proof(leaf.hash()).expect("a leaf of the tree"),
            tx_hash: self.tx_hash,
            block_number: self.block_number,
        }
    }
}

fn output(tag: &str, i: usize) -> (String, String) {
    (format!("{tag} request {i}"), format!("{tag} response {i}"))
}

/// Anchors `times.len()` outputs with the given leaf times under a signed window `[start, end]`.
async fn anchor(
    stack: &Stack,
    key: &PrivateKeySigner,
    version: B256,
    tag: &str,
    times: &[u64],
    window: (u64, u64),
) -> anyhow::Result<Batch> {
    let leaves: Vec<OutputLeaf> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let (request, response) = output(tag, i);
            OutputLeaf::new(version, request.as_bytes(), response.as_bytes(), t)
        })
        .collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(OutputLeaf::hash).collect()).expect("leaves");
    let message = AttestOutputs {
        versionHash: version,
        root: tree.root(),
        leafCount: leaves.len() as u64,
        windowStart: window.0,
        windowEnd: window.1,
        batchURI: String::new(),
        nonce: random_nonce(),
        deadline: U256::from(prova_chain::chain_time(&stack.admin).await? + 600),
    };
    let signature = key.sign_hash_sync(&message.signing_hash(stack.chain_id, stack.registry))?;
    let registry = IProvenanceRegistry::new(stack.registry, &stack.admin);
    let call = registry.attestOutputs(
        version,
        message.root,
        message.leafCount,
        window.0,
        window.1,
        message.batchURI.clone(),
        message.nonce,
        message.deadline,
        signature.as_bytes().into(),
    );
    let receipt = call.send().await?.get_receipt().await?;
    assert!(receipt.status());
    Ok(Batch {
        root: tree.root(),
        leaves,
        tree,
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
    })
}

/// How each checker judged one receipt.
#[derive(Debug, PartialEq, Eq)]
struct Verdicts {
    contract: bool,
    api: bool,
    cli: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn outputs_outside_their_window_or_anchored_with_a_stolen_key_fail_everywhere() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let lab = publisher(&stack, "Acme AI", 1, 3).await?;
    let api = stack.index_and_serve().await?;
    let version = B256::repeat_byte(0x42);
    publish_model_version(&lab.admin, stack.registry, &lab.attestor, &direct(version)).await?;

    // An honest batch, except that its last leaf claims a time its signed window does not cover (back-dated).
    let now = prova_chain::chain_time(&stack.admin).await?;
    let honest =
        anchor(&stack, &lab.attestor, version, "honest", &[now - 30, now - 20, now - 500], (now - 30, now - 20))
            .await?;
    // A thief with the stolen key anchors forged outputs; the lab then flags the key compromised from before that.
    let _: Value = stack.admin.raw_request("evm_increaseTime".into(), [120u64]).await?;
    let _: Value = stack.admin.raw_request("evm_mine".into(), ()).await?;
    let later = prova_chain::chain_time(&stack.admin).await?;
    let stolen =
        anchor(&stack, &lab.attestor, version, "forged", &[later - 5, later - 4], (later - 5, later - 4)).await?;
    let since = later - 10;
    let out = stack.prova(
        &["publisher", "compromise-attestor", &lab.attestor.address().to_string(), "--since", &since.to_string()],
        &[("PROVA_PRIVATE_KEY", &lab.admin_key.to_bytes().to_string())],
    );
    assert!(out.status.success(), "compromise: {}", stderr(&out));
    wait_indexed(&stack).await?;

    let (chain_id, registry) = (stack.chain_id, stack.registry);
    let genuine = judge(&stack, &api, "honest", 0, &honest.receipt(chain_id, registry, 0)).await?;
    assert_eq!(genuine, Verdicts { contract: true, api: true, cli: true }, "an honest output verifies");
    let backdated = judge(&stack, &api, "honest", 2, &honest.receipt(chain_id, registry, 2)).await?;
    assert_eq!(backdated, Verdicts { contract: false, api: false, cli: false }, "a leaf outside its window");
    let forged = judge(&stack, &api, "forged", 0, &stolen.receipt(chain_id, registry, 0)).await?;
    assert_eq!(forged, Verdicts { contract: false, api: false, cli: false }, "anchored with a compromised key");

    let (_, batch) = get(&format!("{api}/v1/output-batches/{}", stolen.root)).await?;
    assert_eq!(batch["signed_by_compromised_key"], true, "{batch}");
    let (_, batch) = get(&format!("{api}/v1/output-batches/{}", honest.root)).await?;
    assert_eq!(batch["signed_by_compromised_key"], false, "{batch}");

    // The auditor's view: every fact the API states (the compromise flags included) matches the chain.
    let out = stack.prova(&["verify", "api", "--api", &api], &[]);
    assert!(out.status.success(), "verify api: {}{}", stdout(&out), stderr(&out));
    Ok(())
}

/// The contract's `verifyOutput`, `POST /v1/outputs/verify` and `prova verify output` on one receipt.
async fn judge(stack: &Stack, api: &str, tag: &str, i: usize, receipt: &Receipt) -> anyhow::Result<Verdicts> {
    let (request, response) = output(tag, i);
    assert_eq!(receipt.leaf.response_hash, keccak256(&response));
    let l = &receipt.leaf;
    let contract = IProvenanceRegistry::new(stack.registry, &stack.admin)
        .verifyOutput(
            receipt.root,
            l.version_hash,
            l.request_hash,
            l.response_hash,
            l.timestamp,
            l.salt,
            receipt.proof.clone(),
        )
        .call()
        .await?;
    let answer: Value = reqwest::Client::new()
        .post(format!("{api}/v1/outputs/verify"))
        .json(&json!({ "receipt": receipt, "request": request, "response": response }))
        .send()
        .await?
        .json()
        .await?;
    let dir = stack.dir.path();
    let (receipt_file, request_file, response_file) =
        (dir.join(format!("{tag}-{i}.json")), dir.join(format!("{tag}-{i}.req")), dir.join(format!("{tag}-{i}.res")));
    std::fs::write(&receipt_file, serde_json::to_string(receipt)?)?;
    std::fs::write(&request_file, &request)?;
    std::fs::write(&response_file, &response)?;
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let out = stack.prova(
        &[
            "verify",
            "output",
            &path(&receipt_file),
            "--request",
            &path(&request_file),
            "--response",
            &path(&response_file),
        ],
        &[],
    );
    let text = stdout(&out);
    let cli = match out.status.code() {
        Some(0) => {
            assert!(text.contains("no later than"), "{text}");
            true
        }
        Some(1) => {
            assert!(text.contains("NOT VERIFIED"), "{text}");
            false
        }
        other => panic!("prova verify output exited with {other:?}: {text}{}", stderr(&out)),
    };
    let api = answer["valid"].as_bool().unwrap_or_else(|| panic!("no verdict: {answer}"));
    Ok(Verdicts { contract, api, cli })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validation_request_copied_for_another_agent_is_not_answered() -> anyhow::Result<()> {
    use prova_attestor::agents;
    use prova_chain::Account;
    let stack = Stack::start().await?;
    let (registries, _) = prova_chain::deploy_agent_registries(&stack.admin).await?;
    let (owner, thief) =
        (Account::connect(&stack.rpc_url, stack.anvil_key(1))?, Account::connect(&stack.rpc_url, stack.anvil_key(2))?);
    let validator = stack.anvil_key(3);
    let honest = agents::register(&owner, registries.identity, "https://example.org/honest.json", None).await?;
    let stolen = agents::register(&thief, registries.identity, "https://example.org/thief.json", None).await?;

    // The thief saw the honest owner's pending request and registered the same hash first, for its own agent.
    let request_hash = keccak256("audit job 42");
    agents::request_validation(
        &thief,
        registries.validation,
        validator.address(),
        stolen.agent_id,
        "ipfs://x",
        request_hash,
    )
    .await?;
    let late = agents::request_validation(
        &owner,
        registries.validation,
        validator.address(),
        honest.agent_id,
        "ipfs://x",
        request_hash,
    )
    .await;
    assert!(late.is_err(), "the honest request now reverts: the hash is taken");

    // The validator worked for the honest agent and says so: the CLI refuses to credit the thief's agent.
    let validator_hex = validator.to_bytes().to_string();
    let honest_id = honest.agent_id.to_string();
    let out = stack.prova(
        &[
            "agent",
            "validate",
            "respond",
            &request_hash.to_string(),
            "--agent-id",
            &honest_id,
            "--response",
            "95",
            "--response-uri",
            "ipfs://report",
            "--validation-registry",
            &registries.validation.to_string(),
        ],
        &[("PROVA_PRIVATE_KEY", &validator_hex)],
    );
    assert_eq!(out.status.code(), Some(2), "refused as an error: {}", stdout(&out));
    let message = stderr(&out);
    assert!(message.contains(&format!("registered for agent {}", stolen.agent_id)), "{message}");
    let status = prova_core::bindings::IValidationRegistry::new(registries.validation, &stack.admin)
        .hasResponse(request_hash)
        .call()
        .await?;
    assert!(!status, "nothing was answered");
    Ok(())
}

/// The lab's batch publisher: its attestor key signs, anvil key 2 pays.
fn lab_submitter(stack: &Stack, lab: &Publisher) -> prova_attestor::outputs::Submitter {
    prova_attestor::outputs::Submitter {
        pool: stack.attestor_pool.clone(),
        provider: stack.admin.clone(),
        attestor: lab.attestor.clone(),
        relayer: stack.anvil_key(2),
        registry: stack.registry,
        chain_id: stack.chain_id,
        confirmations: 1,
        batch_uri_base: String::new(),
        wait: Duration::from_secs(30),
    }
}

/// A chain whose blocks are stamped an hour behind the wall clock (anvil started in the past, as an L2 sequencer or
/// a slot's start can lag): a batch of outputs stamped now is not sent, or refused, until the chain's time passes
/// the batch's window end; then it is anchored. The attestor asks the chain for the time, not its own clock.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_waits_for_the_chains_clock_to_pass_its_window() -> anyhow::Result<()> {
    use prova_attestor::outputs::store::{self, Sample, SealPolicy};
    let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let stack = Stack::start_with(&["--timestamp", &(wall - 3600).to_string()]).await?;
    let lab = publisher(&stack, "Acme AI", 1, 3).await?;
    let version = B256::repeat_byte(0x43);
    publish_model_version(&lab.admin, stack.registry, &lab.attestor, &direct(version)).await?;
    let lag = wall.saturating_sub(prova_chain::next_block_time(&stack.admin).await?);
    assert!(lag > 3000, "the chain's clock lags the wall clock by about an hour, not {lag} s");

    let samples: Vec<Sample> = (0..4)
        .map(|i| {
            let (request, response) = output("lab", i);
            Sample::new(version, request.as_bytes(), response.as_bytes(), wall)
        })
        .collect();
    store::insert_samples(&stack.attestor_pool, &samples).await?;
    let submitter = lab_submitter(&stack, &lab);
    let policy = SealPolicy { max_leaves: 100, max_age_secs: 0 };
    assert!(submitter.run_once(policy).await?.is_empty(), "nothing is anchored while the chain is behind");
    assert_eq!(store::batches_in(&stack.attestor_pool, "sealed").await?.len(), 1, "the batch waits, sealed");

    let node = prova_e2e::Node::new(&stack);
    node.call("evm_increaseTime", json!([3700])).await?;
    node.mine().await?;
    let confirmed = submitter.run_once(policy).await?;
    assert_eq!(confirmed.len(), 1, "anchored once the chain's time passed the window");
    let anchored =
        IProvenanceRegistry::new(stack.registry, &stack.admin).getOutputBatch(confirmed[0].root()).call().await?;
    assert!(anchored.anchoredAt >= wall, "anchored in a block no earlier than the window's end");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_front_runner_who_anchors_the_labs_root_first_gets_no_output() -> anyhow::Result<()> {
    use prova_attestor::outputs::evidence::ReceiptMaker;
    use prova_attestor::outputs::store::{self, Sample, SealPolicy};
    let stack = Stack::start().await?;
    let lab = publisher(&stack, "Acme AI", 1, 3).await?;
    let thief = publisher(&stack, "Acme AI", 4, 5).await?;
    let version = B256::repeat_byte(0x42);
    publish_model_version(&lab.admin, stack.registry, &lab.attestor, &direct(version)).await?;
    // The thief claims the same weights, so that it may anchor batches of that version under its own publisher.
    publish_model_version(&thief.admin, stack.registry, &thief.attestor, &direct(version)).await?;

    let now = prova_chain::chain_time(&stack.admin).await?;
    let samples: Vec<Sample> = (0..8)
        .map(|i| {
            let (request, response) = output("lab", i);
            Sample::new(version, request.as_bytes(), response.as_bytes(), now - 60)
        })
        .collect();
    store::insert_samples(&stack.attestor_pool, &samples).await?;
    let sealed = store::seal_due(&stack.attestor_pool, SealPolicy { max_leaves: 100, max_age_secs: 0 }).await?;
    let taken = sealed[0].root();

    // The thief saw the lab's pending anchoring in the mempool and anchors its root first, with its own key.
    let message = AttestOutputs {
        versionHash: version,
        root: taken,
        leafCount: 8,
        windowStart: now - 60,
        windowEnd: now - 60,
        batchURI: String::new(),
        nonce: random_nonce(),
        deadline: U256::from(now + 600),
    };
    let signature = thief.attestor.sign_hash_sync(&message.signing_hash(stack.chain_id, stack.registry))?;
    let registry = IProvenanceRegistry::new(stack.registry, &thief.admin);
    let (window, uri) = ((message.windowStart, message.windowEnd), message.batchURI.clone());
    let call = registry.attestOutputs(
        version,
        taken,
        8,
        window.0,
        window.1,
        uri,
        message.nonce,
        message.deadline,
        signature.as_bytes().into(),
    );
    assert!(call.send().await?.get_receipt().await?.status());

    // The lab's publisher notices, re-salts the leaves and anchors the new root under its own key.
    let submitter = lab_submitter(&stack, &lab);
    let policy = SealPolicy { max_leaves: 100, max_age_secs: 0 };
    assert!(submitter.run_once(policy).await?.is_empty(), "the taken root is not confirmed as the lab's");
    let confirmed = submitter.run_once(policy).await?;
    assert_eq!(confirmed.len(), 1);
    let batch = store::batches_in(&stack.attestor_pool, "confirmed").await?.remove(0);
    assert_ne!(batch.root(), taken, "a new root");
    let anchored = IProvenanceRegistry::new(stack.registry, &stack.admin).getOutputBatch(batch.root()).call().await?;
    assert_eq!(anchored.attestor, lab.attestor.address());

    // Every receipt the lab hands out names the lab; none can be made for the thief's copy.
    let id: i64 = sqlx::query_scalar("SELECT min(id) FROM attestor_samples").fetch_one(&stack.attestor_pool).await?;
    let receipt = ReceiptMaker::default().receipt(&stack.attestor_pool, id).await?.expect("a confirmed batch");
    assert_eq!(receipt.root, batch.root());
    let (request, response) = output("lab", 0);
    let verdict = prova_verify::outputs::verify_receipt(
        &stack.admin,
        &receipt,
        Some(request.as_bytes()),
        Some(response.as_bytes()),
    )
    .await?
    .expect("the lab's receipt verifies");
    assert_eq!(verdict.publisher, lab.address());
    Ok(())
}
