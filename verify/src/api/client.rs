//! A prova API read as an auditor reads it: every answer is data to check, parsed into the `prova-views` type the
//! API serializes for that route, and every failure to get one is an error that says so (unreachable, refused, not
//! that type), so that "could not check" is never mistaken for a verdict.
//!
//! One [`ApiClient`] holds one HTTP client (one connection pool, one [`TIMEOUT`]) for every call of an audit. A
//! list is walked page by page as `Page<Value>`, and each item is then parsed on its own: an item that is not what
//! the route promises becomes an [`UnreadableItem`], which the audit reports as a difference of that fact, while
//! the rest of the list is still checked.

use std::time::Duration;

use prova_views::{Agent, AgentItem, FeedbackItem, ModelVersion, OutputBatch, Page, Publisher, Reputation, Status};
use prova_views::{ValidationItem, ValidationPage};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How long one request to the API may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Most times one request waits out a 429 (rate limited) before the audit gives up.
const MAX_RATE_LIMIT_WAITS: u32 = 30;

/// Most pages walked of one list (at the API's largest page size, far more items than any audit samples).
const MAX_PAGES: usize = 100_000;

/// The largest page size the API serves.
const PAGE_SIZE: &str = "200";

/// The HTTP client every call to an API goes through: [`TIMEOUT`] per request. Build it once and share it (a
/// `reqwest::Client` is a handle on one connection pool).
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|source| Error::Api { what: "cannot set up the HTTP client".into(), source: Some(source) })
}

/// An API answer type the auditor reads: a `prova-views` type, named in words for the errors that say an answer
/// is not one.
pub trait View: DeserializeOwned {
    /// What the answer is, with its article (e.g. `a model version`).
    const NAME: &'static str;
}

macro_rules! views {
    ($($ty:ty => $name:literal),* $(,)?) => {
        $(impl View for $ty {
            const NAME: &'static str = $name;
        })*
    };
}

views! {
    Status => "a status answer",
    ModelVersion => "a model version",
    OutputBatch => "an output batch",
    Publisher => "a publisher",
    AgentItem => "an agent of a list",
    Agent => "an agent",
    FeedbackItem => "a feedback entry",
    ValidationItem => "a validation request",
    ValidationPage => "a page of validation requests",
    Reputation => "a reputation answer",
}

impl<T: DeserializeOwned> View for Page<T> {
    const NAME: &'static str = "a page (items and next_cursor)";
}

/// A successful answer, not yet parsed.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The URL asked.
    pub url: String,
    /// The body.
    pub text: String,
}

impl Answer {
    /// The answer as `T`, or [`Error::Unreadable`] naming the URL and why it is not one.
    pub fn parse<T: View>(&self) -> Result<T> {
        serde_json::from_str(&self.text).map_err(|e| Error::Unreadable {
            url: self.url.clone(),
            expected: T::NAME,
            reason: e.to_string(),
        })
    }
}

/// An item of a list that is not what the route promises; the rest of the list is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableItem {
    /// The list's path (e.g. `/v1/model-versions`).
    pub list: String,
    /// The item's position in the list, from 0.
    pub position: usize,
    /// What it should have been (e.g. `a model version`).
    pub expected: &'static str,
    /// Why it is not (the JSON parser's message).
    pub reason: String,
}

/// An item of a list: parsed, or why not.
pub type Listed<T> = std::result::Result<T, UnreadableItem>;

/// The body of the API's error answers (`{ "error": { "code", "message" } }`), read for its message only.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

/// What failed, in words.
#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: String,
}

