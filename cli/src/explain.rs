//! Errors in words a newcomer can act on: [`explain`] turns a failed command's error into its cause and the fix, in
//! one or two lines, and never repeats a secret (no key, no password, no URL path, query or user info).
//!
//! Most errors already say what failed, and `explain` adds the fix. It rewrites the few whose cause is only in a
//! node's or a driver's words: a sending account without funds (named, with its balance, read from the command's
//! RPC endpoint), a nonce taken by another transaction, an RPC endpoint or a Postgres server that cannot be reached
//! (named by scheme, host and port). The account comes from the [`Sender`] a command attaches to the errors of its
//! transactions; the endpoints from the command line ([`Endpoints`]). `docs/errors.md` lists every case.

use std::fmt;

use alloy::primitives::{Address, U256};
use clap::{ArgMatches, CommandFactory};
use prova_chain::error::Refusal;

use crate::commands::model::RELAYER_KEY_ENV;
use crate::signer;

/// The account a command's transactions are sent from, attached to their errors (`.context(sender)`) so that a
/// refusal can name it, and its balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    /// The sending (and paying) account.
    pub address: Address,
    /// Whether the command can have a relayer pay instead.
    pub relayer: Relayer,
}

/// Whether a command takes a relayer key (`PROVA_RELAYER_PRIVATE_KEY`), which sends and pays for what another key
/// signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayer {
    /// The command takes one, and none is set: the signing key sends and pays.
    Available,
    /// The sender is the relayer.
    InUse,
    /// The command has no relayer: the signing key always sends.
    Unsupported,
}

impl Sender {
    /// A sender with no relayer option.
    pub fn new(address: Address) -> Self {
        Self { address, relayer: Relayer::Unsupported }
    }
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sending from {}", self.address)
    }
}

/// Where a command was pointed: the values of its `--rpc` and `--*database-url` options, from flags or the
/// environment. Kept to name an endpoint that cannot be reached (redacted) and to read a sender's balance; its
/// `Debug` shows the redacted forms only.
#[derive(Clone, Default)]
pub struct Endpoints {
    rpc: Vec<String>,
    postgres: Vec<String>,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rpc: Vec<String> = self.rpc.iter().map(|url| prova_chain::redact_url(url)).collect();
        let postgres: Vec<String> = self.postgres.iter().map(|url| postgres_server(url)).collect();
        f.debug_struct("Endpoints").field("rpc", &rpc).field("postgres", &postgres).finish()
    }
}

/// Long option names whose values are RPC endpoints.
const RPC_OPTIONS: &[&str] = &["rpc"];
/// Long option names whose values are Postgres URLs.
const POSTGRES_OPTIONS: &[&str] = &["database-url", "read-database-url", "attestor-database-url"];

impl Endpoints {
    /// The endpoints of the command `matches` (from [`crate::Cli`]) runs.
    pub fn of(matches: &ArgMatches) -> Self {
        let mut endpoints = Self::default();
        endpoints.collect(&crate::Cli::command(), matches);
        endpoints
    }

    fn collect(&mut self, command: &clap::Command, matches: &ArgMatches) {
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            let list = if RPC_OPTIONS.contains(&long) {
                &mut self.rpc
            } else if POSTGRES_OPTIONS.contains(&long) {
                &mut self.postgres
            } else {
                continue;
            };
            if let Ok(Some(values)) = matches.try_get_raw(arg.get_id().as_str()) {
                list.extend(values.filter_map(|value| value.to_str()).map(str::to_owned));
            }
        }
        if let Some((name, sub)) = matches.subcommand()
            && let Some(subcommand) = command.find_subcommand(name)
        {
            self.collect(subcommand, sub);
        }
    }

    fn rpc_place(&self) -> String {
        match self.rpc.as_slice() {
            [] => "the RPC endpoint".into(),
            [one] => format!("the RPC endpoint {}", prova_chain::redact_url(one)),
            many => format!(
                "one of the RPC endpoints ({})",
                many.iter().map(|url| prova_chain::redact_url(url)).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn postgres_place(&self) -> String {
        let mut servers: Vec<String> = self.postgres.iter().map(|url| postgres_server(url)).collect();
        servers.dedup();
        match servers.as_slice() {
            [] => "Postgres".into(),
            [one] => format!("Postgres at {one}"),
            many => format!("Postgres (at one of {})", many.join(", ")),
        }
    }
}

/// `host:port` of a Postgres URL (port 5432 when it has none): no user, password or database name.
fn postgres_server(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.host_str().is_some_and(|host| !host.is_empty()) => {
            format!("{}:{}", parsed.host_str().unwrap_or_default(), parsed.port().unwrap_or(5432))
        }
        _ => "the server of the database URL".into(),
    }
}

/// What went wrong and, when there is one, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The cause, in one line.
    pub cause: String,
    /// The fix, in one line.
    pub fix: Option<String>,
}

