//! The README is executed: every command of the `sh` blocks of its "Using it" section, then of the `sh` blocks of
//! `docs/*.md`, runs in order against a `prova dev` stack, as a newcomer would paste it, with its placeholders
//! (`$RPC`, `$REG`, `0xLAB`, `./llm-7b`, `0xVERSION`, `$ATTESTOR_DB`, agent `7`, ...) filled from the stack and from
//! earlier commands' output, and `prova` the binary under test. [`TABLE`] pairs each command, in the documents'
//! order, with how it runs (who signs, the exit code it must have) or why it cannot run here (a server that runs
//! until stopped, a benchmark, a step that needs a production database). A new or changed command fails the test
//! until it runs here or is listed with its reason; a command that fails means the documents are wrong.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use prova_devnet::ChildGuard;
use prova_e2e::{prova_bin, spawn_dev, write_model};
use serde_json::Value;

/// The password of every keystore the commands write or read (`PROVA_KEYSTORE_PASSWORD`).
const PASSWORD: &str = "readme-password";

/// One command of the documents: where it is, and its text (continuation lines joined, comments removed, spaces
/// collapsed; a heredoc's body kept on the lines after it).
#[derive(Debug, Clone)]
struct DocCommand {
    place: String,
    text: String,
}

/// How a command runs, or why it does not.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Run it.
    Run(Run),
    /// Do not run it, for this reason.
    Skip(&'static str),
}

/// How a command runs.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Whose key `PROVA_PRIVATE_KEY` holds.
    signer: Signer,
    /// Whether the lab's admin account relays (sends and pays for) what the attestor key signs.
    relayer: bool,
    /// The exit code it must have.
    exit: i32,
    /// What its standard output must hold.
    says: &'static str,
    /// Placeholders of this command alone (their values may name the shared ones).
    subs: &'static [(&'static str, &'static str)],
    /// What `...` (the flags shown above) stands for.
    rest: &'static str,
    /// The folder it runs in.
    folder: Folder,
    /// `--once` appended: the command otherwise follows the chain until stopped.
    once: bool,
    /// The `DATABASE_URL` it gets from the environment.
    database: Database,
    /// Files or chain state made first, as the documents say they are.
    prep: Prep,
    /// Values its standard output gives later commands: (label of the line, placeholder).
    capture: &'static [(&'static str, &'static str)],
    /// The chain makes blocks while it runs (it waits for more than one confirmation; `prova dev`'s anvil mines only
    /// when a transaction comes).
    mine: bool,
    /// A server: started, and running once it answers `GET /healthz`; stopped at the end.
    server: bool,
}

const RUN: Run = Run {
    signer: Signer::None,
    relayer: false,
    exit: 0,
    says: "",
    subs: &[],
    rest: "",
    folder: Folder::Lab,
    once: false,
    database: Database::None,
    prep: Prep::None,
    capture: &[],
    mine: false,
    server: false,
};

/// Whose key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signer {
    None,
    /// The lab's admin (`0xLAB`, anvil's account 1).
    Lab,
    /// An agent's owner (anvil's account 3).
    Operator,
    /// A client of the agent (anvil's account 4).
    Client,
    /// A validator (anvil's account 5).
    Validator,
    /// A raw attestor key of the lab (docs/distillation.md's `PROVA_PRIVATE_KEY: attestor`).
    Attestor,
}

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Folder {
    /// The lab's machine.
    Lab,
    /// A second machine of the lab, with a keystore of its own at the same path.
    Second,
}

/// `DATABASE_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Database {
    None,
    /// The dev stack's registry mirror.
    Dev,
    /// A fresh database for a second indexer.
    Index,
    /// Another, for a third indexer (the second's cursor may be past the head: `--start-block 123`).
    IndexConfig,
    /// The lab's private store (`$ATTESTOR_DB`).
    Attestor,
}

/// What exists before a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prep {
    None,
    /// A second machine's attestor keystore (`0xOLD`).
    SecondKeystore,
    /// Before a rotation: a version the second key signs (revoked later), and a third key's consent
    /// (`new-auth.json`, `0xKEY`).
    Rotation,
    /// `samples.jsonl` of `0xVERSION`, and the request and response of its first record.
    Samples,
    /// The API has indexed the chain's head.
    CaughtUp,
    /// `answers.jsonl` of `0xVERSION`, one of them copied into `suspect.jsonl`, and a raw attestor key of the lab.
    Answers,
}

