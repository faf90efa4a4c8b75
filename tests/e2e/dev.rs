//! `prova dev` as a newcomer uses it: start it, run the `curl` and `prova verify` lines it prints, press Ctrl-C.
//! The ERC-8004 demo must tell its story: under `mean` the Sybil ring lifts the bad agent above the good one; under
//! `trust` (seeded with honest clients) the good agent leads; and the API's scores verify against the chain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Command};
use std::time::{Duration, Instant};

use prova_devnet::ChildGuard;
use prova_devnet::child::SIGINT;
use prova_e2e::spawn_dev;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn dev_stack_prints_commands_that_work_and_stops_cleanly() -> anyhow::Result<()> {
    let (mut child, data, _listen) = spawn_dev("prova-dev-test")?;
    let stdout = child.stdout.take().unwrap();
    let mut dev = ChildGuard::new(child);
    let banner = the_banner_says_it_is_running(stdout)?;
    let http = reqwest::Client::new();

    let curls = every_printed_curl_answers_200_with_json(&http, &banner).await?;
    let version = the_demo_versions_are_served_with_lineage_and_manifests(&http, &curls).await?;
    the_printed_verify_lines_verify(&http, &banner, &curls, &version).await?;
    mean_lifts_the_bad_agent_and_trust_puts_the_good_one_first(&http, &banner, &curls, &version).await?;
    the_printed_verify_reputation_line_matches_every_algorithm(&banner)?;
    ctrl_c_stops_everything(&mut dev, &http, &curls, data.path()).await
}

/// `prova dev --json` prints one JSON line once the stack is ready, and what it names answers: the API serves the
/// demo versions and output, and the registry is the one the API indexes.
#[tokio::test(flavor = "multi_thread")]
async fn dev_json_describes_the_running_stack() -> anyhow::Result<()> {
    let (mut child, _data, listen) = prova_e2e::spawn_dev_with("prova-dev-json", &["--json"])?;
    let stdout = child.stdout.take().unwrap();
    let _dev = ChildGuard::new(child);
    let line = BufReader::new(stdout).lines().next().transpose()?.expect("prova dev printed a line");
    let stack: Value = serde_json::from_str(&line)?;
    assert_eq!(stack["api_url"], format!("http://{listen}"), "{stack}");
    let api = stack["api_url"].as_str().unwrap();
    for version in [&stack["versions"]["base"], &stack["versions"]["finetune"]] {
        let claims: Value =
            reqwest::get(format!("{api}/v1/model-versions/{}", version.as_str().unwrap())).await?.json().await?;
        assert_eq!(
            claims["claims"][0]["chain"]["contract"].as_str().map(str::to_lowercase),
            stack["registry"].as_str().map(str::to_lowercase)
        );
    }
    let output =
        reqwest::get(format!("{api}/v1/outputs/{}", stack["demo_output"]["response_hash"].as_str().unwrap())).await?;
    assert_eq!(output.status(), reqwest::StatusCode::OK);
    assert!(Path::new(stack["demo_output"]["receipt"].as_str().unwrap()).is_file(), "{stack}");
    assert_eq!(stack["agents"]["ring"].as_array().map(Vec::is_empty), Some(false), "{stack}");
    Ok(())
}

/// The folder `prova dev` runs in, where its printed lines are run.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Reads the banner up to the blank line that ends the "Try:" block.
fn the_banner_says_it_is_running(stdout: ChildStdout) -> anyhow::Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let mut in_try = false;
    while let Some(line) = lines.next().transpose()? {
        if in_try && line.trim().is_empty() {
            break;
        }
        in_try |= line.starts_with("Try:");
        banner.push(line);
    }
    let banner = banner.join("\n");
    assert!(banner.contains("prova dev is running"), "banner:\n{banner}");
    Ok(banner)
}

/// Every printed curl line answers 200 with JSON (URLs with a query are quoted, and may carry a comment); the URLs.
async fn every_printed_curl_answers_200_with_json<'b>(
    http: &reqwest::Client,
    banner: &'b str,
) -> anyhow::Result<Vec<&'b str>> {
    let curls: Vec<&str> = banner
        .lines()
        .filter_map(|l| l.trim().strip_prefix("curl -s "))
        .map(|rest| match rest.strip_prefix('\'') {
            Some(quoted) => quoted.split('\'').next().unwrap(),
            None => rest.split_whitespace().next().unwrap(),
        })
        .collect();
    assert_eq!(curls.len(), 8, "banner:\n{banner}");
    for url in &curls {
        let response = http.get(*url).send().await?;
        assert_eq!(response.status(), 200, "{url}");
        let body: Value = response.json().await?;
        assert!(body.is_object(), "{url}");
    }
    Ok(curls)
}

