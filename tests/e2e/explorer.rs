//! The explorer in a real headless Chromium against `prova dev`'s stack: `explorer/tests/run.mjs` (playwright-core
//! driving Debian's chromium, both installed by `scripts/setup.sh`) searches every kind of key and lands on its page,
//! checks the model version page (claimants, lineage graph), the leaderboard (the Sybil ring first under mean, last
//! under trust) and the other pages, then stops the `prova dev` process (the API; anvil keeps answering) and
//! verifies the demo folder, the demo receipt and a proven file in the browser, rejecting a one-byte-tampered file
//! and a tampered receipt with their reasons. Screenshots of the main pages go to `target/explorer-screenshots/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use prova_devnet::ChildGuard;
use prova_e2e::{prova_bin, spawn_dev};

/// The workspace, where `prova dev` runs and the explorer lives.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The Chromium to drive: `PROVA_CHROMIUM`, else Debian's.
fn chromium() -> PathBuf {
    std::env::var_os("PROVA_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_shows_the_demo_and_verifies_it_in_the_browser_without_the_api() -> anyhow::Result<()> {
    let workspace = workspace();
    let driver = workspace.join("explorer/node_modules/playwright-core");
    assert!(
        driver.is_dir(),
        "{} is missing: run scripts/setup.sh (it installs the explorer's npm packages)",
        driver.display()
    );
    assert!(
        chromium().is_file(),
        "{} is missing: run scripts/setup.sh (it installs Debian's chromium)",
        chromium().display()
    );

    let (mut child, data, listen) = spawn_dev("prova-explorer-test")?;
    let stdout = child.stdout.take().expect("piped");
    let mut dev = ChildGuard::new(child);
    let pid = dev.id();
    let rpc = rpc_from_banner(stdout)?;

    let page = reqwest::get(format!("http://{listen}/explorer/")).await?.text().await?;
    assert!(
        page.contains("/explorer/assets/"),
        "this prova binary was built without the explorer: run scripts/setup.sh (it builds explorer/dist), then \
         build prova again\n{page}"
    );

    // A file proof as a lab would hand it out, from the CLI.
    let proof = Command::new(prova_bin())
        .args(["model", "prove-file", "config.json", "--dir"])
        .arg(data.path().join("demo-model"))
        .stderr(Stdio::null())
        .output()?;
    assert!(proof.status.success(), "prova model prove-file failed");
    let proof_file = data.path().join("config.json.proof.json");
    std::fs::write(&proof_file, &proof.stdout)?;

    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), PathBuf::from);
    let node = Command::new("node")
        .arg("explorer/tests/run.mjs")
        .env("EXPLORER_URL", format!("http://{listen}/explorer/"))
        .env("PROVA_DEV_PID", pid.to_string())
        .env("PROVA_DEV_DATA", data.path())
        .env("RPC_URL", &rpc)
        .env("FILE_PROOF", &proof_file)
        .env("CHROMIUM", chromium())
        .env("EXPLORER_SCREENSHOTS", target.join("explorer-screenshots"))
        .current_dir(workspace)
        .spawn()?;
    let mut node = ChildGuard::new(node).with_grace(Duration::from_secs(5));
    let status = node.wait_timeout(Duration::from_secs(240));
    // The script continues `prova dev` after stopping it; make sure of it, so that it can stop cleanly.
    let _ = Command::new("kill").args(["-CONT", &pid.to_string()]).status();
    let status = status.expect("explorer/tests/run.mjs did not finish in 240 s");
    assert!(status.success(), "explorer/tests/run.mjs failed (its output is above)");
    assert!(dev.child().try_wait()?.is_none(), "prova dev exited during the test");
    Ok(())
}

/// Reads the banner up to its `chain` line; the chain's RPC URL.
fn rpc_from_banner(stdout: std::process::ChildStdout) -> anyhow::Result<String> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next().transpose()? {
        if let Some(rest) = line.trim_start().strip_prefix("chain ") {
            let url = rest.split_whitespace().next().unwrap_or_default().to_owned();
            // Keep reading in the background, so that the banner's later lines never block the process.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(url);
        }
    }
    anyhow::bail!("prova dev exited before printing its banner")
}
