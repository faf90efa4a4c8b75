//! Sybil resistance of ERC-8004 reputation, end to end on anvil and Postgres with the real indexer and API.
//!
//! A good agent A and a bad agent B. Thirty honest clients, each with an interaction receipt signed by the agent's
//! owner, rate A high and B low. A ring of 200 fresh addresses with no receipts rates B 100 (three times each) and
//! each other's agents 100. Under `mean` the ring wins; under `trust` seeded with a few honest clients, and under
//! `mean` with `verified_only`, A wins by far. `mean` with a client list equals the contract's `getSummary`, also on
//! random feedback (negative values, 0 to 18 decimals, revocations). `prova verify reputation` agrees with the API,
//! and catches an API serving a tampered database.

use std::process::Output;
use std::time::Instant;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use prova_api::AppState;
use prova_attestor::agents::{self, FeedbackInput};
use prova_chain::AgentRegistries;
use prova_core::bindings::{IIdentityRegistry, IReputationRegistry};
use prova_devnet::Bulk;
use prova_devnet::demo::{HonestAgent, SybilDemo, SybilPlan, build_sybil_demo};
use prova_e2e::{Stack, stderr, stdout};
use prova_indexer::{ContractKind, Indexer, IndexerConfig};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const HONEST: usize = 30;
const RING: usize = 200;
/// Times each ring member rates B.
const RING_RATINGS_OF_B: usize = 3;
/// Ring agents each ring member rates.
const RING_RATINGS_OF_RING: usize = 3;
/// Honest clients that seed `trust`.
const SEEDS: usize = 4;
const GAS: u64 = 400_000;

/// The ERC-8004 registries on the stack's anvil, with indexers for all three.
struct Agents {
    registries: AgentRegistries,
    indexers: Vec<Indexer>,
}

impl Agents {
    async fn deploy(stack: &Stack) -> anyhow::Result<Self> {
        let (registries, block) = prova_chain::deploy_agent_registries(&stack.admin).await?;
        let mut indexers = Vec::new();
        for (contract, kind) in [
            (registries.identity, ContractKind::Identity),
            (registries.reputation, ContractKind::Reputation),
            (registries.validation, ContractKind::Validation),
        ] {
            let config = IndexerConfig { kind, start_block: block, ..IndexerConfig::new(contract) };
            indexers.push(
                Indexer::new(stack.pool.clone(), prova_chain::connect_without_retries(&stack.rpc_url)?, config).await?,
            );
        }
        Ok(Self { registries, indexers })
    }

    /// Indexes every registry up to the head.
    async fn index(&self) -> anyhow::Result<()> {
        for indexer in &self.indexers {
            indexer.sync_to_head().await?;
        }
        Ok(())
    }
}

/// Starts the API on a free port with these default trust seeds; returns its URL.
async fn serve(pool: sqlx::PgPool, seeds: Vec<Address>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(prova_api::serve(listener, AppState::new(pool).with_trust_seeds(seeds), std::future::pending()));
    Ok(url)
}

/// `GET /v1/agents/{chain}/{agent}/reputation?{query}`, which must answer 200.
async fn reputation(api: &str, chain_id: u64, agent: U256, query: &str) -> anyhow::Result<Value> {
    let url = format!("{api}/v1/agents/{chain_id}/{agent}/reputation?{query}");
    let response = reqwest::get(&url).await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "{url}: HTTP {status}: {body}");
    Ok(body)
}

fn score(body: &Value) -> f64 {
    body["score"]["score"].as_f64().unwrap_or_else(|| panic!("no score in {body}"))
}

fn join(addresses: &[Address]) -> String {
    addresses.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>().join(",")
}

/// The agent ids of `Registered` events in registration receipts, in order.
fn registered_ids(receipts: &[alloy::rpc::types::TransactionReceipt]) -> Vec<U256> {
    receipts
        .iter()
        .map(|r| {
            r.inner
                .logs()
                .iter()
                .find_map(|log| log.log_decode::<IIdentityRegistry::Registered>().ok())
                .expect("a Registered event")
                .inner
                .data
                .agentId
        })
        .collect()
}