/// The base version is the Demo Lab's, the fine-tune's lineage leads to it, and the manifests were uploaded; the
/// base version as served.
async fn the_demo_versions_are_served_with_lineage_and_manifests(
    http: &reqwest::Client,
    curls: &[&str],
) -> anyhow::Result<Value> {
    let claims: Value = http.get(curls[0]).send().await?.json().await?;
    let version = claims["claims"][0].clone();
    assert_eq!(version["publisher_name"], "Demo Lab");
    let lineage: Value = http.get(curls[1]).send().await?.json().await?;
    assert_eq!(lineage["ancestors"][0]["version_hash"], version["version_hash"]);
    let manifest = http.get(format!("{}/manifest", curls[0])).send().await?;
    assert_eq!(manifest.status(), 200, "demo manifests are uploaded");
    Ok(version)
}

/// The printed verify lines verify, run exactly as printed from the same folder; the demo output is the base
/// model's.
async fn the_printed_verify_lines_verify(
    http: &reqwest::Client,
    banner: &str,
    curls: &[&str],
    version: &Value,
) -> anyhow::Result<()> {
    let workspace = workspace();
    let verify = banner.lines().map(str::trim).find(|l| l.contains(" verify model ")).expect("verify line");
    let out = Command::new("sh").arg("-c").arg(verify).current_dir(workspace).output()?;
    assert!(out.status.success(), "{verify}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("VERIFIED"));
    let verify_output =
        banner.lines().map(str::trim).find(|l| l.contains(" verify output ")).expect("verify output line");
    let out = Command::new("sh").arg("-c").arg(verify_output).current_dir(workspace).output()?;
    assert!(out.status.success(), "{verify_output}\n{}", String::from_utf8_lossy(&out.stdout));
    let outputs: Value = http.get(curls[3]).send().await?.json().await?;
    assert_eq!(outputs["items"][0]["model_version"]["version_hash"], version["version_hash"]);
    Ok(())
}

/// The agents: the good one is bound to the base model; the mean leaderboard puts the bad agent (lifted by the ring)
/// above the good one, the trust leaderboard puts the good agent first.
async fn mean_lifts_the_bad_agent_and_trust_puts_the_good_one_first(
    http: &reqwest::Client,
    banner: &str,
    curls: &[&str],
    version: &Value,
) -> anyhow::Result<()> {
    let agent_number = |label: &str| -> String {
        let line = banner.lines().find(|l| l.trim_start().starts_with("agents ")).expect("agents line");
        let after = line.split(&format!("{label} #")).nth(1).unwrap_or_else(|| panic!("no {label} agent in {line}"));
        after.chars().take_while(char::is_ascii_digit).collect()
    };
    let (good, bad) = (agent_number("good"), agent_number("bad"));
    let agent: Value = http.get(curls[5]).send().await?.json().await?;
    assert_eq!(agent["agent_id"], good.as_str(), "{agent}");
    assert_eq!(agent["model"]["version_hash"], version["version_hash"], "{agent}");
    let rank_of = |board: &Value, id: &str| {
        board["items"].as_array().unwrap().iter().position(|i| i["agent"]["agent_id"] == id).unwrap_or(usize::MAX)
    };
    assert!(curls[6].contains("algorithm=mean") && curls[7].contains("algorithm=trust"));
    let mean: Value = http.get(curls[6]).send().await?.json().await?;
    assert!(rank_of(&mean, &bad) < rank_of(&mean, &good), "mean: the ring should lift the bad agent: {mean}");
    let trust: Value = http.get(curls[7]).send().await?.json().await?;
    assert_eq!(trust["items"][0]["agent"]["agent_id"], good.as_str(), "trust: the good agent leads: {trust}");
    assert!(rank_of(&trust, &good) < rank_of(&trust, &bad));
    Ok(())
}

/// The printed `prova verify reputation` line recomputes every algorithm from chain logs and agrees with the API.
fn the_printed_verify_reputation_line_matches_every_algorithm(banner: &str) -> anyhow::Result<()> {
    let verify_reputation =
        banner.lines().map(str::trim).find(|l| l.contains(" verify reputation ")).expect("verify reputation line");
    assert!(verify_reputation.contains("--algorithm all"), "{verify_reputation}");
    let out = Command::new("sh").arg("-c").arg(verify_reputation).current_dir(workspace()).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{verify_reputation}\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for algorithm in ["mean", "bayesian", "decay", "trust"] {
        assert!(text.contains(&format!("{algorithm:<9} MATCH")), "{algorithm} not checked:\n{text}");
    }
    Ok(())
}

/// Ctrl-C stops everything: the process exits 0 and the API and Postgres are gone.
async fn ctrl_c_stops_everything(
    dev: &mut ChildGuard,
    http: &reqwest::Client,
    curls: &[&str],
    data: &Path,
) -> anyhow::Result<()> {
    dev.signal(SIGINT);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = dev.child().try_wait()? {
            break status;
        }
        assert!(Instant::now() < deadline, "prova dev did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    assert!(http.get(curls[4]).send().await.is_err(), "API still answering");
    let pg = prova_devnet::local::cluster_dir(&data.join("pg"));
    assert!(!pg.join("postmaster.pid").exists(), "Postgres still running in {}", pg.display());
    Ok(())
}