/// The documents' commands, in order, each with how it runs or why it is skipped; matched by the start of the
/// command's text.
const TABLE: &[(&str, Step)] = &[
    // README.md, "Using it": a lab.
    ("prova deploy --rpc $RPC", Step::Run(Run { signer: Signer::Lab, says: "registry", ..RUN })),
    ("prova publisher register --name \"Acme AI\"", Step::Run(Run { signer: Signer::Lab, ..RUN })),
    (
        "prova key new --dir keystores --name attestor.json",
        Step::Run(Run { capture: &[("address", "0xATTESTOR")], ..RUN }),
    ),
    ("prova key authorize --publisher 0xLAB", Step::Run(RUN)),
    ("prova publisher add-attestor --authorization auth.json", Step::Run(Run { signer: Signer::Lab, ..RUN })),
    (
        "prova publisher add-attestor --attestor-keystore keystores/attestor.json",
        Step::Run(Run { signer: Signer::Lab, folder: Folder::Second, prep: Prep::SecondKeystore, ..RUN }),
    ),
    ("prova model hash ./llm-7b", Step::Run(Run { says: "version hash", ..RUN })),
    ("prova model hash ./llm-7b --out manifest.json", Step::Run(RUN)),
    ("prova model hash ./llm-7b --format model-signing", Step::Run(RUN)),
    ("prova model hash ./llm-7b --cache", Step::Run(RUN)),
    (
        "prova model publish ./llm-7b --model acme/llm-7b",
        Step::Run(Run { relayer: true, mine: true, capture: &[("version hash", "0xVERSION")], ..RUN }),
    ),
    ("prova publisher rotate-attestor 0xOLD", Step::Run(Run { signer: Signer::Lab, prep: Prep::Rotation, ..RUN })),
    ("prova publisher compromise-attestor 0xKEY", Step::Run(Run { signer: Signer::Lab, ..RUN })),
    (
        "prova publisher transfer-admin 0xNEWADMIN ...",
        Step::Run(Run { signer: Signer::Lab, rest: "--rpc $RPC --registry $REG", ..RUN }),
    ),
    // The claim revoked is the version the second key signed, so that 0xVERSION stays standing for what follows.
    (
        "prova model revoke 0xVERSION",
        Step::Run(Run { signer: Signer::Lab, subs: &[("0xVERSION", "0xOLDVERSION")], ..RUN }),
    ),
    (
        "prova model publish ./llm-7b-chat --model acme/llm-7b-chat --parent 0xVERSION",
        Step::Run(Run {
            relayer: true,
            rest: "--keystore keystores/attestor.json --rpc $RPC --registry $REG",
            capture: &[("version hash", "0xNEWVERSION")],
            ..RUN
        }),
    ),
    (
        "prova model prove-file weights/model-00001.safetensors --dir ./llm-7b | node scripts/verify-file-proof.mjs",
        Step::Run(Run { says: "true", subs: &[("scripts/", "$WORKSPACE/scripts/")], ..RUN }),
    ),
    ("DATABASE_URL=$ATTESTOR_DB prova outputs ingest samples.jsonl", Step::Run(Run { prep: Prep::Samples, ..RUN })),
    (
        "prova outputs serve --listen 127.0.0.1:8090",
        Step::Skip("the sidecar, a server: docs/sidecar.md's example below starts it the same way and posts to it"),
    ),
    ("DATABASE_URL=$ATTESTOR_DB prova outputs publish --once --flush", Step::Run(Run { relayer: true, ..RUN })),
    ("DATABASE_URL=$ATTESTOR_DB prova outputs receipt request.txt response.txt", Step::Run(RUN)),
    ("prova verify output receipt.json", Step::Run(Run { says: "VERIFIED", ..RUN })),
    ("DATABASE_URL=$ATTESTOR_DB prova outputs scan suspect.jsonl", Step::Run(Run { says: "matched       1", ..RUN })),
    ("prova index --rpc $RPC", Step::Run(Run { once: true, database: Database::Index, ..RUN })),
    ("prova index --config indexer.toml", Step::Run(Run { once: true, database: Database::IndexConfig, ..RUN })),
    ("prova serve --listen 127.0.0.1:8080", Step::Skip("the API, a server: `prova dev` serves it on a free port")),
    (
        "prova serve --read-database-url",
        Step::Skip("a server, reading from a streaming replica: tests/e2e/replica.rs starts one"),
    ),
    ("prova verify model ./llm-7b --publisher 0xLAB", Step::Run(Run { says: "VERIFIED", ..RUN })),
    (
        "prova verify model ./suspect --manifest",
        Step::Run(Run {
            exit: 1,
            says: "changed",
            subs: &[("https://acme.example/llm-7b.json", "manifest.json")],
            ..RUN
        }),
    ),
    ("prova verify model ./suspect --api", Step::Run(Run { exit: 1, says: "changed", ..RUN })),
    // README.md, "ERC-8004 agents".
    (
        "prova agent register --uri ipfs://agent.json --model-version 0xVERSION",
        Step::Run(Run { signer: Signer::Operator, capture: &[("agent id", "7")], ..RUN }),
    ),
    ("prova agent bind-model 7 0xNEWVERSION", Step::Run(Run { signer: Signer::Operator, ..RUN })),
    ("prova agent show 7", Step::Run(Run { says: "model version", ..RUN })),
    ("prova agent receipt 7 --client 0xCLIENT", Step::Run(Run { signer: Signer::Operator, ..RUN })),
    (
        "prova agent feedback 7 --value 87.5",
        Step::Run(Run { signer: Signer::Client, says: "verified      yes", ..RUN }),
    ),
    ("prova agent feedback 7 --value 40", Step::Run(Run { signer: Signer::Client, ..RUN })),
    ("prova agent revoke 7 2", Step::Run(Run { signer: Signer::Client, ..RUN })),
    (
        "prova agent validate request 7 --validator 0xVALIDATOR",
        Step::Run(Run { signer: Signer::Operator, capture: &[("request hash", "0xREQUESTHASH")], ..RUN }),
    ),
    ("prova agent validate respond 0xREQUESTHASH", Step::Run(Run { signer: Signer::Validator, ..RUN })),
    ("prova verify reputation 31337 7 --algorithm all", Step::Run(Run { prep: Prep::CaughtUp, ..RUN })),
    (
        "prova verify reputation 31337 7 --algorithm trust --seeds 0xA,0xB",
        Step::Run(Run {
            subs: &[("0xA,0xB", "0xCLIENT,0xVALIDATOR")],
            rest: "--identity-registry $ID --reputation-registry $REP --api $API",
            ..RUN
        }),
    ),
    // README.md, "Auditing a whole API".
    (
        "prova verify api --api http://127.0.0.1:8080 --rpc $RPC",
        Step::Run(Run { prep: Prep::CaughtUp, says: "VERIFIED", ..RUN }),
    ),
    ("prova verify api --api $API --rpc $RPC --sample 50", Step::Run(Run { says: "VERIFIED", ..RUN })),
    ("prova verify api --api $API --rpc $RPC --registry $REG", Step::Run(Run { says: "VERIFIED", ..RUN })),
    // README.md, "Explorer".
    ("prova serve --explorer-rpc", Step::Skip("the API and explorer, a server: tests/e2e/explorer.rs drives it")),
    // docs/distillation.md: the lab's store is $ATTESTOR_DB.
    ("prova outputs ingest answers.jsonl --keep-text", Step::Run(Run { prep: Prep::Answers, ..RUN })),
    (
        "prova outputs publish --once --flush --database-url $LAB_DB",
        Step::Run(Run { signer: Signer::Attestor, relayer: true, says: "anchored batch", ..RUN }),
    ),
    ("prova outputs scan suspect.jsonl --evidence bundle/", Step::Run(RUN)),
    ("prova verify evidence bundle/", Step::Run(RUN)),
    // docs/explorer.md.
    ("prova serve ... --explorer-rpc", Step::Skip("the API and explorer, a server: tests/e2e/explorer.rs drives it")),
    ("cd explorer && npm run build", Step::Skip("builds the explorer: scripts/test.sh runs it")),
    ("cd explorer && npm test", Step::Skip("the explorer's unit tests: scripts/test.sh runs them")),
    ("cargo nextest run -p prova-e2e -E 'test(explorer)'", Step::Skip("runs a test of this suite")),
    (
        "prova model prove-file config.json --dir .prova/dev/demo-model",
        Step::Run(Run { subs: &[(".prova/dev", "$DEVDATA"), ("/tmp/config.proof.json", "config.proof.json")], ..RUN }),
    ),
    (
        "EXPLORER_URL=http://127.0.0.1:8080/explorer/",
        Step::Skip("the browser test, headless Chromium for about a minute: tests/e2e/explorer.rs runs it"),
    ),
    // docs/partitioning.md.
    (
        "psql \"$DATABASE_URL\" -c 'SELECT prova_ensure_output_partitions(2)'",
        Step::Run(Run { database: Database::Dev, ..RUN }),
    ),
    ("pg_dump --format=custom --table=output_leaves_2026_01", Step::Skip(ARCHIVE)),
    ("pg_restore --list prova-outputs-2026-01.dump", Step::Skip(ARCHIVE)),
    ("psql \"$DATABASE_URL\" -c 'SELECT count(*) FROM output_leaves_2026_01'", Step::Skip(ARCHIVE)),
    ("psql \"$DATABASE_URL\" -c 'DROP TABLE output_leaves_2026_01", Step::Skip(ARCHIVE)),
    ("pg_restore --dbname=\"$DATABASE_URL\" prova-outputs-2026-01.dump", Step::Skip(ARCHIVE)),
    ("psql \"$DATABASE_URL\" <<'SQL'", Step::Skip(ARCHIVE)),
    // docs/replicas.md.
    (
        "prova serve --database-url",
        Step::Skip("a server, reading from a streaming replica: tests/e2e/replica.rs starts one"),
    ),
    ("pg_basebackup -h primary", Step::Skip(REPLICA)),
    ("pg_ctl -D /var/lib/postgresql/15/replica start", Step::Skip(REPLICA)),
    ("cargo build -p prova-cli; export PROVA_BIN", Step::Skip("builds the binary this test runs")),
    ("eval \"$(scripts/pg-test-cluster.sh start)\"; cargo nextest run", Step::Skip("runs a test of this suite")),
    // docs/sidecar.md: the sidecar on a free port, a sample posted to it.
    (
        "umask 077 && openssl rand -hex 32 > /etc/prova/sidecar.token",
        Step::Run(Run { subs: &[("/etc/prova/sidecar.token", "sidecar.token")], ..RUN }),
    ),
    (
        "export DATABASE_URL=postgres://prova@127.0.0.1:5432/prova_attestor",
        Step::Skip("sets the next line's environment: the sidecar below gets $ATTESTOR_DB"),
    ),
    (
        "prova outputs serve --listen 127.0.0.1:8090 --token-file /etc/prova/sidecar.token",
        Step::Run(Run {
            relayer: true,
            database: Database::Attestor,
            server: true,
            subs: &[("/etc/prova/sidecar.token", "sidecar.token")],
            ..RUN
        }),
    ),
    (
        "curl -s http://127.0.0.1:8090/v1/samples",
        Step::Run(Run { says: "\"stored\":1", subs: &[("/etc/prova/sidecar.token", "sidecar.token")], ..RUN }),
    ),
    // docs/sybil-benchmark.md.
    ("cargo bench -p prova-reputation --bench sybil", Step::Skip(BENCHMARK)),
    ("PROVA_SYBIL_SEED=7 cargo bench -p prova-reputation --bench sybil", Step::Skip(BENCHMARK)),
];