/// `getSummary(agent, clients, tag1, tag2)` by eth_call, as (count, value, decimals) in the API's JSON shape.
async fn get_summary(
    stack: &Stack,
    reputation: Address,
    agent: U256,
    clients: &[Address],
    tag1: &str,
    tag2: &str,
) -> anyhow::Result<Value> {
    let registry = IReputationRegistry::new(reputation, &stack.admin);
    let s = registry.getSummary(agent, clients.to_vec(), tag1.into(), tag2.into()).call().await?;
    Ok(serde_json::json!({
        "count": s.count,
        "summary_value": s.summaryValue.to_string(),
        "summary_decimals": s.summaryValueDecimals,
    }))
}

/// Runs `prova verify reputation` for one agent against `api`; returns the exit code and the output.
fn verify(stack: &Stack, agents: &Agents, agent: U256, api: &str, extra: &[&str]) -> (i32, String) {
    let (identity, reputation) = (agents.registries.identity.to_string(), agents.registries.reputation.to_string());
    let chain = stack.chain_id.to_string();
    let agent = agent.to_string();
    let mut args = vec!["verify", "reputation", &chain, &agent, "--identity-registry", &identity];
    args.extend(["--reputation-registry", &reputation, "--api", api]);
    args.extend(extra);
    let out = stack.prova(&args, &[]);
    (out.status.code().unwrap_or(-1), format!("{}\n{}", stdout(&out), stderr(&out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn trust_and_receipts_defeat_a_sybil_ring_and_verify_catches_a_tampered_api() -> anyhow::Result<()> {
    let started = Instant::now();
    let stack = Stack::start().await?;
    let agents = Agents::deploy(&stack).await?;
    let ring = the_ring_rates_b_and_itself_while_honest_clients_rate_both(&stack, &agents, started).await?;

    mean_lets_the_ring_lift_b_above_a(&ring).await?;
    trust_from_honest_seeds_puts_a_far_ahead(&ring).await?;
    mean_over_verified_feedback_ignores_the_ring(&ring).await?;
    let clients = mean_with_a_client_list_is_the_contracts_get_summary(&ring).await?;
    verify_reputation_agrees_with_the_api(&ring, &clients)?;
    verify_catches_an_api_over_a_tampered_database(&ring).await?;
    println!("done in {:.1?}", started.elapsed());
    Ok(())
}

/// The Sybil scenario, indexed and served: good agent A, bad agent B, the honest clients and the ring.
struct Ring<'a> {
    stack: &'a Stack,
    agents: &'a Agents,
    /// What `prova_devnet::demo` built.
    demo: SybilDemo,
    a: U256,
    b: U256,
    /// The API's default trust seeds: the first few honest clients.
    seeds: Vec<Address>,
    /// The API, with those seeds.
    api: String,
}

/// Thirty honest clients rate A high and B low with receipts; the ring rates B and each other 100 without. Everything
/// is sent at once and mined in a few blocks, then indexed and served.
async fn the_ring_rates_b_and_itself_while_honest_clients_rate_both<'a>(
    stack: &'a Stack,
    agents: &'a Agents,
    started: Instant,
) -> anyhow::Result<Ring<'a>> {
    let provider = prova_chain::connect(&stack.rpc_url)?;
    let honest_agents = [("A", "https://a.example/agent.json"), ("B", "https://b.example/agent.json")]
        .map(|(name, uri)| HonestAgent { name: name.into(), uri: uri.into(), model: None });
    let plan = SybilPlan {
        agents: &honest_agents,
        honest_clients: HONEST,
        // Honest client `i` rates A 85 and B 10, plus a spread of `i % 11`.
        rating: |i, agent| {
            let spread = i128::try_from(i % 11).unwrap();
            Some([85, 10][agent] + spread)
        },
        ring_size: RING,
        ring_uri: |_| String::new(),
        ring_target: 1,
        ring_ratings_of_target: RING_RATINGS_OF_B,
        ring_ratings_of_ring: RING_RATINGS_OF_RING,
        gas: GAS,
        mine: true,
    };
    let demo = build_sybil_demo(&provider, &stack.admin_key, &agents.registries, &plan).await?;
    println!("{} transactions on chain after {:.1?}", demo.transactions, started.elapsed());

    agents.index().await?;
    let seeds = demo.honest_addresses(SEEDS);
    let api = serve(stack.pool.clone(), seeds.clone()).await?;
    let (a, b) = (demo.agents[0], demo.agents[1]);
    Ok(Ring { stack, agents, demo, a, b, seeds, api })
}

/// mean: the ring lifts B above A.
async fn mean_lets_the_ring_lift_b_above_a(ring: &Ring<'_>) -> anyhow::Result<()> {
    let (api, chain, a, b) = (&ring.api, ring.stack.chain_id, ring.a, ring.b);
    let (mean_a, mean_b) =
        (reputation(api, chain, a, "algorithm=mean").await?, reputation(api, chain, b, "algorithm=mean").await?);
    println!("mean: A {} B {}", score(&mean_a), score(&mean_b));
    assert!(score(&mean_b) > score(&mean_a), "mean: B should outrank A: {mean_a} {mean_b}");
    assert_eq!(mean_b["score"]["count"], HONEST + RING * RING_RATINGS_OF_B);
    Ok(())
}

/// trust from a few honest clients: the ring has no trust at all, so A wins by a wide margin.
async fn trust_from_honest_seeds_puts_a_far_ahead(ring: &Ring<'_>) -> anyhow::Result<()> {
    let (api, chain, a, b) = (&ring.api, ring.stack.chain_id, ring.a, ring.b);
    let query = format!("algorithm=trust&seeds={}", join(&ring.seeds));
    let (trust_a, trust_b) = (reputation(api, chain, a, &query).await?, reputation(api, chain, b, &query).await?);
    println!("trust: A {} B {}", score(&trust_a), score(&trust_b));
    assert!(score(&trust_a) >= 80.0 && score(&trust_b) <= 25.0, "trust: {trust_a} {trust_b}");
    // The server's default seeds give the same answer.
    assert_eq!(reputation(api, chain, b, "algorithm=trust").await?["score"], trust_b["score"]);
    Ok(())
}

/// mean over verified feedback only: the ring has no receipts.
async fn mean_over_verified_feedback_ignores_the_ring(ring: &Ring<'_>) -> anyhow::Result<()> {
    let (api, chain, a, b) = (&ring.api, ring.stack.chain_id, ring.a, ring.b);
    let query = "algorithm=mean&verified_only=true";
    let (verified_a, verified_b) = (reputation(api, chain, a, query).await?, reputation(api, chain, b, query).await?);
    println!("mean verified_only: A {} B {}", score(&verified_a), score(&verified_b));
    assert!(score(&verified_a) >= 80.0 && score(&verified_b) <= 25.0, "verified_only: {verified_a} {verified_b}");
    assert_eq!(verified_b["score"]["count"], HONEST);
    assert_eq!(verified_b["score"]["verified_share"], 1.0);
    Ok(())
}

/// mean with a client list (honest and ring, one listed twice) is the contract's getSummary; returns the list.
async fn mean_with_a_client_list_is_the_contracts_get_summary(ring: &Ring<'_>) -> anyhow::Result<Vec<Address>> {
    let (api, chain) = (&ring.api, ring.stack.chain_id);
    let mut clients: Vec<Address> =
        ring.demo.honest.iter().take(7).chain(ring.demo.ring.iter().take(9)).map(PrivateKeySigner::address).collect();
    clients.push(clients[3]);
    for agent in [ring.a, ring.b, ring.demo.ring_agents[5]] {
        let api_mean = reputation(api, chain, agent, &format!("algorithm=mean&clients={}", join(&clients))).await?;
        let contract = get_summary(ring.stack, ring.agents.registries.reputation, agent, &clients, "", "").await?;
        assert_eq!(api_mean["score"]["summary"], contract, "agent {agent}");
    }
    Ok(clients)
}

/// prova verify reputation recomputes every algorithm from chain logs and agrees with the API.
fn verify_reputation_agrees_with_the_api(ring: &Ring<'_>, clients: &[Address]) -> anyhow::Result<()> {
    let (stack, agents, api) = (ring.stack, ring.agents, ring.api.as_str());
    for agent in [ring.a, ring.b] {
        let (code, out) = verify(stack, agents, agent, api, &["--algorithm", "all"]);
        assert_eq!(code, 0, "verify reputation {agent}:\n{out}");
        assert!(out.contains("trust: no --seeds given; using the 4 seed(s) the API used"), "{out}");
    }
    let seeds_arg = join(&ring.seeds);
    let (code, out) =
        verify(stack, agents, ring.b, api, &["--algorithm", "trust", "--seeds", &seeds_arg, "--verified-only"]);
    assert_eq!(code, 0, "{out}");
    let clients_arg = join(clients);
    let (code, out) = verify(stack, agents, ring.a, api, &["--algorithm", "mean", "--clients", &clients_arg]);
    assert_eq!(code, 0, "{out}");
    Ok(())
}

/// An API over a tampered database (one feedback value changed) is caught: exit 1, naming the field.
async fn verify_catches_an_api_over_a_tampered_database(ring: &Ring<'_>) -> anyhow::Result<()> {
    let (stack, a) = (ring.stack, ring.a);
    let changed = sqlx::query(
        "UPDATE feedback_given SET value = value + 600
         WHERE ctid = (SELECT ctid FROM feedback_given WHERE agent_id = $1::NUMERIC ORDER BY block_number, log_index LIMIT 1)",
    )
    .bind(a.to_string())
    .execute(&stack.pool)
    .await?
    .rows_affected();
    assert_eq!(changed, 1);
    let tampered = serve(stack.pool.clone(), ring.seeds.clone()).await?;
    for algorithm in ["mean", "bayesian", "decay", "trust", "all"] {
        let (code, out) = verify(stack, ring.agents, a, &tampered, &["--algorithm", algorithm]);
        assert_eq!(code, 1, "verify against the tampered API ({algorithm}) must fail:\n{out}");
        assert!(out.contains("DIFFERENT") && out.contains("NOT VERIFIED"), "{out}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn mean_equals_get_summary_on_random_feedback() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("PROVA_SYBIL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("seed {seed} (rerun with PROVA_SYBIL_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let stack = Stack::start().await?;
    let agents = Agents::deploy(&stack).await?;
    let feedback = random_feedback_is_given_and_some_revoked(&mut rng, &stack, &agents).await?;

    agents.index().await?;
    let api = serve(stack.pool.clone(), vec![]).await?;
    let chain_logs = the_chain_logs_hold_every_feedback_and_revocation(&stack, &agents, &feedback).await?;
    mean_with_random_client_lists_equals_get_summary(&mut rng, &stack, &agents, &feedback, &api, &chain_logs).await?;

    // Random values, decimals and revocations verify too, for every algorithm.
    let seeds = join(&feedback.addresses[..3]);
    let (code, out) = verify(&stack, &agents, feedback.ids[0], &api, &["--algorithm", "all", "--seeds", &seeds]);
    assert_eq!(code, 0, "{out}");
    Ok(())
}

/// The tags random feedback is given with.
const TAGS: [&str; 3] = ["", "q", "speed"];

/// The random feedback sent on chain.
struct RandomFeedback {
    /// The agents rated.
    ids: Vec<U256>,
    /// The clients who rated them.
    addresses: Vec<Address>,
    /// Feedback records given.
    given: usize,
    /// Of those, revoked.
    revoked: usize,
}

/// Four agents; sixteen clients give random feedback (magnitudes from 1 to 10^30, negatives, 0..=18 decimals, a few
/// tags), then revoke about a quarter of it.
async fn random_feedback_is_given_and_some_revoked(
    rng: &mut rand::rngs::StdRng,
    stack: &Stack,
    agents: &Agents,
) -> anyhow::Result<RandomFeedback> {
    let reg = agents.registries;
    let provider = prova_chain::connect(&stack.rpc_url)?;
    let owners: Vec<PrivateKeySigner> = (1..=4).map(|i| stack.anvil_key(i)).collect();
    let clients: Vec<PrivateKeySigner> = (0..16).map(|_| PrivateKeySigner::random()).collect();
    let addresses: Vec<Address> = clients.iter().map(PrivateKeySigner::address).collect();
    prova_devnet::fund(&provider, &addresses, U256::from(10u128.pow(20)), &stack.admin_key).await?;

    let _: Value = alloy::providers::Provider::raw_request(&provider, "evm_setAutomine".into(), [false]).await?;
    let mut bulk = Bulk::new(provider.clone()).await?;
    for (i, owner) in owners.iter().enumerate() {
        bulk.push(format!("register {i}"), owner, reg.identity, agents::register_call("", None), GAS);
    }
    let ids = registered_ids(&bulk.send(true).await?);

    // Random feedback: magnitudes from 1 to 10^30, negatives, 0..=18 decimals, a few tags; then some revoked.
    let tags = TAGS;
    let mut given: Vec<(usize, U256, u64)> = Vec::new();
    let mut last_index: std::collections::HashMap<(usize, U256), u64> = Default::default();
    for (c, client) in clients.iter().enumerate() {
        for &agent in &ids {
            for _ in 0..rng.gen_range(0..=3) {
                let magnitude = 10i128.pow(*[1u32, 2, 6, 20, 30].choose(rng).unwrap());
                let input = FeedbackInput {
                    value: rng.gen_range(-magnitude..=magnitude),
                    decimals: rng.gen_range(0..=18),
                    tag1: tags.choose(rng).unwrap().to_string(),
                    tag2: tags.choose(rng).unwrap().to_string(),
                    ..FeedbackInput::default()
                };
                bulk.push(
                    format!("client {c} rates {agent}"),
                    client,
                    reg.reputation,
                    agents::feedback_call(agent, &input, None),
                    GAS,
                );
                let index = last_index.entry((c, agent)).or_default();
                *index += 1;
                given.push((c, agent, *index));
            }
        }
    }
    bulk.send(true).await?;
    for &(c, agent, index) in given.iter().filter(|_| rng.gen_bool(0.25)) {
        bulk.push(
            format!("client {c} revokes {agent}#{index}"),
            &clients[c],
            reg.reputation,
            agents::revoke_call(agent, index),
            GAS,
        );
    }
    let revoked = bulk.len();
    bulk.send(true).await?;
    let _: Value = alloy::providers::Provider::raw_request(&provider, "evm_setAutomine".into(), [true]).await?;
    println!("{} feedback records, {revoked} revoked", given.len());
    Ok(RandomFeedback { ids, addresses, given: given.len(), revoked })
}

/// The raw chain logs hold every feedback record and every revocation.
async fn the_chain_logs_hold_every_feedback_and_revocation(
    stack: &Stack,
    agents: &Agents,
    feedback: &RandomFeedback,
) -> anyhow::Result<prova_verify::feedback::ChainFeedback> {
    let reg = agents.registries;
    let provider = prova_chain::connect(&stack.rpc_url)?;
    let chain_logs = prova_verify::feedback::load_feedback(&provider, reg.identity, reg.reputation, 0, None).await?;
    assert_eq!(chain_logs.feedback.len(), feedback.given);
    assert_eq!(chain_logs.feedback.iter().filter(|f| f.revoked).count(), feedback.revoked);
    Ok(chain_logs)
}

/// For every agent, ten random client lists (random order, a repeat, sometimes a client that never rated; tags in
/// later rounds): mean through the API, and from the raw chain logs with no database, equals the contract's
/// getSummary.
async fn mean_with_random_client_lists_equals_get_summary(
    rng: &mut rand::rngs::StdRng,
    stack: &Stack,
    agents: &Agents,
    feedback: &RandomFeedback,
    api: &str,
    chain_logs: &prova_verify::feedback::ChainFeedback,
) -> anyhow::Result<()> {
    let (reg, tags, addresses) = (agents.registries, TAGS, &feedback.addresses);
    let mut checked = 0;
    for &agent in &feedback.ids {
        for round in 0..10 {
            // A random client list in random order, with a repeat and (sometimes) a client that never rated.
            let size = rng.gen_range(1..=addresses.len());
            let mut list: Vec<Address> = addresses.choose_multiple(rng, size).copied().collect();
            list.push(*list.choose(rng).unwrap());
            if round % 2 == 0 {
                list.push(PrivateKeySigner::random().address());
            }
            let (tag1, tag2) =
                if round < 4 { ("", "") } else { (*tags.choose(rng).unwrap(), *tags.choose(rng).unwrap()) };
            let mut query = format!("algorithm=mean&clients={}", join(&list));
            for (name, tag) in [("tag1", tag1), ("tag2", tag2)] {
                if !tag.is_empty() {
                    query.push_str(&format!("&{name}={tag}"));
                }
            }
            let contract = get_summary(stack, reg.reputation, agent, &list, tag1, tag2).await?;
            let from_api = reputation(api, stack.chain_id, agent, &query).await?;
            assert_eq!(from_api["score"]["summary"], contract, "agent {agent}, {query}");
            // The same from raw chain logs, with no database.
            let filter = prova_reputation::Filter {
                tag1: Some(tag1.into()),
                tag2: Some(tag2.into()),
                clients: Some(list.clone()),
                verified_only: false,
            };
            let ours =
                prova_reputation::mean(&chain_logs.feedback, agent, &filter).map_err(|e| anyhow::anyhow!("{e}"))?;
            assert_eq!(serde_json::to_value(ours.summary)?, contract, "chain logs, agent {agent}, {query}");
            checked += 1;
        }
    }
    println!("{checked} client lists checked against getSummary");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_commands_register_bind_sign_rate_and_refuse_bad_input() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let agents = Agents::deploy(&stack).await?;
    let cli = AgentCli::new(&stack, &agents);
    let version = a_model_version_to_bind_agents_to(&stack).await?;
    let agent = register_refuses_an_unknown_model_version_and_registers_without_one(&cli)?;
    only_the_owner_binds_and_a_wrong_chain_or_registry_is_refused(&cli, &agent, &version)?;
    receipts_are_signed_by_the_agents_signer_and_back_one_feedback(&cli, &agent)?;
    an_expired_receipt_is_refused_before_sending(&cli, &agent).await?;
    plain_feedback_revocation_and_validation_with_their_refusals(&cli, &agent)?;

    // Indexed and scored: verify agrees with the API.
    agents.index().await?;
    let api = serve(stack.pool.clone(), vec![]).await?;
    let (code, out) = verify(&stack, &agents, agent.parse()?, &api, &["--algorithm", "all"]);
    assert_eq!(code, 0, "{out}");
    let mean = reputation(&api, stack.chain_id, agent.parse()?, "algorithm=mean").await?;
    assert_eq!(mean["score"]["summary"]["summary_value"], "875", "{mean}");
    Ok(())
}

/// `prova agent ...` on the stack with the ERC-8004 registries in the environment, and the keys it is run with.
struct AgentCli<'a> {
    stack: &'a Stack,
    identity: String,
    reputation_registry: String,
    validation: String,
    /// Owns the agent (anvil key 1).
    owner: PrivateKeySigner,
    /// Rates it (anvil key 2).
    client: PrivateKeySigner,
    /// Neither (anvil key 3); the validator.
    other: PrivateKeySigner,
}

impl<'a> AgentCli<'a> {
    fn new(stack: &'a Stack, agents: &Agents) -> Self {
        let reg = agents.registries;
        let (owner, client, other) = (stack.anvil_key(1), stack.anvil_key(2), stack.anvil_key(3));
        let (identity, reputation_registry, validation) =
            (reg.identity.to_string(), reg.reputation.to_string(), reg.validation.to_string());
        Self { stack, identity, reputation_registry, validation, owner, client, other }
    }

    /// Runs `prova` with `key` as PROVA_PRIVATE_KEY.
    fn run(&self, args: &[&str], key: &PrivateKeySigner) -> Output {
        let hex = |key: &PrivateKeySigner| key.to_bytes().to_string();
        let key = hex(key);
        self.stack.prova(
            args,
            &[
                ("PROVA_PRIVATE_KEY", key.as_str()),
                ("PROVA_IDENTITY_REGISTRY", self.identity.as_str()),
                ("PROVA_REPUTATION_REGISTRY", self.reputation_registry.as_str()),
                ("PROVA_VALIDATION_REGISTRY", self.validation.as_str()),
            ],
        )
    }

    /// `prova agent feedback <agent> --value 87.5 --tag1 quality`, then `extra`.
    fn feedback(&self, agent: &str, key: &PrivateKeySigner, extra: &[&str]) -> Output {
        let mut args = vec!["agent", "feedback", agent, "--value", "87.5", "--tag1", "quality"];
        args.extend(extra);
        self.run(&args, key)
    }

    /// Where receipts are written.
    fn receipt(&self) -> std::path::PathBuf {
        self.stack.dir.path().join("receipt.json")
    }
}

/// A registered model version to bind agents to (PROVA_REGISTRY names the provenance registry, so every binding is
/// checked against it); its hash.
async fn a_model_version_to_bind_agents_to(stack: &Stack) -> anyhow::Result<String> {
    let attestor = stack.anvil_key(4);
    prova_attestor::admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    prova_attestor::admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let version = B256::repeat_byte(9);
    let request = prova_attestor::publish::PublishRequest {
        commit: false,
        ..prova_attestor::publish::PublishRequest::new(version, "acme/agent-model")
    };
    prova_attestor::publish::publish_model_version(&stack.admin, stack.registry, &attestor, &request).await?;
    Ok(version.to_string())
}

/// Register bound to a version that the provenance registry does not know: refused before sending. Then registered
/// without one; the new agent's id.
fn register_refuses_an_unknown_model_version_and_registers_without_one(cli: &AgentCli<'_>) -> anyhow::Result<String> {
    let (run, owner) = (|args: &[&str], key| cli.run(args, key), &cli.owner);
    let unknown = format!("{}", B256::repeat_byte(7));
    let out = run(&["agent", "register", "--uri", "ipfs://agent", "--model-version", &unknown], owner);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("is not registered"), "{}", stderr(&out));

    let out = run(&["agent", "register", "--uri", "ipfs://agent", "--json"], owner);
    assert!(out.status.success(), "{}", stderr(&out));
    let registered: Value = serde_json::from_str(&stdout(&out))?;
    let agent = registered["agent_id"].as_str().unwrap().parse::<U256>()?.to_string();
    assert_eq!(registered["owner"], format!("{:#x}", owner.address()).as_str().to_lowercase());
    Ok(agent)
}

/// Only the owner may bind; a wrong chain and a registry with no code are refused.
fn only_the_owner_binds_and_a_wrong_chain_or_registry_is_refused(
    cli: &AgentCli<'_>,
    agent: &str,
    version: &str,
) -> anyhow::Result<()> {
    let run = |args: &[&str], key| cli.run(args, key);
    let (owner, client, other) = (&cli.owner, &cli.client, &cli.other);
    let out = run(&["agent", "bind-model", agent, version, "--registry", &Address::ZERO.to_string()], owner);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["agent", "bind-model", agent, version], other);
    assert!(stderr(&out).contains("is not the owner"), "{}", stderr(&out));
    let out = run(&["agent", "bind-model", agent, version, "--chain-id", "1"], owner);
    assert!(stderr(&out).contains("wrong chain"), "{}", stderr(&out));
    let out = run(&["agent", "bind-model", agent, version], owner);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["agent", "show", agent, "--json"], client);
    let shown: Value = serde_json::from_str(&stdout(&out))?;
    assert_eq!(shown["model_version"], version);
    let out = run(&["agent", "show", "999"], client);
    assert!(stderr(&out).contains("agent 999 does not exist"), "{}", stderr(&out));
    Ok(())
}

