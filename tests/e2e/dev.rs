//! `prova dev` as a newcomer uses it: start it, run the `curl` and `prova verify` lines it prints, press Ctrl-C.
//! The ERC-8004 demo must tell its story: under `mean` the Sybil ring lifts the bad agent above the good one; under
//! `trust` (seeded with honest clients) the good agent leads; and the API's scores verify against the chain.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use prova_e2e::spawn_dev;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn dev_stack_prints_commands_that_work_and_stops_cleanly() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (mut child, data, _listen) = spawn_dev("prova-dev-test")?;

    // Read the banner up to the blank line that ends the "Try:" block.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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

    // Every printed curl line answers 200 with JSON (URLs with a query are quoted, and may carry a comment).
    let http = reqwest::Client::new();
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
    let version: Value = http.get(curls[0]).send().await?.json().await?;
    assert_eq!(version["publisher_name"], "Demo Lab");
    let lineage: Value = http.get(curls[1]).send().await?.json().await?;
    assert_eq!(lineage["ancestors"][0]["version_hash"], version["version_hash"]);
    let manifest = http.get(format!("{}/manifest", curls[0])).send().await?;
    assert_eq!(manifest.status(), 200, "demo manifests are uploaded");

    // The printed verify line verifies, run exactly as printed from the same folder.
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

    // The agents: the good one is bound to the base model; the mean leaderboard puts the bad agent (lifted by the
    // ring) above the good one, the trust leaderboard puts the good agent first.
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

    // The printed `prova verify reputation` line recomputes every algorithm from chain logs and agrees with the API.
    let verify_reputation =
        banner.lines().map(str::trim).find(|l| l.contains(" verify reputation ")).expect("verify reputation line");
    assert!(verify_reputation.contains("--algorithm all"), "{verify_reputation}");
    let out = Command::new("sh").arg("-c").arg(verify_reputation).current_dir(workspace).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{verify_reputation}\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for algorithm in ["mean", "bayesian", "decay", "trust"] {
        assert!(text.contains(&format!("{algorithm:<9} MATCH")), "{algorithm} not checked:\n{text}");
    }

    // Ctrl-C stops everything: the process exits 0 and the API and Postgres are gone.
    Command::new("kill").args(["-INT", &child.id().to_string()]).status()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        assert!(Instant::now() < deadline, "prova dev did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    assert!(http.get(curls[4]).send().await.is_err(), "API still answering");
    let pg = prova_devnet::local::cluster_dir(&data.path().join("pg"));
    assert!(!pg.join("postmaster.pid").exists(), "Postgres still running in {}", pg.display());
    Ok(())
}