const ARCHIVE: &str = "archives, drops or restores a past month's partitions of a production database (2026-01, which the \
                       dev stack does not have)";
const REPLICA: &str = "sets up a streaming replica of a production primary: tests/e2e/replica.rs does it locally";
const BENCHMARK: &str = "a benchmark: minutes of CPU, figures for BENCHMARKS.md";

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_and_the_docs_run_against_a_dev_stack() -> anyhow::Result<()> {
    let started = Instant::now();
    let commands = documented_commands()?;
    let steps = pair_with_the_table(&commands);
    let mut world = World::start().await?;
    for (command, step) in commands.iter().zip(steps) {
        match step {
            Step::Skip(reason) => println!("skip  {}: {}\n      ({reason})", command.place, command.text),
            Step::Run(run) => world.run(command, &run).await?,
        }
    }
    println!("{} commands in {:.1} s, with the stack's start", commands.len(), started.elapsed().as_secs_f64());
    let stopping = Instant::now();
    world.servers.clear();
    println!("servers stopped in {:.1} s", stopping.elapsed().as_secs_f64());
    let stopping = Instant::now();
    drop(world);
    println!("stack stopped in {:.1} s", stopping.elapsed().as_secs_f64());
    Ok(())
}

/// Pairs each command with its table entry, in order; any difference is a failure that shows both lists.
fn pair_with_the_table(commands: &[DocCommand]) -> Vec<Step> {
    let listing = || commands.iter().map(|c| format!("  {}: {}", c.place, c.text)).collect::<Vec<_>>().join("\n");
    for (i, command) in commands.iter().enumerate() {
        let Some((start, _)) = TABLE.get(i) else {
            panic!(
                "{}: `{}` is not in the table of tests/e2e/readme.rs\ncommands:\n{}",
                command.place,
                command.text,
                listing()
            )
        };
        assert!(
            command.text.starts_with(start),
            "{}: `{}` is not the table's next command (`{start}...`): add it to tests/e2e/readme.rs (run it, or skip it \
             with the reason)\ncommands:\n{}",
            command.place,
            command.text,
            listing()
        );
    }
    assert_eq!(
        TABLE.len(),
        commands.len(),
        "the table lists commands the documents no longer have, from `{}`",
        TABLE.get(commands.len()).map_or("", |(start, _)| start)
    );
    TABLE.iter().map(|(_, step)| *step).collect()
}

