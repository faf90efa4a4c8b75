//! The middleware around every route: request ids, access logs, metrics, panics and stray errors as JSON, CORS,
//! per-client rate limiting, request timeouts, and `ETag` / `Cache-Control` by finality.
//!
//! **Metric labels** come from fixed sets, so no request can add a series: the method is one of `GET`, `POST`,
//! `PUT`, `DELETE`, `HEAD`, `OPTIONS` or `other`; the route is the matched route template or `unmatched`; the status is
//! its class (`2xx`, `3xx`, `4xx`, `5xx`).
//!
//! **Rate-limit clients** are IPv4 addresses and IPv6 `/64` networks ([`rate_limit_key`]).
//!
//! Caching follows the finality of the facts in an answer, as the chain pointers built for it record it
//! ([`record_finality`], a typed value read after the handler ran; the body text is never searched):
//! - any `pending` fact: `Cache-Control: no-store`;
//! - any `confirmed` fact, or no chain fact at all (status, lists of aggregates): `no-cache`, so clients and proxies
//!   revalidate with the `ETag` every time and get a `304 Not Modified` while nothing changed;
//! - only `finalized` facts: `public, max-age=<settled max age>` (default 60 s, `prova serve --cache-max-age-secs`):
//!   the events themselves can no longer change, but the state every answer also carries (a later revocation, a
//!   key compromise, new feedback) still can, and a provenance answer must not hide a revocation for long. An
//!   operator who accepts that can raise the age as far as a year.
//!
//! `confirmations` keeps growing after a fact is finalized; in a cached answer it is a lower bound.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, keccak256};
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use prova_views::Finality;

use crate::error::ApiError;

/// How the API protects itself and tells caches what to keep. [`Default`] is what tests and `prova dev` use:
/// no rate limit, CORS open, 10 s timeout.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Per-client rate limit (a client is an IPv4 address or an IPv6 `/64`); `None` turns it off.
    pub rate_limit: Option<RateLimit>,
    /// Reverse proxies in front of the API that append the address they were reached from to `X-Forwarded-For`.
    /// The rate limit's client is that header's entry this many places from the right; 0 (the default): the
    /// connection's peer, and the header is ignored (anyone can write it).
    pub trusted_proxy_hops: usize,
    /// Origins allowed by CORS; empty means any origin (reads are public).
    pub cors_origins: Vec<HeaderValue>,
    /// Longest a request may run before it is stopped with a 503 `timeout`.
    pub request_timeout: Duration,
    /// `max-age` of answers whose facts are all finalized but whose state can still change.
    pub settled_max_age_secs: u32,
    /// When `/readyz` fails, including the most replica lag accepted ([`Readiness::max_replica_lag`]).
    pub readiness: Readiness,
    /// The canonical ProvenanceRegistry of each chain that has one (`prova serve --canonical-registry`). On such a
    /// chain, the provenance answers (version claims, output batches and lookups, lineage, match, agents' model
    /// bindings) leave out every other registry's facts unless the request names it with `?registry=`. On a chain
    /// without one, every indexed registry's facts are answered side by side, each with its own chain pointer.
    /// Empty by default.
    pub canonical_registries: BTreeMap<u64, Address>,
    /// Publishers whose batches' leaves may be uploaded (`prova serve --upload-publisher`); `None` (the default):
    /// any publisher, as long as the batch's attestor key signs the upload (see `docs/leaf-uploads.md`).
    pub upload_publishers: Option<BTreeSet<Address>>,
    /// Most leaves stored per publisher, over all its uploaded batches; an upload past it is refused with 403
    /// `leaf_quota_exceeded`. Default [`DEFAULT_MAX_LEAVES_PER_PUBLISHER`].
    pub max_leaves_per_publisher: u64,
    /// The explorer's settings: the default RPC endpoint and block-explorer links of each chain
    /// (`prova serve --explorer-rpc`, `--explorer-link`). Empty by default.
    pub explorer: crate::explorer::ExplorerConfig,
}

/// Default of [`ApiConfig::max_leaves_per_publisher`]: ten million leaves, about 5 GB of rows, indexes and trees.
pub const DEFAULT_MAX_LEAVES_PER_PUBLISHER: u64 = 10_000_000;

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_limit: None,
            trusted_proxy_hops: 0,
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(10),
            settled_max_age_secs: 60,
            readiness: Readiness::default(),
            canonical_registries: BTreeMap::new(),
            upload_publishers: None,
            max_leaves_per_publisher: DEFAULT_MAX_LEAVES_PER_PUBLISHER,
            explorer: crate::explorer::ExplorerConfig::default(),
        }
    }
}