impl Explanation {
    fn new(cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { cause: cause.into(), fix: Some(fix.into()) }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.cause)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        Ok(())
    }
}

/// The cause and the fix of `error`, the error a command run against `endpoints` failed with. Reads the sender's
/// balance from the command's RPC endpoint when the node refused a transaction for lack of funds.
pub async fn explain(error: &anyhow::Error, endpoints: &Endpoints) -> Explanation {
    let cause = describe(error);
    let sender = error.downcast_ref::<Sender>().copied();
    if let Some(key) = find::<signer::Error>(error) {
        return Explanation { fix: key_fix(key), cause };
    }
    if let Some(chain) = chain_error(error) {
        if let Some(refusal) = chain.refusal() {
            return refused(refusal, sender, endpoints).await;
        }
        if chain.is_unreachable() {
            return unreachable_rpc(&cause, endpoints);
        }
        if let Some(fix) = chain_fix(chain) {
            return Explanation { cause, fix: Some(fix) };
        }
    }
    if let Some(explained) = find::<sqlx::Error>(error).and_then(|sqlx| postgres(sqlx, endpoints)) {
        return explained;
    }
    // Errors that kept only the node's words (retry loops keep the text): a refusal is still recognisable.
    if let Some(refusal) = Refusal::of_message(&cause) {
        return refused(refusal, sender, endpoints).await;
    }
    Explanation { cause, fix: None }
}

/// An error and its causes in one line (`error: cause: cause`), leaving out a cause its parent already says, and the
/// [`Sender`] (named where it matters).
pub fn describe(error: &anyhow::Error) -> String {
    let sender = error.downcast_ref::<Sender>().map(ToString::to_string);
    let mut text = String::new();
    for cause in error.chain() {
        let line = cause.to_string();
        if line.is_empty() || text.contains(&line) || sender.as_ref() == Some(&line) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&line);
    }
    text
}

fn find<T: std::error::Error + 'static>(error: &anyhow::Error) -> Option<&T> {
    error.chain().find_map(|cause| cause.downcast_ref::<T>())
}

/// The chain error in `error`, also inside the crates' errors that wrap it transparently (whose `source()` skips it).
fn chain_error(error: &anyhow::Error) -> Option<&prova_chain::Error> {
    error.chain().find_map(|cause| {
        cause
            .downcast_ref::<prova_chain::Error>()
            .or_else(|| match cause.downcast_ref::<prova_attestor::Error>() {
                Some(prova_attestor::Error::Chain(chain)) => Some(chain),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<prova_verify::Error>() {
                Some(prova_verify::Error::Chain(chain)) => Some(chain),
                _ => None,
            })
    })
}

fn key_fix(error: &signer::Error) -> Option<String> {
    use signer::{KEYSTORE_PASSWORD_ENV as PASSWORD, PRIVATE_KEY_ENV as KEY};
    match error {
        signer::Error::NoKey => Some(format!(
            "pass --keystore FILE (its password from {PASSWORD} or a prompt) or set {KEY} to a hex private key; \
             `prova key new` writes a keystore"
        )),
        signer::Error::WrongPassword(path) => {
            Some(format!("set {PASSWORD} to the password {} was written with, or unset it to be asked", path.display()))
        }
        signer::Error::NoPassword { .. } => {
            Some(format!("set {PASSWORD}, or run the command on a terminal to be asked"))
        }
        signer::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Some("check --keystore (PROVA_KEYSTORE); `prova key new` writes a keystore".into())
        }
        _ => None,
    }
}

