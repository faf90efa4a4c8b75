//! An RPC endpoint's URL, which often holds the provider's API key (in its path, its query or its user info): the
//! form of it that may be shown, a scrubber for text that may repeat it, and [`Http`], the HTTP transport of every
//! connection this crate makes, whose errors and spans never carry the URL.

use std::fmt::Write as _;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use alloy::rpc::json_rpc::{RequestPacket, ResponsePacket};
use alloy::transports::http::reqwest::{self, Url, header};
use alloy::transports::{TransportError, TransportErrorKind, TransportFut, TransportResult};

/// What replaces the secret parts of a URL.
pub const REDACTED: &str = "<redacted>";

/// Parts of a URL shorter than this are not scrubbed from text ("v3", "rpc", "ws" are not keys, and scrubbing them
/// would mangle the message); every part at least this long, and the whole path and query, are.
const SHORTEST_SECRET: usize = 6;

/// The form of an endpoint URL that may be shown (in logs, errors, metrics, API answers): its scheme, host and port.
/// Anything else (a path, a query, a fragment, a user name or password) becomes `/<redacted>`:
/// `https://user:pw@host:8545/v3/KEY?apikey=K` shows as `https://host:8545/<redacted>`.
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else { return format!("{REDACTED} (not a URL)") };
    let mut shown = format!("{}://", parsed.scheme());
    if let Some(host) = parsed.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = parsed.port() {
        let _ = write!(shown, ":{port}");
    }
    let secret = !parsed.username().is_empty()
        || parsed.password().is_some()
        || !matches!(parsed.path(), "" | "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some();
    if secret {
        shown.push('/');
        shown.push_str(REDACTED);
    }
    shown
}

/// `text` with every secret part of `url` (see [`redact_url`]) replaced by `<redacted>`: for text that may repeat
/// the URL, such as an error page that echoes the request or a WebSocket library's error.
pub fn scrub_url(text: &str, url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => Secrets::of(&parsed).scrub(text),
        // Not a URL: the whole string is all there is to hide.
        Err(_) if url.len() >= SHORTEST_SECRET => text.replace(url, REDACTED),
        Err(_) => text.to_owned(),
    }
}

/// The parts of a URL that may hold a key, longest first (so that a part containing another is replaced whole).
#[derive(Clone, Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn of(url: &Url) -> Self {
        let mut parts = vec![url.as_str().to_owned(), url.username().to_owned()];
        parts.extend(url.password().map(str::to_owned));
        if !matches!(url.path(), "" | "/") {
            parts.push(url.path().to_owned());
            parts.extend(url.path().split('/').map(str::to_owned));
        }
        if let Some(query) = url.query() {
            parts.push(query.to_owned());
            parts.extend(query.split('&').flat_map(|pair| pair.split('=')).map(str::to_owned));
        }
        parts.extend(url.fragment().map(str::to_owned));
        // The decoded forms too: a server may echo `%2F` as `/`.
        let decoded: Vec<String> = parts.iter().filter_map(|part| percent_decode(part).filter(|d| d != part)).collect();
        parts.extend(decoded);
        parts.retain(|part| part.len() >= SHORTEST_SECRET);
        parts.sort_by_key(|part| std::cmp::Reverse(part.len()));
        parts.dedup();
        Self(parts)
    }

    fn scrub(&self, text: &str) -> String {
        self.0.iter().fold(text.to_owned(), |text, part| text.replace(part.as_str(), REDACTED))
    }
}

/// `%XX` sequences decoded, or `None` if there are none or they do not decode to UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The HTTP transport of every connection made by this crate. It does what alloy's reqwest transport does, but its
/// errors never carry the URL (reqwest's `error sending request for url (...)` is stripped), it opens no span or log
/// line holding the URL, and a response body kept in an error (an HTTP error page, a malformed answer) has the
/// URL's secret parts scrubbed. Its `Debug` shows [`redact_url`].
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    url: Url,
    secrets: Arc<Secrets>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("url", &redact_url(self.url.as_str())).finish_non_exhaustive()
    }
}

impl Http {
    /// A transport posting to `url` (user info in it is sent as HTTP basic authentication, as reqwest does).
    pub fn new(url: Url) -> Self {
        Self { client: reqwest::Client::new(), secrets: Arc::new(Secrets::of(&url)), url }
    }

    /// Whether the URL names this machine (alloy polls such endpoints more often).
    pub fn is_local(&self) -> bool {
        alloy::transports::utils::guess_local_url(self.url.as_str())
    }

