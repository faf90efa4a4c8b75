//! The Postgres schema of prova, owned in one place: the two migrators, connecting, and applying them.
//!
//! - [`REGISTRY_MIGRATOR`] (`migrations/registry/`): the public registry mirror. The indexer writes it, the API
//!   reads it.
//! - [`ATTESTOR_MIGRATOR`] (`migrations/attestor/`): a lab's private store of sampled outputs and their batches,
//!   which never leaves the lab.
//!
//! Each database gets only its own tables (sqlx keeps one `_sqlx_migrations` table per database, so the two
//! schemas cannot share one). [`connect`] runs no DDL; [`migrate`] is called only by a schema's writer (`prova
//! index`, the `prova outputs` commands), by `prova db migrate`, or by `prova serve --migrate`.
//!
//! Columns of hashes and addresses decode straight into alloy's types through [`DbHash`] and [`DbAddress`].
//!
//! The registry tables that grow with outputs are partitioned by upload month; [`partitions`] keeps the partitions
//! ahead of time (`docs/partitioning.md`).
//!
//! Bulk rows are written with binary `COPY`, encoded by [`copy::BinaryCopy`].
//!
//! This crate may depend on sqlx and alloy's primitives, and nothing of prova's: every crate that touches Postgres
//! depends on it.

pub mod copy;
pub mod partitions;
pub mod types;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

pub use partitions::{
    OUTPUT_PARTITION_CHECK_INTERVAL, OUTPUT_PARTITION_MONTHS_AHEAD, create_output_partitions, ensure_output_partitions,
    spawn_output_partition_maintenance,
};
pub use types::{DbAddress, DbHash};

/// The registry schema: every indexed event, cursors, manifests and output-batch leaves.
pub static REGISTRY_MIGRATOR: Migrator = sqlx::migrate!("../migrations/registry");

/// The attestor's private schema: sampled outputs, seal cursors and batches.
pub static ATTESTOR_MIGRATOR: Migrator = sqlx::migrate!("../migrations/attestor");

/// Which schema a database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// The public registry mirror ([`REGISTRY_MIGRATOR`]).
    Registry,
    /// A lab's private output store ([`ATTESTOR_MIGRATOR`]).
    Attestor,
}

impl Schema {
    /// The schema's migrator.
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Self::Registry => &REGISTRY_MIGRATOR,
            Self::Attestor => &ATTESTOR_MIGRATOR,
        }
    }
}

/// What can go wrong connecting to Postgres or migrating it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to Postgres")]
    Connect(#[source] sqlx::Error),
    /// Applying the migrations failed.
    #[error("cannot apply the {schema:?} migrations")]
    Migrate {
        /// The schema.
        schema: Schema,
        /// Why.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// Creating (or counting the rows of) the monthly partitions of the output tables failed ([`partitions`]).
    #[error("cannot create or count the partitions of the output tables")]
    Partitions(#[source] sqlx::Error),
}

/// Connects to Postgres with a pool of `max_connections`; applies no migrations.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, Error> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // No ping before each use: a connection broken by a server restart fails its next query, which is
        // retried (indexer) or answered 503 (API), and is then replaced.
        .test_before_acquire(false)
        .connect(url)
        .await
        .map_err(Error::Connect)
}

/// Applies `schema`'s pending migrations.
pub async fn migrate(pool: &PgPool, schema: Schema) -> Result<(), Error> {
    schema.migrator().run(pool).await.map_err(|source| Error::Migrate { schema, source })
}

/// [`connect`], then [`migrate`] `schema`: for a schema's writer.
pub async fn connect_and_migrate(url: &str, max_connections: u32, schema: Schema) -> Result<PgPool, Error> {
    let pool = connect(url, max_connections).await?;
    migrate(&pool, schema).await?;
    Ok(pool)
}

/// `url` with its database name replaced by `name` (any query string kept).
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// The database name in `url`.
pub fn database_name(url: &str) -> &str {
    let base = url.split_once('?').map_or(url, |(b, _)| b);
    base.rsplit_once('/').map_or("", |(_, name)| name)
}

/// Creates database `name` (letters, digits and `_` only) on the server of `url` unless it exists; returns its URL.
pub async fn create_database(url: &str, name: &str) -> Result<String, Error> {
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'), "database name {name:?} is not plain");
    let pool = connect(url, 1).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&pool)
        .await
        .map_err(Error::Connect)?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.map_err(Error::Connect)?;
    }
    pool.close().await;
    Ok(with_database_name(url, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_keeping_the_query() {
        let url = "postgres://u:p@127.0.0.1:5432/prova?sslmode=disable";
        assert_eq!(database_name(url), "prova");
        assert_eq!(with_database_name(url, "other"), "postgres://u:p@127.0.0.1:5432/other?sslmode=disable");
        assert_eq!(with_database_name("postgres://h/db", "x"), "postgres://h/x");
    }
}