/// A per-client token bucket: `per_second` requests a second on average, bursts of up to `burst`. A client is an
/// IPv4 address or an IPv6 `/64` network ([`rate_limit_key`]).
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second per client IP.
    pub per_second: NonZeroU32,
    /// Requests a client may send at once before being limited.
    pub burst: NonZeroU32,
}

/// Thresholds of `/readyz`.
#[derive(Debug, Clone, Copy)]
pub struct Readiness {
    /// Not ready while some indexed contract lags its chain head by more than this many blocks.
    pub max_lag_blocks: u64,
    /// Not ready while some indexer has not seen its chain head for longer than this (it is down or stuck).
    pub max_head_age: Option<Duration>,
    /// With a read replica ([`crate::AppState::with_read_replica`]): not ready while the replica has not replayed
    /// all the WAL the primary has flushed and the last transaction it replayed committed on the primary longer
    /// ago than this (`None`: the lag never makes it unready; an unreachable replica or primary, or a replica out of
    /// recovery, still does). Default [`DEFAULT_MAX_REPLICA_LAG`]. See `docs/replicas.md`.
    pub max_replica_lag: Option<Duration>,
}

/// Default of [`Readiness::max_replica_lag`]: 30 s, the age of answers a reader of a provenance registry can be
/// expected to accept (the indexer itself trails the chain head by seconds).
pub const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(30);

impl Default for Readiness {
    fn default() -> Self {
        Self {
            max_lag_blocks: 64,
            max_head_age: Some(Duration::from_secs(300)),
            max_replica_lag: Some(DEFAULT_MAX_REPLICA_LAG),
        }
    }
}

/// The header carrying each request's id, set by the server unless the client sent one.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The per-client limiter of [`RateLimit`], keyed by [`rate_limit_key`].
#[derive(Debug)]
pub struct Limiter {
    buckets: DefaultKeyedRateLimiter<IpAddr>,
    burst: NonZeroU32,
    checks: AtomicU64,
}

impl Limiter {
    /// A limiter enforcing `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self { buckets: DefaultKeyedRateLimiter::keyed(quota), burst: limit.burst, checks: AtomicU64::new(0) }
    }

    /// `Ok` when the client `ip` belongs to may send a request costing `cost` tokens now (a cost above the burst
    /// is taken as the burst: such a request needs a full bucket), else the whole seconds to wait.
    fn check(&self, ip: IpAddr, cost: NonZeroU32) -> Result<(), u64> {
        let key = rate_limit_key(ip);
        // Forget idle clients now and then, so the table does not grow without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.buckets.retain_recent();
        }
        let cost = cost.min(self.burst);
        match self.buckets.check_key_n(&key, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
            }
            // Cannot happen: the cost is capped at the burst above.
            Err(_) => Err(1),
        }
    }
}

/// Body bytes that cost one rate-limit token ([`request_cost`]).
pub const BYTES_PER_TOKEN: u64 = 64 * 1024;

/// Tokens a reputation score with parameters of its own, or a leaderboard sorted by one, costs ([`request_cost`]).
pub const SCORING_PARAMETERS_COST: u32 = 5;

/// The query parameters that can ask for a score computation of their own (everything but the defaults).
pub(crate) const SCORING_PARAMETERS: [&str; 11] = [
    "tag1",
    "tag2",
    "clients",
    "seeds",
    "prior_mean",
    "prior_weight",
    "half_life_secs",
    "now",
    "alpha",
    "tolerance",
    "max_iterations",
];

/// The rate-limit tokens a request takes, by what it can cost the server (`docs/api-limits.md`, "Rate-limit costs"):
/// - a request with a body (`POST`, `PUT`): one token per started [`BYTES_PER_TOKEN`] of its declared length, at least
///   one; a body of unknown length (chunked) costs as much as the route's largest body; a body declared larger than
///   the route takes costs one, since it is refused unread;
/// - a reputation score or a `sort=reputation` leaderboard with any of [`SCORING_PARAMETERS`]:
///   [`SCORING_PARAMETERS_COST`] (the default parameters are one cached computation shared by everyone);
/// - anything else: one.
pub fn request_cost(request: &Request) -> NonZeroU32 {
    let tokens = |bytes: u64| u32::try_from(bytes.div_ceil(BYTES_PER_TOKEN)).unwrap_or(u32::MAX);
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    let cost = if matches!(*request.method(), Method::POST | Method::PUT) {
        let declared =
            request.headers().get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        let largest = crate::max_body_bytes(route) as u64;
        match declared {
            // Refused unread (413), so it costs the server no more than a lookup.
            Some(length) if length > largest => 1,
            Some(length) => tokens(length),
            None => tokens(largest),
        }
    } else {
        let query = || {
            serde_urlencoded::from_str::<Vec<(String, String)>>(request.uri().query().unwrap_or_default())
                .unwrap_or_default()
        };
        let scored = match route {
            Some("/v1/agents/{chain_id}/{agent_id}/reputation") => Some(query()),
            Some("/v1/agents") => {
                Some(query()).filter(|pairs| pairs.iter().any(|(k, v)| k == "sort" && v == "reputation"))
            }
            _ => None,
        };
        if scored.is_some_and(|pairs| pairs.iter().any(|(key, _)| SCORING_PARAMETERS.contains(&key.as_str()))) {
            SCORING_PARAMETERS_COST
        } else {
            1
        }
    };
    NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN)
}