fn chain_fix(error: &prova_chain::Error) -> Option<String> {
    use prova_chain::Error as E;
    match error {
        E::InvalidUrl => Some("give --rpc (PROVA_RPC_URL) an http:// or https:// URL".into()),
        E::WrongChain { actual, expected } => Some(format!(
            "point --rpc (PROVA_RPC_URL) at an endpoint of chain {expected}, or give --chain-id {actual} if chain \
             {actual} is the one you mean"
        )),
        E::NotARegistry { .. } => Some(
            "check --registry (PROVA_REGISTRY): the address `prova deploy` printed, on the chain --rpc serves".into(),
        ),
        E::NoContract { .. } => {
            Some("check the contract's address, and that --rpc serves the chain it is deployed on".into())
        }
        E::CodeMismatch { .. } => Some("check the address, or the pin (--code-hash, --pin-code)".into()),
        E::NotConfirmed { hash, .. } => Some(format!(
            "look transaction {hash} up: once it is mined or dropped, run the command again (a mined claim is \
             refused as already made)"
        )),
        E::Reverted(hash) => {
            Some(format!("nothing changed on-chain; `cast run {hash}` replays the transaction and shows why"))
        }
        _ => None,
    }
}

/// A node refused the transaction before it reached a block.
async fn refused(refusal: Refusal, sender: Option<Sender>, endpoints: &Endpoints) -> Explanation {
    let who = sender.map_or_else(|| "the sending account".to_owned(), |s| format!("account {}", s.address));
    let fix_nonce = "another process is sending from this account: let its transactions be mined (or stop it), then \
                     run the command again; give each sending process a key of its own";
    match refusal {
        Refusal::InsufficientFunds => {
            let balance = match (sender, endpoints.rpc.first()) {
                (Some(sender), Some(url)) => balance(url, sender.address).await,
                _ => None,
            };
            let cause = match balance {
                Some((chain_id, wei)) => {
                    format!("{who} cannot pay for the transaction: its balance is {} on chain {chain_id}", ether(wei))
                }
                None => format!("{who} cannot pay for the transaction (the node says: insufficient funds)"),
            };
            let fix = match sender {
                Some(Sender { address, relayer: Relayer::Available }) => format!(
                    "send ETH to {address}, or set {RELAYER_KEY_ENV} to the key of a funded account, which then \
                     sends and pays (the key given still signs)"
                ),
                Some(Sender { address, relayer: Relayer::InUse }) => {
                    format!("send ETH to {address}, the relayer ({RELAYER_KEY_ENV})")
                }
                Some(Sender { address, relayer: Relayer::Unsupported }) => format!("send ETH to {address}"),
                None => format!(
                    "send ETH to the account that sends (the key of --keystore or PROVA_PRIVATE_KEY, or \
                     {RELAYER_KEY_ENV} where the command takes one)"
                ),
            };
            Explanation::new(cause, fix)
        }
        Refusal::NonceTooLow => Explanation::new(
            format!(
                "the node refused the transaction of {who}: its nonce is used already (another transaction of \
                     the account went first)"
            ),
            fix_nonce,
        ),
        Refusal::ReplacementUnderpriced => Explanation::new(
            format!(
                "the node refused the transaction of {who}: a pending transaction of the account has the same \
                     nonce and a higher fee"
            ),
            fix_nonce,
        ),
        Refusal::AlreadyKnown => Explanation::new(
            format!("the node refused the transaction of {who}: it already holds this transaction"),
            fix_nonce,
        ),
        Refusal::NonceTooHigh => Explanation::new(
            format!("the node refused the transaction of {who}: its nonce is ahead of the account's next one"),
            "let the account's pending transactions be mined, then run the command again",
        ),
    }
}