/// A prova API, read through one HTTP client.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// The API at `base` (e.g. `http://127.0.0.1:8080`), with its own HTTP client ([`http_client`]).
    pub fn new(base: &str) -> Result<Self> {
        Self::with_client(base, http_client()?)
    }

    /// The API at `base`, read through `http` (a client shared with the caller's other requests).
    pub fn with_client(base: &str, http: reqwest::Client) -> Result<Self> {
        let base = base.trim_end_matches('/').to_owned();
        Url::parse(&base).map_err(|e| Error::Api { what: format!("invalid API URL {base:?}: {e}"), source: None })?;
        Ok(Self { base, http })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GETs `path` with `query`: `None` on a 404, the answer on a success; any other status is an error.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Option<Answer>> {
        let (url, status, text) = self.request(path, query).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        refused(&url, status, &text)?;
        Ok(Some(Answer { url: url.to_string(), text }))
    }

    /// GETs `path` with `query`: the answer on a success; any other status, a 404 included, is an error.
    pub async fn get_found(&self, path: &str, query: &[(&str, String)]) -> Result<Answer> {
        let (url, status, text) = self.request(path, query).await?;
        refused(&url, status, &text)?;
        Ok(Answer { url: url.to_string(), text })
    }

    /// GETs `path` and parses the answer as `T`: `None` on a 404.
    pub async fn get_view<T: View>(&self, path: &str, query: &[(&str, String)]) -> Result<Option<T>> {
        self.get(path, query).await?.map(|answer| answer.parse()).transpose()
    }

    /// Every item of a paginated list (`items` and `next_cursor`: `Page<T>`, `FeedbackPage`, `ValidationPage`,
    /// `AgentsPage`), walking `next_cursor` with the largest page size, each item parsed as `T` on its own. A 404
    /// means the API has no such list, and a page that is not a page is unreadable: both are errors.
    pub async fn list<T: View>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Listed<T>>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("limit", PAGE_SIZE.into()));
            if let Some(cursor) = &cursor {
                q.push(("cursor", cursor.clone()));
            }
            let Some(answer) = self.get(path, &q).await? else {
                return Err(Error::Api {
                    what: format!("the API at {} has no list GET {path} (HTTP 404); is it an older prova?", self.base),
                    source: None,
                });
            };
            let page: Page<serde_json::Value> = answer.parse()?;
            let empty = page.items.is_empty();
            for item in page.items {
                let position = items.len();
                items.push(serde_json::from_value::<T>(item).map_err(|e| UnreadableItem {
                    list: path.to_owned(),
                    position,
                    expected: T::NAME,
                    reason: e.to_string(),
                }));
            }
            match page.next_cursor {
                Some(next) if Some(&next) != cursor.as_ref() && !empty => cursor = Some(next),
                Some(_) => {
                    return Err(Error::Api {
                        what: format!(
                            "the API's GET {path} pagination does not advance (same cursor, or an empty page with a \
                             cursor)"
                        ),
                        source: None,
                    });
                }
                None => return Ok(items),
            }
        }
        Err(Error::Api { what: format!("the API's GET {path} has more than {MAX_PAGES} pages"), source: None })
    }

    /// Sends one GET, waiting out rate limits: the URL, the status and the body.
    async fn request(&self, path: &str, query: &[(&str, String)]) -> Result<(Url, StatusCode, String)> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| Error::Api { what: format!("invalid API path {path}: {e}"), source: None })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut waits = 0;
        let response = loop {
            let response = self.http.get(url.clone()).send().await.map_err(|source| Error::Api {
                what: format!("cannot reach the API at {} (GET {path})", self.base),
                source: Some(source),
            })?;
            // A rate-limited API says when to come back; an audit waits rather than fail.
            if response.status() == StatusCode::TOO_MANY_REQUESTS && waits < MAX_RATE_LIMIT_WAITS {
                let secs = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .unwrap_or(1)
                    .clamp(1, 60);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                waits += 1;
                continue;
            }
            break response;
        };
        let status = response.status();
        let text = response.text().await.map_err(|source| Error::Api {
            what: format!("cannot read the API's answer to {url}"),
            source: Some(source),
        })?;
        Ok((url, status, text))
    }
}

