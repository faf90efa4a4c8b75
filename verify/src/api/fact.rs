//! One checked fact and its differences ([`Fact`]), the kinds of facts ([`Kind`]), and how an API value compares
//! with a chain value: both are rendered as the API writes them in JSON (addresses and hashes lowercase hex, times
//! RFC 3339, uint256 and int128 as decimal strings), so that a difference reads `api X != chain Y` with X exactly
//! as the API wrote it.
//!
//! API values arrive typed (the `prova-views` fields); chain values are converted to the same type before the
//! comparison ([`ApiValue`]), so a field renamed or retyped in `prova-views` fails to compile here.

use std::fmt;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use chrono::{DateTime, Utc};
use prova_views::{ChainPointer, KeyStatus, ModelStatus};
use serde::{Serialize, Serializer};

use crate::api::client::UnreadableItem;
use crate::audit::{ChainReader, Difference, Pointer};
use crate::error::{Error, Result};

/// The kinds of facts an audit checks, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A model version's registration (`GET /v1/model-versions`).
    ModelVersion,
    /// An output batch's anchoring (`GET /v1/output-batches`).
    OutputBatch,
    /// A publisher of a listed version or batch (`GET /v1/publishers/{address}`).
    Publisher,
    /// An attestor key of a checked publisher.
    AttestorKey,
    /// An ERC-8004 agent (`GET /v1/agents`, then `GET /v1/agents/{chain_id}/{agent_id}`).
    Agent,
    /// A feedback entry of a checked agent.
    Feedback,
    /// A validation request of a checked agent.
    Validation,
    /// A checked agent's reputation score under one algorithm.
    Reputation,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 8] = [
        Self::ModelVersion,
        Self::OutputBatch,
        Self::Publisher,
        Self::AttestorKey,
        Self::Agent,
        Self::Feedback,
        Self::Validation,
        Self::Reputation,
    ];

    /// The kind's name for one fact (`model version`), as a mismatch names it.
    pub fn singular(self) -> &'static str {
        match self {
            Self::ModelVersion => "model version",
            Self::OutputBatch => "output batch",
            Self::Publisher => "publisher",
            Self::AttestorKey => "attestor key",
            Self::Agent => "agent",
            Self::Feedback => "feedback",
            Self::Validation => "validation",
            Self::Reputation => "reputation",
        }
    }

    /// The kind's name for many facts (`model versions`), as the summary names it.
    pub fn plural(self) -> &'static str {
        match self {
            Self::ModelVersion => "model versions",
            Self::OutputBatch => "output batches",
            Self::Publisher => "publishers",
            Self::AttestorKey => "attestor keys",
            Self::Agent => "agents",
            Self::Feedback => "feedback",
            Self::Validation => "validations",
            Self::Reputation => "reputation scores",
        }
    }

    /// Serializes the kind as [`Kind::singular`].
    pub(crate) fn serialize_singular<S: Serializer>(kind: &Kind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.singular())
    }

    /// Serializes the kind as [`Kind::plural`].
    pub(crate) fn serialize_plural<S: Serializer>(kind: &Kind, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(kind.plural())
    }
}

/// One checked fact and how the API's statement of it differs from the chain (no differences: it matches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// What kind of fact.
    #[serde(serialize_with = "Kind::serialize_singular")]
    pub kind: Kind,
    /// Which one: a version hash, a batch root, an address, `agent 7 client 0x… #2`, `request 0x…`,
    /// `agent 7 mean`, or `item N of /v1/…` for a list item that could not be read.
    pub id: String,
    /// Every field where the API and the chain disagree, in the order checked.
    pub differences: Vec<Difference>,
}

impl Fact {
    /// A fact with no difference yet.
    pub(crate) fn new(kind: Kind, id: impl fmt::Display) -> Self {
        Self { kind, id: id.to_string(), differences: Vec::new() }
    }

    /// A list item that is not what its route promises: one difference, `(answer)`, and nothing checked.
    pub(crate) fn unreadable_item(kind: Kind, item: &UnreadableItem) -> Self {
        let mut f = Self::new(kind, format!("item {} of {}", item.position, item.list));
        f.unreadable("(answer)", item.expected, &item.reason);
        f
    }

    /// Whether the API and the chain agree on every field checked.
    pub fn matches(&self) -> bool {
        self.differences.is_empty()
    }

