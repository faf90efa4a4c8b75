//! Fuzzes the API from its own OpenAPI document: `prova dev` (anvil, Postgres, contracts, indexer, API, demo data)
//! is started, and schemathesis (installed in `.venv` by `scripts/setup.sh`) generates requests for every operation
//! of `<api>/openapi.json` and runs every one of its checks: no 5xx, no answer that departs from the document
//! (status code, content type, headers, body schema), schema-valid requests accepted and schema-violating ones
//! refused. The run must send at least 2,000 requests. The rules JSON Schema cannot state are taught to the
//! generator by `tests/schemathesis/prova_hooks.py` and `tests/schemathesis/schemathesis.toml`.
//!
//! The seed is fixed ([`SEED`]), so that `make test` sends the same requests on every run and cannot fail by the
//! luck of the draw; `PROVA_FUZZ_SEED=random` draws a fresh one to explore (printed, to replay a failure with
//! `PROVA_FUZZ_SEED=<seed>`). A failure found that way is a bug: fix it, and the fixed seed keeps it fixed only if
//! a unit test covers it too. `PROVA_SCHEMATHESIS` names another schemathesis executable.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use prova_devnet::ChildGuard;
use prova_e2e::spawn_dev;
use serde_json::Value;

/// Requests the run must reach.
const MIN_REQUESTS: u64 = 2_000;
/// Test cases per operation and phase (over 3,000 requests in all).
const MAX_EXAMPLES: &str = "100";
/// The checks that must pass on every answer: all of schemathesis's.
const CHECKS: &str = "all";

/// The seed of `make test`'s run.
const SEED: &str = "3592094357";

/// The run's seed: [`SEED`], `PROVA_FUZZ_SEED`, or with `PROVA_FUZZ_SEED=random` a fresh one from the clock (printed
/// either way, to replay a failure).
fn seed() -> String {
    match std::env::var("PROVA_FUZZ_SEED").as_deref() {
        Ok("random") => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
            (now.as_nanos() % 4_294_967_296).to_string()
        }
        Ok(seed) => seed.to_owned(),
        Err(_) => SEED.to_owned(),
    }
}

fn schemathesis(workspace: &Path) -> PathBuf {
    let path = std::env::var_os("PROVA_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join(".venv/bin/schemathesis"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup.sh (it installs schemathesis 4 into .venv)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn api_answers_conform_to_its_openapi_document() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let schemathesis = schemathesis(workspace);
    let (mut child, _data, listen) = spawn_dev("prova-api-fuzz")?;
    let stdout = child.stdout.take().unwrap();
    // Stops `prova dev` (as Ctrl-C does) when the test ends, however it ends.
    let _dev = ChildGuard::new(child);

    // The banner's "Try:" line comes once the demo data is indexed and the API is up.
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    while let Some(line) = lines.next().transpose()? {
        let ready = line.starts_with("Try:");
        banner.push(line);
        if ready {
            break;
        }
    }
    assert!(banner.iter().any(|l| l.contains("prova dev is running")), "banner:\n{}", banner.join("\n"));
    // Keep reading the rest of the output so that `prova dev` never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let api = format!("http://{listen}");
    let spec: Value = reqwest::get(format!("{api}/openapi.json")).await?.json().await?;
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "{}", spec["openapi"]);
    let operations: usize =
        spec["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();

    let reports = tempfile::Builder::new().prefix("prova-api-fuzz-report").tempdir()?;
    let json_report = reports.path().join("run.json");
    let junit_report = reports.path().join("junit.xml");
    let seed = seed();
    eprintln!("schemathesis seed {seed} (replay with PROVA_FUZZ_SEED={seed})");
    let config = workspace.join("tests/schemathesis");
    let started = Instant::now();
    let output = Command::new(&schemathesis)
        .args(["--config-file", config.join("schemathesis.toml").to_str().unwrap()])
        .args(["run", &format!("{api}/openapi.json")])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
        // One worker: with several, Hypothesis can trip over CPython's AST recursion check and report a runtime
        // error that is not the API's.
        .args(["--workers", "1", "--request-timeout", "10", "--output-truncate", "false"])
        .args(["--report", "json,junit"])
        .args(["--report-json-path", json_report.to_str().unwrap()])
        .args(["--report-junit-path", junit_report.to_str().unwrap()])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_HOOKS", "prova_hooks")
        .env("PYTHONPATH", &config)
        .output()?;
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_report)?)?;
    let summary = format!(
        "schemathesis seed {seed} (replay with PROVA_FUZZ_SEED={seed}), exit {:?} in {elapsed:.0?}; test cases {}; \
         operations {}\n{text}\n{}",
        output.status.code(),
        report["test_cases"],
        report["operations"],
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{summary}");

    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(report["exit_code"], 0, "{summary}");
    assert_eq!(report["failures"], serde_json::json!([]), "{summary}");
    assert_eq!(report["errors"], serde_json::json!([]), "{summary}");
    assert_eq!(report["test_cases"]["with_failures"], 0, "{summary}");
    let generated = report["test_cases"]["generated"].as_u64().unwrap_or(0);
    assert!(generated >= MIN_REQUESTS, "only {generated} requests were generated\n{summary}");
    // Every operation of the document was exercised, none skipped.
    assert_eq!(report["operations"]["selected"].as_u64(), Some(operations as u64), "{summary}");
    assert_eq!(report["operations"]["tested"], report["operations"]["selected"], "{summary}");
    let junit = std::fs::read_to_string(&junit_report)?;
    assert!(junit.contains(r#"failures="0""#) && junit.contains(r#"errors="0""#), "{junit}");
    assert!(elapsed < Duration::from_secs(240), "schemathesis took {elapsed:?}\n{summary}");
    Ok(())
}