/// An error for an answer that is not a success, with the API's message (or the start of the body).
fn refused(url: &Url, status: StatusCode, text: &str) -> Result<()> {
    if status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_str::<ErrorBody>(text)
        .map_or_else(|_| text.chars().take(200).collect(), |body| body.error.message);
    Err(Error::Api { what: format!("the API refused {url} (HTTP {status}): {message}"), source: None })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An HTTP server on loopback that answers each request with the next of `answers` (status, body), and the
    /// request lines it saw.
    fn serve(answers: Vec<(u16, String)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (status, body) in answers {
                let Ok((mut socket, _)) = listener.accept() else { return };
                let mut request = vec![0u8; 8192];
                let n = socket.read(&mut request).unwrap_or(0);
                let line = String::from_utf8_lossy(&request[..n]).lines().next().unwrap_or_default().to_owned();
                log.lock().unwrap().push(line);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: \
                     close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes());
            }
        });
        (base, seen)
    }

    fn version(hash: u8) -> serde_json::Value {
        serde_json::json!({
            "version_hash": format!("0x{}", format!("{hash:02x}").repeat(32)),
            "model_id": format!("0x{}", "01".repeat(32)),
            "parent": null,
            "publisher": format!("0x{}", "02".repeat(20)),
            "publisher_name": "Lab",
            "attestor": format!("0x{}", "03".repeat(20)),
            "metadata_uri": "ipfs://m",
            "metadata_hash": null,
            "registered_at": "2023-11-14T22:13:20Z", "committed_at": null, "committed_block": null, "priority_block": 5,
            "signed_by_compromised_key": false,
            "revocation": null,
            "chain": {
                "chain_id": 31337, "contract": format!("0x{}", "04".repeat(20)), "block_number": 5,
                "block_hash": format!("0x{}", "05".repeat(32)), "block_time": "2023-11-14T22:13:20Z",
                "tx_hash": format!("0x{}", "06".repeat(32)), "log_index": 0, "confirmations": 1,
                "finality": "confirmed",
            },
        })
    }

    #[tokio::test]
    async fn lists_are_walked_and_a_bad_item_is_named_not_fatal() {
        let mut broken = version(8);
        broken.as_object_mut().unwrap().remove("metadata_uri");
        let page1 = serde_json::json!({ "items": [version(7), broken], "next_cursor": "c1" });
        let page2 = serde_json::json!({ "items": [version(9)], "next_cursor": null });
        let (base, seen) = serve(vec![(200, page1.to_string()), (200, page2.to_string())]);
        let api = ApiClient::new(&format!("{base}/")).unwrap();
        let items = api.list::<ModelVersion>("/v1/model-versions", &[("chain_id", "31337".into())]).await.unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap().version_hash, alloy::primitives::B256::repeat_byte(7));
        let bad = items[1].as_ref().unwrap_err();
        assert_eq!((bad.list.as_str(), bad.position, bad.expected), ("/v1/model-versions", 1, "a model version"));
        assert!(bad.reason.contains("metadata_uri"), "{}", bad.reason);
        assert!(items[2].is_ok());
        let seen = seen.lock().unwrap().clone();
        assert!(seen[0].starts_with("GET /v1/model-versions?chain_id=31337&limit=200 "), "{seen:?}");
        assert!(seen[1].contains("&cursor=c1 "), "{seen:?}");
    }

    #[tokio::test]
    async fn refusals_and_unreadable_answers_are_errors() {
        let (base, _) = serve(vec![
            (404, r#"{"error":{"code":"not_found","message":"no such thing"}}"#.into()),
            (500, r#"{"error":{"code":"internal","message":"internal error"}}"#.into()),
            (200, r#"{"chains": 3}"#.into()),
            (200, r#"{"items": 3}"#.into()),
            (404, r#"{"error":{"code":"not_found","message":"agent 9 is not registered"}}"#.into()),
        ]);
        let api = ApiClient::new(&base).unwrap();
        assert!(api.get("/v1/publishers/0x01", &[]).await.unwrap().is_none());
        let error = api.get("/v1/status", &[]).await.unwrap_err().to_string();
        assert!(error.contains("HTTP 500") && error.contains("internal error"), "{error}");
        let error = api.get_view::<Status>("/v1/status", &[]).await.unwrap_err().to_string();
        assert!(error.contains("/v1/status is not a status answer: invalid type"), "{error}");
        let error = api.list::<ModelVersion>("/v1/model-versions", &[]).await.unwrap_err();
        assert!(matches!(error, Error::Unreadable { expected: "a page (items and next_cursor)", .. }), "{error}");
        let error = api.get_found("/v1/agents/1/9/reputation", &[]).await.unwrap_err().to_string();
        assert!(error.contains("HTTP 404") && error.contains("agent 9 is not registered"), "{error}");
    }
}