    /// Records that the API says `api` where the chain says `chain`.
    pub(crate) fn differ(&mut self, field: impl Into<String>, api: impl ToString, chain: impl ToString) {
        self.differences.push(Difference::new(field, api, chain));
    }

    /// Records that the API's answer for `field` is not `expected` (so nothing in it was checked).
    pub(crate) fn unreadable(&mut self, field: &str, expected: &str, reason: &str) {
        self.differ(field, format!("not {expected} ({reason})"), "(not checked)");
    }

    /// An answer of the API, or `None` after recording in `field` that it is not the type expected. Other errors
    /// (the API could not be asked) are passed on.
    pub(crate) fn readable<T>(&mut self, field: &str, answer: Result<T>) -> Result<Option<T>> {
        match answer {
            Ok(value) => Ok(Some(value)),
            Err(Error::Unreadable { expected, reason, .. }) => {
                self.unreadable(field, expected, &reason);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Compares the API's value of `field` with the chain's.
    pub(crate) fn field<T: ApiValue>(&mut self, field: &str, api: &T, chain: T) {
        if *api != chain {
            self.differ(field, api.render(), chain.render());
        }
    }

    /// Compares a value the API writes as text (an int128 as a decimal string) with the chain's: text that does not
    /// parse as `T` differs too.
    pub(crate) fn parsed<T: ApiValue + std::str::FromStr>(&mut self, field: &str, api: &str, chain: T) {
        match api.parse::<T>() {
            Ok(stated) if stated == chain => {}
            _ => self.differ(field, json(api), chain.render()),
        }
    }

    /// A view call's answer, or `None` after recording what the contract answered instead (a revert) as the chain's
    /// value of `field`, against the API's value `api`.
    pub(crate) fn answer<T>(
        &mut self,
        field: &str,
        api: &impl Serialize,
        answer: std::result::Result<T, String>,
    ) -> Option<T> {
        match answer {
            Ok(value) => Some(value),
            Err(instead) => {
                self.differ(field, json(api), format!("the contract {instead}"));
                None
            }
        }
    }

    /// Reads the log at the API's chain pointer `pointer` (its `{prefix}chain`), recording every difference in the
    /// pointer; `pin` is the contract it must be from, if pinned.
    pub(crate) async fn log(
        &mut self,
        chain: &ChainReader,
        prefix: &str,
        pointer: &ChainPointer,
        pin: Option<Address>,
    ) -> Result<Option<Located>> {
        let p = Pointer::from(pointer);
        if let Some(pin) = pin
            && pin != p.contract
        {
            self.differ(
                format!("{prefix}chain.contract"),
                Json(p.contract),
                format!("{} (the pinned contract)", Json(pin)),
            );
        }
        let log = chain.log_at(&p, &format!("{prefix}chain."), &mut self.differences).await?;
        let Some(log) = log else { return Ok(None) };
        let block_number = log.block_number.unwrap_or(p.block_number);
        let block_time = chain.block(block_number).await?.map_or(0, |(_, time)| time);
        Ok(Some(Located { log, block_time }))
    }

    /// [`Fact::log`], decoded as `E`; a log of another event is a difference in `{prefix}chain.event`.
    pub(crate) async fn event<E: SolEvent>(
        &mut self,
        chain: &ChainReader,
        prefix: &str,
        pointer: &ChainPointer,
        pin: Option<Address>,
    ) -> Result<Option<(E, Located)>> {
        let Some(located) = self.log(chain, prefix, pointer, pin).await? else { return Ok(None) };
        match prova_chain::decode::<E>(&located.log) {
            Some(event) => Ok(Some((event, located))),
            None => {
                self.differ(
                    format!("{prefix}chain.event"),
                    Json(E::SIGNATURE),
                    prova_chain::describe_log(&located.log),
                );
                Ok(None)
            }
        }
    }

    /// Checks the API's revocation (`stated`, null or an object whose chain pointer is `pointer`) against the
    /// contract's `revokedAt` (0: not revoked); for a revocation the API shows, checks its event at its pointer and
    /// returns it, for the caller to compare its fields.
    pub(crate) async fn revocation<E: SolEvent>(
        &mut self,
        chain: &ChainReader,
        stated: &impl Serialize,
        pointer: Option<&ChainPointer>,
        revoked_at: u64,
        pin: Option<Address>,
    ) -> Result<Option<E>> {
        match (pointer, revoked_at) {
            (None, 0) => Ok(None),
            (None, at) => {
                self.differ("revocation", json(stated), format!("revoked at {}", Json(Time::unix(at))));
                Ok(None)
            }
            (Some(_), 0) => {
                self.differ("revocation", json(stated), "null (not revoked)");
                Ok(None)
            }
            (Some(pointer), _) => {
                let revoked = self.event::<E>(chain, "revocation.", pointer, pin).await?;
                Ok(revoked.map(|(event, _)| event))
            }
        }
    }
}

/// A log found at a pointer, with its block time.
#[derive(Debug)]
pub(crate) struct Located {
    /// The log.
    pub(crate) log: Log,
    /// Its block's time, unix seconds (0 if the block is gone).
    pub(crate) block_time: u64,
}

impl Located {
    /// The emitting contract.
    pub(crate) fn contract(&self) -> Address {
        self.log.address()
    }
}

/// A value as the API writes it in JSON, so that an API value and a chain value compare and print alike.
pub(crate) trait ApiValue: PartialEq {
    /// The value as JSON text, exactly as the API writes it.
    fn render(&self) -> String;
}

/// A value as JSON text (what the API wrote, for a `prova-views` value).
pub(crate) fn json(value: &(impl Serialize + ?Sized)) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("(unprintable: {e})"))
}

/// Values the API writes with their own `Serialize` (strings, numbers, booleans, lowercase hex, enums).
macro_rules! serialized {
    ($($ty:ty),* $(,)?) => {
        $(impl ApiValue for $ty {
            fn render(&self) -> String {
                json(self)
            }
        })*
    };
}

serialized!(String, &'static str, Address, Vec<Address>, B256, u64, u8, i64, bool, KeyStatus, ModelStatus);

/// A uint256, as a decimal string (an agent id).
impl ApiValue for U256 {
    fn render(&self) -> String {
        format!("\"{self}\"")
    }
}

/// An int128, as a decimal string (a feedback value).
impl ApiValue for i128 {
    fn render(&self) -> String {
        format!("\"{self}\"")
    }
}

impl<T: ApiValue> ApiValue for Option<T> {
    fn render(&self) -> String {
        self.as_ref().map_or_else(|| "null".into(), ApiValue::render)
    }
}

/// Renders a chain value as the API would write it.
pub(crate) struct Json<T>(pub(crate) T);

impl<T: ApiValue> fmt::Display for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.render())
    }
}