/// Receipts: only the agent's signer may sign; the client sends; a receipt works once.
fn receipts_are_signed_by_the_agents_signer_and_back_one_feedback(
    cli: &AgentCli<'_>,
    agent: &str,
) -> anyhow::Result<()> {
    let run = |args: &[&str], key| cli.run(args, key);
    let feedback = |key, extra: &[&str]| cli.feedback(agent, key, extra);
    let (owner, client, other) = (&cli.owner, &cli.client, &cli.other);
    let dir = cli.stack.dir.path();
    let client_addr = client.address().to_string();
    let receipt = cli.receipt();
    let receipt_s = receipt.to_str().unwrap();
    let out = run(&["agent", "receipt", agent, "--client", &client_addr, "--out", receipt_s], other);
    assert!(stderr(&out).contains("cannot sign receipts"), "{}", stderr(&out));
    let job = dir.join("job.txt");
    std::fs::write(&job, "job 42")?;
    let out = run(
        &[
            "agent",
            "receipt",
            agent,
            "--client",
            &client_addr,
            "--interaction-file",
            job.to_str().unwrap(),
            "--valid-for",
            "10m",
            "--out",
            receipt_s,
        ],
        owner,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = feedback(other, &["--receipt", receipt_s]);
    assert!(stderr(&out).contains("names client"), "{}", stderr(&out));
    let out = feedback(owner, &[]);
    assert!(stderr(&out).contains("cannot be rated by its own side"), "{}", stderr(&out));
    let out = feedback(client, &["--receipt", receipt_s, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let given: Value = serde_json::from_str(&stdout(&out))?;
    assert_eq!((given["feedback_index"].as_u64(), given["verified"].as_bool()), (Some(1), Some(true)));
    let out = feedback(client, &["--receipt", receipt_s]);
    assert!(stderr(&out).contains("already backs a feedback"), "{}", stderr(&out));
    let out = feedback(client, &["--decimals", "0"]);
    assert!(stderr(&out).contains("digits after the point"), "{}", stderr(&out));
    Ok(())
}

/// An expired receipt is refused before sending.
async fn an_expired_receipt_is_refused_before_sending(cli: &AgentCli<'_>, agent: &str) -> anyhow::Result<()> {
    let (stack, owner, client) = (cli.stack, &cli.owner, &cli.client);
    let client_addr = client.address().to_string();
    let receipt = cli.receipt();
    let receipt_s = receipt.to_str().unwrap();
    let out = cli
        .run(&["agent", "receipt", agent, "--client", &client_addr, "--valid-for", "60s", "--out", receipt_s], owner);
    assert!(out.status.success(), "{}", stderr(&out));
    let _: Value = alloy::providers::Provider::raw_request(&stack.admin, "evm_increaseTime".into(), [120u64]).await?;
    let _: Value = alloy::providers::Provider::raw_request(&stack.admin, "evm_mine".into(), ()).await?;
    let out = cli.feedback(agent, client, &["--receipt", receipt_s]);
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    Ok(())
}

/// Plain feedback, a revocation, and validation request and response, each with what is refused.
fn plain_feedback_revocation_and_validation_with_their_refusals(cli: &AgentCli<'_>, agent: &str) -> anyhow::Result<()> {
    let run = |args: &[&str], key| cli.run(args, key);
    let (owner, client, other) = (&cli.owner, &cli.client, &cli.other);
    let out = run(&["agent", "feedback", agent, "--value", "-3", "--decimals", "1"], client);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["agent", "revoke", agent, "2"], client);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["agent", "revoke", agent, "2"], client);
    assert!(stderr(&out).contains("already revoked"), "{}", stderr(&out));
    let request = format!("{}", B256::repeat_byte(0x42));
    let validator = other.address().to_string();
    let out =
        run(&["agent", "validate", "request", agent, "--validator", &validator, "--request-hash", &request], client);
    assert!(stderr(&out).contains("is not the owner"), "{}", stderr(&out));
    let out =
        run(&["agent", "validate", "request", agent, "--validator", &validator, "--request-hash", &request], owner);
    assert!(out.status.success(), "{}", stderr(&out));
    let respond = ["agent", "validate", "respond", &request, "--agent-id", agent];
    let out = run(&[&respond[..], &["--response", "90"]].concat(), owner);
    assert!(stderr(&out).contains("names validator"), "{}", stderr(&out));
    let out = run(&[&respond[..], &["--response", "101"]].concat(), other);
    assert!(stderr(&out).contains("0 to 100"), "{}", stderr(&out));
    let out = run(&["agent", "validate", "respond", &request, "--agent-id", "999", "--response", "90"], other);
    assert!(stderr(&out).contains("is registered for agent"), "{}", stderr(&out));
    let out = run(&[&respond[..], &["--response", "90", "--tag", "zkml"]].concat(), other);
    assert!(out.status.success(), "{}", stderr(&out));
    Ok(())
}