/// The folder of the workspace.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace")
}

/// The commands of the README's "Using it" section, then of every `docs/*.md`, in order.
fn documented_commands() -> anyhow::Result<Vec<DocCommand>> {
    let readme = std::fs::read_to_string(workspace().join("README.md"))?;
    let mut commands = sh_commands("README.md", &readme, Some("## Using it"));
    let mut docs: Vec<PathBuf> =
        std::fs::read_dir(workspace().join("docs"))?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    docs.retain(|path| path.extension().is_some_and(|e| e == "md"));
    docs.sort();
    for path in docs {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        commands.extend(sh_commands(&name, &std::fs::read_to_string(&path)?, None));
    }
    Ok(commands)
}

/// The commands of the `sh` blocks of `text` (within the `##` section `section`, when given).
fn sh_commands(file: &str, text: &str, section: Option<&str>) -> Vec<DocCommand> {
    let lines: Vec<&str> = text.lines().collect();
    let mut commands = Vec::new();
    let (mut in_section, mut in_block) = (section.is_none(), false);
    let mut pending = String::new();
    let mut i = 0;
    while i < lines.len() {
        let (line, number) = (lines[i], i + 1);
        i += 1;
        if let Some(section) = section {
            if line.trim() == section {
                in_section = true;
                continue;
            }
            if in_section && !in_block && line.starts_with("## ") {
                in_section = false;
            }
        }
        let fence = line.trim();
        if !in_section {
            continue;
        }
        if !in_block {
            in_block = matches!(fence, "```sh" | "```bash" | "```shell");
            continue;
        }
        if fence == "```" {
            in_block = false;
            continue;
        }
        let code = strip_comment(line).trim_end();
        if let Some(joined) = code.strip_suffix('\\') {
            pending.push_str(joined);
            pending.push(' ');
            continue;
        }
        pending.push_str(code);
        let mut text = pending.split_whitespace().collect::<Vec<_>>().join(" ");
        pending.clear();
        if text.is_empty() {
            continue;
        }
        // A heredoc's body belongs to its command.
        if let Some(marker) = heredoc_marker(&text) {
            while i < lines.len() {
                let body = lines[i];
                i += 1;
                text.push('\n');
                text.push_str(body);
                if body.trim() == marker {
                    break;
                }
            }
        }
        commands.push(DocCommand { place: format!("{file}:{number}"), text });
    }
    commands
}

