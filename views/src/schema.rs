//! OpenAPI schemas of the values the API writes as strings: hashes and addresses in lowercase hex, the inputs that
//! accept any case, and prova-reputation's `Score`.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// An example 32-byte hash: the base version of the `prova dev` demo.
pub const HASH_EXAMPLE: &str = "0xf187bca44d1c744dd8510221ac86b5bf72c8e7f6fd71ef0cecd0aa2abc6d94a9";
/// An example address: the `prova dev` demo publisher.
pub const ADDRESS_EXAMPLE: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
/// Pattern of a hash in a request (either case).
pub const HASH_INPUT_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";
/// Pattern of an address in a request (checksummed or not).
pub const ADDRESS_INPUT_PATTERN: &str = "^0x[0-9a-fA-F]{40}$";

fn hex_schema(pattern: &str, example: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([serde_json::Value::from(example)])
        .description(Some(description))
        .into()
}

/// Schema of a 32-byte hash as answered: `0x` and 64 lowercase hex digits.
#[derive(Debug)]
pub struct Hash;

impl PartialSchema for Hash {
    fn schema() -> RefOr<Schema> {
        hex_schema("^0x[0-9a-f]{64}$", HASH_EXAMPLE, "A 32-byte hash: 0x and 64 lowercase hex digits.")
    }
}

impl ToSchema for Hash {
    fn name() -> Cow<'static, str> {
        "Hash".into()
    }
}

/// Schema of a 20-byte address as answered: `0x` and 40 lowercase hex digits (not checksummed).
#[derive(Debug)]
pub struct Address;

impl PartialSchema for Address {
    fn schema() -> RefOr<Schema> {
        hex_schema("^0x[0-9a-f]{40}$", ADDRESS_EXAMPLE, "An address: 0x and 40 lowercase hex digits.")
    }
}

impl ToSchema for Address {
    fn name() -> Cow<'static, str> {
        "Address".into()
    }
}

/// Schema of a hash inside a document that is also uploaded (manifest, leaf, receipt): any case is accepted,
/// answers are lowercase.
#[derive(Debug)]
pub struct HashInput;

impl PartialSchema for HashInput {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            HASH_INPUT_PATTERN,
            HASH_EXAMPLE,
            "A 32-byte hash: 0x and 64 hex digits (any case accepted; answers are lowercase).",
        )
    }
}

impl ToSchema for HashInput {
    fn name() -> Cow<'static, str> {
        "HashInput".into()
    }
}

/// Schema of an address inside a document that is also uploaded: checksummed or not.
#[derive(Debug)]
pub struct AddressInput;

impl PartialSchema for AddressInput {
    fn schema() -> RefOr<Schema> {
        hex_schema(
            ADDRESS_INPUT_PATTERN,
            ADDRESS_EXAMPLE,
            "An address: 0x and 40 hex digits (checksummed or not; answers are lowercase).",
        )
    }
}

impl ToSchema for AddressInput {
    fn name() -> Cow<'static, str> {
        "AddressInput".into()
    }
}

/// Schema of `prova_reputation::Score`: one agent's score under one algorithm (see `docs/reputation.md`).
#[derive(Debug, ToSchema)]
#[schema(as = Score)]
#[allow(dead_code)] // read only by the schema derive
pub struct ScoreSchema {
    /// The agent id (uint256, as a 0x hex string).
    #[schema(example = "0x1")]
    agent_id: String,
    /// The agent's owner, or null when unknown.
    #[schema(value_type = Option<Address>)]
    agent_owner: Option<String>,
    /// The score on the normalized value scale; null when the algorithm has nothing to go on.
    score: Option<f64>,
    /// Number of records used.
    count: u64,
    /// Number of distinct reviewers among them.
    distinct_clients: u64,
    /// Share of the records used that carry a receipt; null when `count` is 0.
    verified_share: Option<f64>,
    /// The exact contract summary (`mean` only; absent otherwise).
    #[schema(value_type = Object, required = false)]
    summary: Option<serde_json::Value>,
    /// Trust details (`trust` only; absent otherwise).
    #[schema(value_type = Object, required = false)]
    trust: Option<serde_json::Value>,
    /// Every parameter the score used, with the algorithm's name.
    #[schema(value_type = Object)]
    params: serde_json::Value,
}