/// The chain id and `address`'s balance, read from `url` within a few seconds; `None` if that fails.
async fn balance(url: &str, address: Address) -> Option<(u64, U256)> {
    use alloy::providers::Provider;
    let provider = prova_chain::connect_without_retries(url).ok()?;
    let read = async { Some((provider.get_chain_id().await.ok()?, provider.get_balance(address).await.ok()?)) };
    tokio::time::timeout(std::time::Duration::from_secs(5), read).await.ok().flatten()
}

/// `wei` in ETH, without trailing zeros: `0 ETH`, `0.25 ETH`.
fn ether(wei: U256) -> String {
    let text = alloy::primitives::utils::format_ether(wei);
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text} ETH")
}

/// The RPC endpoint did not answer (or answered HTTP errors instead of JSON-RPC); `text` is the error's own words.
fn unreachable_rpc(text: &str, endpoints: &Endpoints) -> Explanation {
    let lower = text.to_lowercase();
    let reason = if lower.contains("connection refused") {
        " (connection refused)".to_owned()
    } else if ["dns error", "failed to lookup", "name or service not known", "no such host"]
        .iter()
        .any(|m| lower.contains(m))
    {
        " (unknown host)".to_owned()
    } else if lower.contains("timed out") || lower.contains("timeout") {
        " (no answer in time)".to_owned()
    } else if let Some(status) = http_status(&lower) {
        format!(" (it answers HTTP {status})")
    } else if lower.contains("certificate") || lower.contains("tls") {
        " (TLS failed)".to_owned()
    } else {
        String::new()
    };
    let fix = "check --rpc (PROVA_RPC_URL): its host, port and any key in it, and that the node is running";
    if endpoints.rpc.is_empty() {
        // Endpoints from a file (`prova index --config`): the error's own context names the one that failed.
        return Explanation::new(text, fix.replace("--rpc (PROVA_RPC_URL)", "the endpoint's URL"));
    }
    Explanation::new(format!("cannot reach {}{reason}", endpoints.rpc_place()), fix)
}

/// The status of an `HTTP error 401 ...` in a transport error's text.
fn http_status(lower: &str) -> Option<u16> {
    let after = lower.split("http error ").nth(1)?;
    after.get(..3)?.parse().ok()
}