    async fn send(self, request: RequestPacket) -> TransportResult<ResponsePacket> {
        let response = self
            .client
            .post(self.url.clone())
            .json(&request)
            .headers(request.headers())
            .send()
            .await
            .map_err(unsent)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) if !status.is_success() => {
                let body = format!("<failed to read the response body: {}>", e.without_url());
                return Err(TransportErrorKind::http_error_with_retry_after(status.as_u16(), body, retry_after));
            }
            Err(e) => return Err(unsent(e)),
        };
        let text = || self.secrets.scrub(&String::from_utf8_lossy(&body));
        if !status.is_success() {
            // A JSON-RPC error object sent with an HTTP error status is still the node's answer.
            if let Ok(packet) = serde_json::from_slice::<ResponsePacket>(&body)
                && packet.is_error()
            {
                return Ok(packet);
            }
            return Err(TransportErrorKind::http_error_with_retry_after(status.as_u16(), text(), retry_after));
        }
        serde_json::from_slice(&body).map_err(|e| TransportError::deser_err(e, text()))
    }
}

/// A request that failed in transit (connecting, TLS, reading the answer): reqwest's error and its causes in one
/// line, without the URL, so that the line survives alloy's retry layer (which keeps only the text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransitError(String);

fn unsent(error: reqwest::Error) -> TransportError {
    TransportErrorKind::custom(TransitError(crate::rpc::describe(&error.without_url())))
}

impl tower::Service<RequestPacket> for Http {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_url_keeps_scheme_host_and_port_only() {
        assert_eq!(
            redact_url("http://user:pass@127.0.0.1:9/v3/SECRETKEY?apikey=SECRETQ"),
            "http://127.0.0.1:9/<redacted>"
        );
        assert_eq!(
            redact_url("https://eth-mainnet.g.alchemy.com/v2/KEY"),
            "https://eth-mainnet.g.alchemy.com/<redacted>"
        );
        assert_eq!(redact_url("wss://node.example:8546/?token=abc"), "wss://node.example:8546/<redacted>");
        assert_eq!(redact_url("https://user@node.example"), "https://node.example/<redacted>");
        assert_eq!(redact_url("http://[::1]:8545#frag"), "http://[::1]:8545/<redacted>");
        // Nothing secret: shown as is (but for a trailing slash).
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(redact_url("https://rpc.example/"), "https://rpc.example");
        assert_eq!(redact_url("not a url SECRETKEY"), "<redacted> (not a URL)");
    }

    #[test]
    fn scrubbing_removes_every_secret_part_and_keeps_the_rest() {
        let url = "https://produser:SECRETPASS@rpc.example/v3/SECRETKEY?apikey=SECRETQ";
        let text = format!(
            "error for url ({url}): project SECRETKEY with key SECRETQ (SECRETPASS) at /v3/SECRETKEY%3F, v3 rpc.example"
        );
        let scrubbed = scrub_url(&text, url);
        for secret in ["SECRETKEY", "SECRETQ", "SECRETPASS", "produser"] {
            assert!(!scrubbed.contains(secret), "{secret} in {scrubbed}");
        }
        assert!(scrubbed.contains("v3 rpc.example"), "short parts and the host stay: {scrubbed}");
        // Percent-encoded secrets are scrubbed in both forms.
        let url = "https://rpc.example/key%2Fwith%2Fslashes";
        assert_eq!(scrub_url("bad key/with/slashes", url), "bad <redacted>");
        assert_eq!(scrub_url("nothing here", "http://127.0.0.1:8545"), "nothing here");
    }

    /// A connection error's text (and its whole source chain) holds no part of the URL but the host.
    #[tokio::test]
    async fn transport_errors_do_not_carry_the_url() {
        use alloy::providers::Provider;
        let url = "http://produser:SECRETPASS@127.0.0.1:9/v3/SECRETKEY?apikey=SECRETQ";
        let provider = crate::connect_without_retries(url).unwrap();
        let error = provider.get_chain_id().await.unwrap_err();
        let mut text = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let _ = write!(text, " / {cause} {cause:?}");
            source = cause.source();
        }
        for secret in ["SECRETPASS", "SECRETKEY", "SECRETQ", "produser"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("error sending request") && text.contains("onnection refused"), "{text}");
        assert!(format!("{provider:?}").find("SECRET").is_none(), "{provider:?}");
    }
}