/// The client a request is counted under by the rate limit: an IPv4 address as it is; an IPv6 address by its `/64`
/// network, since one subscriber or host commonly holds a whole `/64` (SLAAC, privacy addresses) and can send each
/// request from a new address in it; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address.
pub fn rate_limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// Labels of one request in the metrics; every value comes from a fixed set (see the module documentation).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's path pattern (`/v1/model-versions/{version_hash}`), or `unmatched`.
    pub route: String,
    /// [`method_label`].
    pub method: &'static str,
    /// [`status_label`].
    pub status: &'static str,
}

/// The metric label of `method`: its name if it is one the API serves, else `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The metric label of `status`: its class, `1xx` to `5xx`.
pub fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        ..200 => "1xx",
        200..300 => "2xx",
        300..400 => "3xx",
        400..500 => "4xx",
        _ => "5xx",
    }
}

/// Labels of the in-flight gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's path pattern, or `unmatched`.
    pub route: String,
}

type LatencyHistogram = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// The API's Prometheus metrics, served at `/metrics`.
#[derive(Debug)]
pub struct ApiMetrics {
    /// Requests answered, by route, method and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// Time to answer, by route, method and status class.
    pub latency: LatencyHistogram,
    /// Requests being served, by route.
    pub in_flight: Family<RouteLabels, Gauge>,
    /// Requests refused by the rate limiter.
    pub rate_limited: Counter,
    /// Lookups of the response cache ([`crate::cache`]), by result.
    pub response_cache: Family<CacheLabels, Counter>,
    registry: Registry,
}

/// What the response cache did with a request.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelValue)]
pub enum CacheResult {
    /// Answered from the cache.
    Hit,
    /// Answered by the database, and stored.
    Miss,
    /// Answered by the database because the cache is not following the database's commits right now.
    Bypass,
}

/// Labels of a response-cache lookup.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// What the cache did.
    pub result: CacheResult,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyHistogram =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0002, 2.0, 16)));
        let in_flight = Family::<RouteLabels, Gauge>::default();
        let rate_limited = Counter::default();
        let mut registry = Registry::with_prefix("prova_api");
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", latency.clone());
        registry.register("http_requests_in_flight", "HTTP requests being served", in_flight.clone());
        registry.register("rate_limited_requests", "Requests refused by the per-IP rate limit", rate_limited.clone());
        let response_cache = Family::<CacheLabels, Counter>::default();
        registry.register("response_cache_lookups", "Lookups of the in-process response cache", response_cache.clone());
        Self { requests, latency, in_flight, rate_limited, response_cache, registry }
    }
}

impl ApiMetrics {
    /// Counts one response-cache lookup.
    pub fn count_cache(&self, result: CacheResult) {
        self.response_cache.get_or_create(&CacheLabels { result }).inc();
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Records every request in [`ApiMetrics`], under its route pattern.
pub async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(request.method());
    let gauge = state.metrics.in_flight.get_or_create(&RouteLabels { route: route.clone() }).clone();
    gauge.inc();
    let started = Instant::now();
    let response = next.run(request).await;
    gauge.dec();
    let labels = RequestLabels { route, method, status: status_label(response.status()) };
    state.metrics.latency.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    state.metrics.requests.get_or_create(&labels).inc();
    response
}

/// Refuses a client past its rate with a 429 and `Retry-After`. Probes (`/healthz`, `/readyz`, `/metrics`) are
/// never limited. The client is the connection's peer address, or the one trusted proxies forwarded ([`client_ip`]),
/// counted per IPv4 address or IPv6 `/64` ([`rate_limit_key`]).
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiter) = &state.limiter else {
        return next.run(request).await;
    };
    if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip());
    let ip = client_ip(peer, request.headers(), state.config.trusted_proxy_hops);
    match limiter.check(ip, request_cost(&request)) {
        Ok(()) => next.run(request).await,
        Err(retry_after_secs) => {
            state.metrics.rate_limited.inc();
            ApiError::TooManyRequests { retry_after_secs: retry_after_secs.max(1) }.into_response()
        }
    }
}