/// A Postgres connection that failed; `None` for other database errors.
fn postgres(error: &sqlx::Error, endpoints: &Endpoints) -> Option<Explanation> {
    let place = endpoints.postgres_place();
    let fix = "check DATABASE_URL (or --database-url): its host and port, and that Postgres is running there";
    match error {
        sqlx::Error::PoolTimedOut => {
            Some(Explanation::new(format!("cannot reach {place} (no connection in time)"), fix))
        }
        sqlx::Error::Io(io) => {
            let reason = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => io.to_string(),
            };
            Some(Explanation::new(format!("cannot reach {place} ({reason})"), fix))
        }
        sqlx::Error::Tls(_) => Some(Explanation::new(format!("cannot reach {place} (TLS failed)"), fix)),
        sqlx::Error::Configuration(_) => Some(Explanation::new(
            "the Postgres URL (DATABASE_URL or --database-url) does not parse",
            "write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        )),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(code) if code.starts_with("28") => Some(Explanation::new(
                format!("{place} refused the login (user or password)"),
                "check the user and password in DATABASE_URL",
            )),
            Some("3D000") => Some(Explanation::new(
                format!("the database named in the URL does not exist on {place}"),
                "create it (createdb NAME), or fix its name in DATABASE_URL",
            )),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(rpc: &[&str], postgres: &[&str]) -> Endpoints {
        Endpoints {
            rpc: rpc.iter().map(|s| (*s).to_owned()).collect(),
            postgres: postgres.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn endpoints_are_read_from_flags_and_the_environment_of_the_command_run() {
        let matches = crate::Cli::command().get_matches_from([
            "prova",
            "verify",
            "model",
            "dir",
            "--registry",
            "0x0000000000000000000000000000000000000001",
            "--rpc",
            "http://a.example:1/KEY",
            "--rpc",
            "http://b.example:2",
        ]);
        let found = Endpoints::of(&matches);
        assert_eq!(found.rpc, ["http://a.example:1/KEY", "http://b.example:2"]);
        assert!(!format!("{found:?}").contains("KEY"), "{found:?}");
        assert_eq!(found.rpc_place(), "one of the RPC endpoints (http://a.example:1/<redacted>, http://b.example:2)");
        let matches = crate::Cli::command().get_matches_from([
            "prova",
            "db",
            "migrate",
            "--database-url",
            "postgres://user:SECRET@db.example:6543/prova",
        ]);
        let found = Endpoints::of(&matches);
        assert_eq!(found.postgres_place(), "Postgres at db.example:6543");
        assert!(!format!("{found:?}").contains("SECRET"));
    }

    #[test]
    fn postgres_servers_show_host_and_port_only() {
        assert_eq!(postgres_server("postgres://u:p@127.0.0.1:9/db?sslmode=disable"), "127.0.0.1:9");
        assert_eq!(postgres_server("postgresql://db.example/prova"), "db.example:5432");
        assert_eq!(postgres_server("not a url"), "the server of the database URL");
    }

    #[test]
    fn balances_read_as_ether() {
        assert_eq!(ether(U256::ZERO), "0 ETH");
        assert_eq!(ether(U256::from(250_000_000_000_000_000u64)), "0.25 ETH");
        assert_eq!(ether(U256::from(10u64).pow(U256::from(22))), "10000 ETH");
    }

    #[tokio::test]
    async fn causes_keep_their_chain_once_and_keys_get_their_fix() {
        let error = anyhow::Error::new(signer::Error::NoKey);
        let explained = explain(&error, &Endpoints::default()).await;
        assert!(explained.cause.contains("no signing key"), "{explained}");
        assert!(explained.fix.as_deref().unwrap().contains("PROVA_PRIVATE_KEY"), "{explained}");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let error = anyhow::Error::new(io).context("No such file or directory (os error 2)").context("cannot read x");
        assert_eq!(describe(&error), "cannot read x: No such file or directory (os error 2)");
    }

    #[tokio::test]
    async fn unreachable_endpoints_are_named_without_their_secrets() {
        let source = alloy::transports::TransportErrorKind::custom_str(
            "Max retries exceeded error sending request: tcp connect error: Connection refused (os error 111)",
        );
        let error = anyhow::Error::new(prova_chain::Error::Unreachable(source));
        let explained = explain(&error, &endpoints(&["http://user:pw@127.0.0.1:9/v3/SECRET"], &[])).await;
        assert_eq!(explained.cause, "cannot reach the RPC endpoint http://127.0.0.1:9/<redacted> (connection refused)");
        assert!(!explained.to_string().contains("SECRET") && !explained.to_string().contains("pw"));
        let error = anyhow::Error::new(prova_db::Error::Connect(sqlx::Error::PoolTimedOut));
        let explained = explain(&error, &endpoints(&[], &["postgres://bob:SECRET@127.0.0.1:9/db"])).await;
        assert_eq!(explained.cause, "cannot reach Postgres at 127.0.0.1:9 (no connection in time)");
        assert!(explained.fix.unwrap().contains("DATABASE_URL"));
    }

    #[tokio::test]
    async fn refusals_name_the_sender_and_the_relayer_option() {
        let payload = alloy::rpc::json_rpc::ErrorPayload {
            code: -32003,
            message: "Insufficient funds for gas * price + value".into(),
            data: None,
        };
        let source = alloy::transports::RpcError::ErrorResp(payload);
        let address = Address::repeat_byte(0xab);
        let error = anyhow::Error::new(prova_chain::Error::Rpc { what: "sending".into(), source })
            .context(Sender { address, relayer: Relayer::Available });
        let explained = explain(&error, &Endpoints::default()).await;
        assert!(explained.cause.contains(&address.to_string()), "{explained}");
        assert!(explained.fix.as_deref().unwrap().contains(RELAYER_KEY_ENV), "{explained}");
        // The text alone is enough when a retry loop kept nothing else.
        let error = anyhow::anyhow!("publishing pass failed: server returned an error response: nonce too low");
        let explained = explain(&error, &Endpoints::default()).await;
        assert!(explained.cause.contains("nonce is used already"), "{explained}");
    }
}