/// The part of a shell line before its comment (a `#` at the start or after a space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return &line[..at],
            None => {}
        }
        previous = c;
    }
    line
}

/// `SQL` of a command holding `<<'SQL'` or `<<SQL`.
fn heredoc_marker(text: &str) -> Option<String> {
    let after = text.split("<<").nth(1)?;
    let marker: String = after
        .trim_start_matches('-')
        .trim_matches('\'')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!marker.is_empty()).then_some(marker)
}

/// The dev stack, the lab's folders, the accounts, and the placeholders known so far.
struct World {
    /// Servers started by the commands, stopped when the test ends (first: before the dev stack they use).
    servers: Vec<ChildGuard>,
    /// Dropped before the stack, so that no idle connection holds up the API's graceful stop.
    http: reqwest::Client,
    _dev: ChildGuard,
    _dev_data: tempfile::TempDir,
    _banner_reader: std::thread::JoinHandle<()>,
    scratch: tempfile::TempDir,
    rpc: String,
    api: String,
    dev_database: String,
    index_database: String,
    index_config_database: String,
    attestor_database: String,
    keys: Keys,
    second_key: Option<PrivateKeySigner>,
    raw_attestor: Option<PrivateKeySigner>,
    registry: Address,
    /// Placeholder and value, as learnt.
    vars: Vec<(String, String)>,
}

/// Funded anvil accounts of `prova dev`'s chain (the demo uses account 0 and fresh keys).
struct Keys {
    lab: PrivateKeySigner,
    new_admin: PrivateKeySigner,
    operator: PrivateKeySigner,
    client: PrivateKeySigner,
    validator: PrivateKeySigner,
}

/// Anvil's default accounts 1 to 5.
const ANVIL_KEYS: [&str; 5] = [
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
];