/// The client behind `hops` trusted reverse proxies: the `X-Forwarded-For` entry `hops` places from the right
/// (each proxy appends the address it was reached from, so entries further left are the client's to write). With
/// fewer entries than hops, the leftmost; with no usable header or no hops, the connection's `peer`.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, hops: usize) -> IpAddr {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let Some(entry) = entries.len().checked_sub(hops).map_or(entries.first(), |i| entries.get(i)) else {
        return peer;
    };
    entry.parse().unwrap_or(peer)
}

/// Stops a request that runs past [`ApiConfig::request_timeout`] with a JSON 503 `timeout`.
pub async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs().max(1)).into_response(),
    }
}

/// Turns any error answer that is not already our JSON (from a layer or a library) into the one error shape.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let mut replaced = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound("no such route".into()),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("request body is larger than this route accepts".into())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType("unsupported request body type".into()),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        status if status.is_client_error() => {
            ApiError::bad_request("bad_request", status.canonical_reason().unwrap_or("bad request"))
        }
        status => ApiError::Internal(format!("unexpected {status} from a layer")),
    }
    .into_response();
    *replaced.status_mut() = status;
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(value) = response.headers().get(&name) {
            replaced.headers_mut().insert(name, value.clone());
        }
    }
    replaced
}

/// A panic in a handler becomes a JSON 500; the panic message is logged, not returned.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("handler panicked");
    ApiError::Internal(format!("panic: {detail}")).into_response()
}

tokio::task_local! {
    /// The least final of the facts put into the answer being built (see [`record_finality`]).
    static LEAST_FINAL: Cell<Option<Finality>>;
}

/// Records that the answer being built states a fact of `finality`, for its `Cache-Control`; returns it. Every chain
/// pointer the API answers with is built by `PointerRow::view`, which calls this, so the cache layer learns the
/// finality of an answer from the typed values that make it, never from its text. Outside a request (tests that
/// build views directly) it records nothing.
pub fn record_finality(finality: Finality) -> Finality {
    let _ = LEAST_FINAL.try_with(|least| least.set(Some(least.get().map_or(finality, |l| l.min(finality)))));
    finality
}

/// Largest answer given an `ETag` (and buffered to compute it); larger ones stream with `Cache-Control` only.
const MAX_ETAG_BODY: usize = 64 * 1024 * 1024;

/// Adds `ETag` and `Cache-Control` to successful `GET`/`HEAD` answers (see the module docs), and answers
/// `If-None-Match` with `304 Not Modified`. Error answers get `Cache-Control: no-store`. The policy comes from the
/// finality the handler's facts recorded ([`record_finality`]).
pub async fn cache_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cacheable = matches!(*request.method(), Method::GET | Method::HEAD);
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let (response, least_final) = LEAST_FINAL
        .scope(Cell::new(None), async {
            let response = next.run(request).await;
            (response, LEAST_FINAL.with(Cell::get))
        })
        .await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    if !cacheable || response.status() != StatusCode::OK {
        return with_cache_control(response, HeaderValue::from_static("no-store"));
    }
    let policy = cache_policy(least_final, state.config.settled_max_age_secs);
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ETAG_BODY).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return ApiError::Internal(format!("reading an answer: {error}")).into_response();
        }
    };
    let digest = keccak256(&bytes);
    let etag =
        HeaderValue::try_from(format!("\"{}\"", alloy::hex::encode(&digest[..16]))).expect("hex is a valid header");
    parts.headers.insert(header::ETAG, etag.clone());
    parts.headers.insert(header::CACHE_CONTROL, policy);
    if if_none_match.is_some_and(|value| matches_etag(&value, &etag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn with_cache_control(mut response: Response, value: HeaderValue) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, value);
    response
}

/// The `Cache-Control` of an answer whose least final fact is `least_final` (`None`: it states no chain fact).
fn cache_policy(least_final: Option<Finality>, settled_max_age_secs: u32) -> HeaderValue {
    match least_final {
        Some(Finality::Pending) => HeaderValue::from_static("no-store"),
        Some(Finality::Confirmed) | None => HeaderValue::from_static("no-cache"),
        Some(Finality::Finalized) => {
            HeaderValue::try_from(format!("public, max-age={settled_max_age_secs}")).expect("a valid header")
        }
    }
}

/// Whether an `If-None-Match` header names `etag` (weak comparison, as RFC 9110 asks for this header).
pub(crate) fn matches_etag(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    list.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// CORS: any origin by default (the API is public and read-mostly, no credentials), or only `origins`.
pub fn cors(origins: &[HeaderValue]) -> CorsLayer {
    let allow = if origins.is_empty() { AllowOrigin::any() } else { AllowOrigin::list(origins.iter().cloned()) };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::IF_NONE_MATCH, REQUEST_ID])
        .expose_headers([header::ETAG, header::RETRY_AFTER, REQUEST_ID])
        .max_age(Duration::from_secs(3600))
}