/// A block time, to the second: RFC 3339 in the API (any fraction dropped), unix seconds on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time(i64);

impl Time {
    /// A chain time, unix seconds.
    pub(crate) fn unix(secs: u64) -> Self {
        Self(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

impl From<DateTime<Utc>> for Time {
    fn from(time: DateTime<Utc>) -> Self {
        Self(time.timestamp())
    }
}

impl ApiValue for Time {
    fn render(&self) -> String {
        match DateTime::from_timestamp(self.0, 0) {
            Some(time) => format!("\"{}\"", time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            None => format!("\"unix time {}\"", self.0),
        }
    }
}

/// A mean, equal when within floating-point noise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mean(pub(crate) Option<f64>);

impl PartialEq for Mean {
    fn eq(&self, other: &Self) -> bool {
        match (self.0, other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            _ => false,
        }
    }
}

impl ApiValue for Mean {
    fn render(&self) -> String {
        json(&self.0)
    }
}

/// `None` for zero.
pub(crate) fn nonzero_hash(hash: B256) -> Option<B256> {
    (!hash.is_zero()).then_some(hash)
}

/// `None` for the zero address.
pub(crate) fn nonzero_address(address: Address) -> Option<Address> {
    (!address.is_zero()).then_some(address)
}

#[cfg(test)]
mod tests {
    use prova_views::{AgentRef, AttestorKey, ModelVersion};

    use super::*;

    fn pointer() -> serde_json::Value {
        serde_json::json!({
            "chain_id": 31337, "contract": "0x5fbdb2315678afecb367f032d93f642f64180aa3", "block_number": 5,
            "block_hash": format!("0x{}", "11".repeat(32)), "block_time": "2023-11-14T22:13:20Z",
            "tx_hash": format!("0x{}", "22".repeat(32)), "log_index": 3, "confirmations": 2, "finality": "confirmed",
        })
    }

    #[test]
    fn fields_compare_as_the_api_writes_them() {
        let mut f = Fact::new(Kind::ModelVersion, "0xab");
        f.field("parent", &None::<B256>, None);
        f.parsed("value", "-12", -12i128);
        let at: DateTime<Utc> = "2023-11-14T22:13:20.25Z".parse().unwrap();
        f.field("registered_at", &Time::from(at), Time::unix(1_700_000_000));
        f.field("average", &Mean(Some(85.0)), Mean(Some(85.000_000_000_000_01)));
        f.field("status", &KeyStatus::Compromised, KeyStatus::Compromised);
        assert!(f.matches(), "{:?}", f.differences);

        f.field("metadata_uri", &"ipfs://x".to_owned(), "ipfs://y".to_owned());
        f.field("parent", &None, Some(B256::repeat_byte(1)));
        f.field("leaf_count", &7u64, 8);
        f.parsed("value", "12.5", 12i128);
        f.field("model.status", &ModelStatus::Registered, ModelStatus::SignedByCompromisedKey);
        f.field("average_response", &Mean(Some(87.0)), Mean(None));
        let shown: Vec<String> =
            f.differences.iter().map(|d| format!("{}: api {} != chain {}", d.field, d.stated, d.chain)).collect();
        assert_eq!(shown[0], r#"metadata_uri: api "ipfs://x" != chain "ipfs://y""#);
        assert_eq!(shown[1], format!("parent: api null != chain \"0x{}\"", "01".repeat(32)));
        assert_eq!(shown[2], "leaf_count: api 7 != chain 8");
        assert_eq!(shown[3], r#"value: api "12.5" != chain "12""#);
        assert_eq!(shown[4], r#"model.status: api "registered" != chain "signed_by_compromised_key""#);
        assert_eq!(shown[5], "average_response: api 87.0 != chain null");
    }

    /// What a difference shows as the API's value is what the API wrote: each rendering equals the view type's
    /// own serialization.
    #[test]
    fn api_values_render_as_the_views_serialize() {
        let version: ModelVersion = serde_json::from_value(serde_json::json!({
            "version_hash": format!("0x{}", "ab".repeat(32)), "model_id": format!("0x{}", "cd".repeat(32)),
            "parent": null, "publisher": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "publisher_name": "Lab",
            "attestor": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "metadata_uri": "ipfs://m",
            "metadata_hash": null, "registered_at": "2023-11-14T22:13:20Z", "committed_at": null, "committed_block": null, "priority_block": 5, "signed_by_compromised_key": false,
            "revocation": null, "chain": pointer(),
        }))
        .unwrap();
        assert_eq!(version.version_hash.render(), json(&version.version_hash));
        assert_eq!(version.publisher.render(), json(&version.publisher));
        assert_eq!(version.parent.render(), json(&version.parent));
        assert_eq!(version.publisher_name.render(), json(&version.publisher_name));
        assert_eq!(version.signed_by_compromised_key.render(), json(&version.signed_by_compromised_key));
        assert_eq!(Time::from(version.registered_at).render(), json(&version.registered_at));
        assert_eq!(version.chain.block_number.render(), json(&version.chain.block_number));
        assert_eq!(version.publisher.render(), "\"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\"");

        let key: AttestorKey = serde_json::from_value(serde_json::json!({
            "key": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "status": "revoked",
            "added_at": "2023-11-14T22:13:20Z", "revoked_at": "2023-11-15T00:00:00Z", "compromised_since": null,
            "chain": pointer(),
        }))
        .unwrap();
        assert_eq!(key.status.render(), json(&key.status));
        assert_eq!(key.revoked_at.map(Time::from).render(), json(&key.revoked_at));
        assert_eq!(key.compromised_since.render(), json(&key.compromised_since));

        let agent = AgentRef { chain_id: 1, identity_registry: Address::ZERO, agent_id: U256::from(42) };
        let written = json(&agent);
        assert!(written.contains(&format!("\"agent_id\":{}", agent.agent_id.render())), "{written}");
        assert_eq!(Mean(Some(87.5)).render(), json(&Some(87.5)));
    }

    #[test]
    fn pointers_carry_every_coordinate() {
        let pointer: ChainPointer = serde_json::from_value(pointer()).unwrap();
        let p = Pointer::from(&pointer);
        assert_eq!((p.chain_id, p.block_number, p.log_index, p.block_time), (31337, 5, 3, Some(1_700_000_000)));
        assert_eq!(p.tx_hash, B256::repeat_byte(0x22));
        let mut missing = self::pointer();
        missing.as_object_mut().unwrap().remove("tx_hash");
        assert!(serde_json::from_value::<ChainPointer>(missing).is_err());
    }
}