impl World {
    async fn start() -> anyhow::Result<Self> {
        let (mut child, dev_data, _listen) = spawn_dev("prova-readme")?;
        let stdout = child.stdout.take().expect("piped");
        let dev = ChildGuard::new(child).with_grace(Duration::from_secs(20));
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        while let Some(line) = lines.next().transpose()? {
            if line.starts_with("Try:") {
                break;
            }
            banner.push(line);
        }
        // The rest of stdout is read (and dropped) so that `prova dev` never blocks on a full pipe.
        let banner_reader = std::thread::spawn(move || lines.for_each(drop));
        let field = |label: &str| -> anyhow::Result<String> {
            banner
                .iter()
                .find_map(|l| l.trim_start().strip_prefix(label).map(|rest| rest.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("no {label:?} in the banner:\n{}", banner.join("\n")))
        };
        let rpc = field("chain ")?.split_whitespace().next().unwrap_or_default().to_owned();
        let registry: Address = field("registry ")?.parse()?;
        let dev_database = field("postgres ")?;
        let api = field("api ")?;
        let erc8004: Vec<String> = field("erc-8004 ")?.split_whitespace().map(str::to_owned).collect();
        let (identity, reputation, validation) = (&erc8004[1], &erc8004[3], &erc8004[5]);

        let index_database = prova_db::create_database(&dev_database, "readme_index").await?;
        let index_config_database = prova_db::create_database(&dev_database, "readme_index_config").await?;
        let attestor_database = prova_db::create_database(&dev_database, "readme_attestor").await?;
        let key = |i: usize| ANVIL_KEYS[i].parse::<PrivateKeySigner>();
        let keys = Keys { lab: key(0)?, new_admin: key(1)?, operator: key(2)?, client: key(3)?, validator: key(4)? };
        let scratch = tempfile::Builder::new().prefix("prova-readme-lab").tempdir()?;
        let lab = scratch.path().join("lab");
        std::fs::create_dir_all(lab.join("cache"))?;
        std::fs::create_dir_all(scratch.path().join("second"))?;
        write_model(&lab.join("llm-7b"), 1);
        write_model(&lab.join("llm-7b-chat"), 1);
        std::fs::write(lab.join("llm-7b-chat/chat_template.json"), "{\"template\":\"chat\"}")?;
        prova_e2e::copy_dir(&lab.join("llm-7b-chat"), &lab.join("suspect"));
        std::fs::write(lab.join("suspect/config.json"), "{\"seed\":1,\"tampered\":true}")?;
        std::fs::write(lab.join("job-42.json"), "{\"job\":42,\"task\":\"summarise a contract\"}\n")?;
        std::fs::write(lab.join("request.json"), "{\"job\":42,\"check\":\"re-execute\"}\n")?;
        std::fs::write(
            lab.join("indexer.toml"),
            format!(
                "[[chain]]\nrpc = \"{rpc}\"\nchain_id = 31337\n\n[[chain.contract]]\naddress = \"{registry}\"\nkind = \
                 \"provenance\"\n\n[[chain.contract]]\naddress = \"{identity}\"\nkind = \"identity\"\n"
            ),
        )?;

        let vars = [
            ("$RPC", rpc.clone()),
            ("$REG", registry.to_string()),
            ("$ID", identity.clone()),
            ("$REP", reputation.clone()),
            ("$VAL", validation.clone()),
            ("$API", api.clone()),
            ("http://127.0.0.1:8080", api.clone()),
            ("$ATTESTOR_DB", attestor_database.clone()),
            ("$LAB_DB", attestor_database.clone()),
            ("$REGISTRY", registry.to_string()),
            ("$WORKSPACE", workspace().display().to_string()),
            ("$DEVDATA", dev_data.path().display().to_string()),
            ("127.0.0.1:8090", format!("127.0.0.1:{}", prova_devnet::local::free_port()?)),
            ("0xLAB", keys.lab.address().to_string()),
            ("0xNEWADMIN", keys.new_admin.address().to_string()),
            ("0xCLIENT", keys.client.address().to_string()),
            ("0xVALIDATOR", keys.validator.address().to_string()),
            ("ipfs://...", "ipfs://bafkreidocsexample".to_owned()),
        ];
        Ok(Self {
            _dev: dev,
            _dev_data: dev_data,
            _banner_reader: banner_reader,
            scratch,
            rpc,
            api,
            http: reqwest::Client::new(),
            dev_database,
            index_database,
            index_config_database,
            attestor_database,
            keys,
            second_key: None,
            raw_attestor: None,
            registry,
            vars: vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            servers: Vec::new(),
        })
    }

    fn lab(&self) -> PathBuf {
        self.scratch.path().join("lab")
    }

    fn var(&self, name: &str) -> String {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no {name} yet"))
    }

    fn set(&mut self, name: &str, value: String) {
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_owned(), value));
    }

    /// The command as run: its own placeholders, `...`, optional `[...]` parts dropped, then the shared placeholders
    /// (longest first) and the agent id `7`. A placeholder left over fails the test.
    fn fill(&self, command: &DocCommand, run: &Run) -> String {
        let mut text = command.text.clone();
        for (placeholder, value) in run.subs {
            text = text.replace(placeholder, value);
        }
        if text.split(' ').any(|token| token == "...") {
            assert!(!run.rest.is_empty(), "{}: say what `...` stands for in the table", command.place);
            text = text.split(' ').map(|t| if t == "..." { run.rest } else { t }).collect::<Vec<_>>().join(" ");
        }
        while let Some(open) = text.find(" [")
            && let Some(close) = text[open..].find(']')
        {
            text.replace_range(open..=open + close, "");
        }
        let mut vars = self.vars.clone();
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        for (placeholder, value) in &vars {
            if placeholder != "7" {
                text = text.replace(placeholder.as_str(), value);
            }
        }
        if let Some((_, agent)) = self.vars.iter().find(|(k, _)| k == "7") {
            text = text.split(' ').map(|t| if t == "7" { agent.as_str() } else { t }).collect::<Vec<_>>().join(" ");
        }
        if run.once {
            text.push_str(" --once");
        }
        let unfilled = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '$' || c == '_')).find(|word| {
            (word.starts_with('$')
                && word.len() > 1
                && word[1..].chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && *word != "$DATABASE_URL")
                || (word.starts_with("0x") && word.len() > 3 && word[2..].chars().all(|c| c.is_ascii_uppercase()))
        });
        assert!(unfilled.is_none(), "{}: no value for {unfilled:?} in `{text}`", command.place);
        text
    }

    async fn run(&mut self, command: &DocCommand, run: &Run) -> anyhow::Result<()> {
        self.prepare(run.prep).await?;
        let text = self.fill(command, run);
        println!("run   {}: {text}", command.place);
        let folder = match run.folder {
            Folder::Lab => self.lab(),
            Folder::Second => self.scratch.path().join("second"),
        };
        let mut shell = Command::new("sh");
        shell.arg("-c").arg(if run.server { format!("exec {text}") } else { text.clone() }).current_dir(&folder);
        self.environment(&mut shell, run)?;
        if run.server {
            let server = ChildGuard::new(shell.stdout(Stdio::null()).spawn()?).with_grace(Duration::from_secs(10));
            self.servers.push(server);
            return self.wait_healthy(command).await;
        }
        let started = Instant::now();
        let output = if run.mine { self.run_mining(shell).await? } else { shell.output()? };
        println!("      {:.1} s", started.elapsed().as_secs_f64());
        let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(run.exit),
            "{}: `{text}` exited {:?}, not {}\nstdout:\n{out}\nstderr:\n{err}",
            command.place,
            output.status.code(),
            run.exit
        );
        assert!(
            out.contains(run.says),
            "{}: no {:?} in the output of `{text}`:\n{out}\n{err}",
            command.place,
            run.says
        );
        for (label, placeholder) in run.capture {
            let value = out
                .lines()
                .find_map(|l| l.strip_prefix(label))
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("{}: no {label:?} line in\n{out}", command.place));
            self.set(placeholder, value.to_owned());
        }
        Ok(())
    }

    /// The command's environment: `prova` is the binary under test, keys and databases as the table says, nothing
    /// inherited that prova reads.
    fn environment(&self, shell: &mut Command, run: &Run) -> anyhow::Result<()> {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("PROVA_") || name == "DATABASE_URL" || name.starts_with("PG") {
                shell.env_remove(name.as_ref());
            }
        }
        let bin = prova_bin().parent().expect("a folder").to_owned();
        let postgres = prova_devnet::local::postgres_bin_dir()?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths([bin, postgres].into_iter().chain(std::env::split_paths(&path)))?;
        shell
            .env("PATH", path)
            .env("PROVA_KEYSTORE_PASSWORD", PASSWORD)
            .env("XDG_CACHE_HOME", self.lab().join("cache"))
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        let key = match run.signer {
            Signer::None => None,
            Signer::Lab => Some(&self.keys.lab),
            Signer::Operator => Some(&self.keys.operator),
            Signer::Client => Some(&self.keys.client),
            Signer::Validator => Some(&self.keys.validator),
            Signer::Attestor => self.raw_attestor.as_ref(),
        };
        if let Some(key) = key {
            shell.env("PROVA_PRIVATE_KEY", key.to_bytes().to_string());
        }
        if run.relayer {
            shell.env("PROVA_RELAYER_PRIVATE_KEY", self.keys.lab.to_bytes().to_string());
        }
        match run.database {
            Database::None => {}
            Database::Dev => drop(shell.env("DATABASE_URL", &self.dev_database)),
            Database::Index => drop(shell.env("DATABASE_URL", &self.index_database)),
            Database::IndexConfig => drop(shell.env("DATABASE_URL", &self.index_config_database)),
            Database::Attestor => drop(shell.env("DATABASE_URL", &self.attestor_database)),
        }
        Ok(())
    }

    /// Runs a command that waits for confirmations while the chain makes a block every 100 ms, as a real chain
    /// would (`prova dev`'s anvil mines only when a transaction comes, and the extra blocks change nothing else).
    async fn run_mining(&self, mut shell: Command) -> anyhow::Result<Output> {
        let (out, err) = (self.scratch.path().join("mining.out"), self.scratch.path().join("mining.err"));
        let child = shell.stdout(std::fs::File::create(&out)?).stderr(std::fs::File::create(&err)?).spawn()?;
        let mut guard = ChildGuard::new(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = guard.child().try_wait()? {
                break status;
            }
            anyhow::ensure!(Instant::now() < deadline, "the command did not end");
            self.rpc_call("evm_mine", serde_json::json!([])).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Ok(Output { status, stdout: std::fs::read(out)?, stderr: std::fs::read(err)? })
    }

    async fn rpc_call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let request = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self.http.post(&self.rpc).json(&request).send().await?.json().await?;
        anyhow::ensure!(answer["error"].is_null(), "{method}: {answer}");
        Ok(answer["result"].clone())
    }

    /// Waits until a server started by a command answers `/healthz` (it may be loading its keystore first).
    async fn wait_healthy(&mut self, command: &DocCommand) -> anyhow::Result<()> {
        let url = format!("http://{}/healthz", self.var("127.0.0.1:8090"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = self.http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            let server = self.servers.last_mut().expect("just started");
            if let Some(status) = server.child().try_wait()? {
                anyhow::bail!("{}: the server exited ({status}) before answering {url}", command.place);
            }
            anyhow::ensure!(Instant::now() < deadline, "{}: no answer from {url}", command.place);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Makes what a command needs and the documents assume.
    async fn prepare(&mut self, prep: Prep) -> anyhow::Result<()> {
        match prep {
            Prep::None => {}
            Prep::SecondKeystore => {
                let keys = self.scratch.path().join("second/keystores");
                std::fs::create_dir_all(&keys)?;
                let (key, _) =
                    PrivateKeySigner::new_keystore(&keys, &mut rand::thread_rng(), PASSWORD, Some("attestor.json"))?;
                self.set("0xOLD", key.address().to_string());
                self.second_key = Some(key);
            }
            Prep::Rotation => {
                let relayer = prova_chain::connect_with_signer(&self.rpc, self.keys.lab.clone())?;
                let second = self.second_key.clone().expect("added before the rotation");
                let dir = self.scratch.path().join("second/llm-7b-old");
                write_model(&dir, 2);
                let version = prova_core::manifest::hash_dir(&dir, &Default::default())?.version_hash;
                let request = prova_attestor::publish::PublishRequest::new(version, "acme/old");
                prova_attestor::publish::publish_model_version(&relayer, self.registry, &second, &request).await?;
                self.set("0xOLDVERSION", version.to_string());
                let third = PrivateKeySigner::random();
                let publisher = self.keys.lab.address();
                let authorization =
                    prova_attestor::admin::authorize(&relayer, self.registry, publisher, &third, 3600).await?;
                std::fs::write(self.lab().join("new-auth.json"), serde_json::to_string_pretty(&authorization)?)?;
                self.set("0xKEY", third.address().to_string());
            }
            Prep::Samples => {
                let version: B256 = self.var("0xVERSION").parse()?;
                let record = |i: usize| {
                    serde_json::json!({
                        "model_version": version,
                        "request": format!("What is {i} times {i}?"),
                        "response": format!("{i} times {i} is {}.", i * i),
                    })
                };
                let lines: Vec<String> = (0..20).map(|i| record(i).to_string()).collect();
                std::fs::write(self.lab().join("samples.jsonl"), lines.join("\n") + "\n")?;
                // `every:10` keeps records 0 and 10: record 0 is the attested output the receipt is for, and the one
                // the suspect dataset copies.
                let first = record(0);
                let (request, response) = (first["request"].as_str().unwrap(), first["response"].as_str().unwrap());
                std::fs::write(self.lab().join("request.txt"), request)?;
                std::fs::write(self.lab().join("response.txt"), response)?;
                let suspect = [
                    serde_json::json!({"request": request, "response": response}),
                    serde_json::json!({"request": "unrelated", "response": "not ours"}),
                ];
                let suspect: Vec<String> = suspect.iter().map(Value::to_string).collect();
                std::fs::write(self.lab().join("suspect.jsonl"), suspect.join("\n") + "\n")?;
            }
            Prep::CaughtUp => self.wait_caught_up().await?,
            Prep::Answers => {
                let version: B256 = self.var("0xVERSION").parse()?;
                let answer = |i: usize| {
                    serde_json::json!({
                        "model_version": version,
                        "request": format!("Summarise chapter {i}."),
                        "response": format!("Chapter {i} tells how the lab trained its model on {i} clusters, and why."),
                    })
                };
                let lines: Vec<String> = (0..3).map(|i| answer(i).to_string()).collect();
                std::fs::write(self.lab().join("answers.jsonl"), lines.join("\n") + "\n")?;
                let mut suspect = std::fs::read_to_string(self.lab().join("suspect.jsonl"))?;
                suspect.push_str(&(serde_json::json!({"text": answer(1)["response"]}).to_string() + "\n"));
                std::fs::write(self.lab().join("suspect.jsonl"), suspect)?;
                let attestor = PrivateKeySigner::random();
                let lab = prova_chain::connect_with_signer(&self.rpc, self.keys.lab.clone())?;
                prova_attestor::admin::add_own_attestor(&lab, self.registry, self.keys.lab.address(), &attestor)
                    .await?;
                self.raw_attestor = Some(attestor);
            }
        }
        Ok(())
    }

    /// Waits until the dev API has indexed every contract up to the chain's current head.
    async fn wait_caught_up(&self) -> anyhow::Result<()> {
        let head = self.rpc_call("eth_blockNumber", serde_json::json!([])).await?;
        let head = u64::from_str_radix(head.as_str().unwrap_or_default().trim_start_matches("0x"), 16)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status: Value = self.http.get(format!("{}/v1/status", self.api)).send().await?.json().await?;
            let chains = status["chains"].as_array().cloned().unwrap_or_default();
            if !chains.is_empty() && chains.iter().all(|c| c["indexed_block"].as_u64().is_some_and(|b| b >= head)) {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "the API did not index block {head}: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[test]
fn shell_lines_lose_their_comments_and_keep_their_quotes() {
    assert_eq!(strip_comment("prova deploy --rpc $RPC   # pays"), "prova deploy --rpc $RPC   ");
    assert_eq!(strip_comment("curl -d '{\"a\":\"#1\"}' x # c"), "curl -d '{\"a\":\"#1\"}' x ");
    assert_eq!(strip_comment("# only a comment"), "");
    let text =
        "## Using it\n\n```sh\n# note\nprova a \\\n    --b c   # why\n\nprova d\n```\n\n## Next\n```sh\nprova e\n```\n";
    let commands = sh_commands("X.md", text, Some("## Using it"));
    let texts: Vec<&str> = commands.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["prova a --b c", "prova d"]);
    assert_eq!(commands[0].place, "X.md:6");
    let heredoc = sh_commands("Y.md", "```sh\npsql <<'SQL'\nBEGIN;\nSQL\nls\n```\n", None);
    assert_eq!(heredoc.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["psql <<'SQL'\nBEGIN;\nSQL", "ls"]);
}
