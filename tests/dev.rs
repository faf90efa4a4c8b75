//! `prova dev` as a newcomer uses it: start it, run the `curl` and `prova verify` lines it prints, press Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prova_core::local::free_port;
use prova_e2e::prova_bin;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn dev_stack_prints_commands_that_work_and_stops_cleanly() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let data = tempfile::Builder::new().prefix("prova-dev-test").tempdir()?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let mut child = Command::new(prova_bin())
        .args(["dev", "--data-dir", data.path().to_str().unwrap(), "--listen", &listen])
        .args(["--anvil-port", &free_port()?.to_string(), "--pg-port", &free_port()?.to_string()])
        .env_remove("DATABASE_URL")
        .env_remove("PROVA_RPC_URL")
        .env_remove("PROVA_PRIVATE_KEY")
        .env("RUST_LOG", "warn")
        .current_dir(workspace)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;

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

    // Every printed curl line answers 200 with JSON.
    let http = reqwest::Client::new();
    let curls: Vec<&str> = banner.lines().filter_map(|l| l.trim().strip_prefix("curl -s ")).collect();
    assert_eq!(curls.len(), 5, "banner:\n{banner}");
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
    let verify_output = banner.lines().map(str::trim).find(|l| l.contains(" verify output ")).expect("verify output line");
    let out = Command::new("sh").arg("-c").arg(verify_output).current_dir(workspace).output()?;
    assert!(out.status.success(), "{verify_output}\n{}", String::from_utf8_lossy(&out.stdout));
    let outputs: Value = http.get(curls[3]).send().await?.json().await?;
    assert_eq!(outputs["items"][0]["model_version"]["version_hash"], version["version_hash"]);

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
    let pg = prova_core::local::cluster_dir(&data.path().join("pg"));
    assert!(!pg.join("postmaster.pid").exists(), "Postgres still running in {}", pg.display());
    Ok(())
}
