//! Monthly partitions of the registry tables that grow with outputs, `output_leaves` and `output_trees`
//! (migration 0011; operations in `docs/partitioning.md`).
//!
//! Both are range-partitioned by `uploaded_at`, one partition per UTC calendar month, plus a DEFAULT partition
//! that takes the rows of any month without one, so an insert never fails. The partitions are created ahead of
//! time by the SQL function `prova_ensure_output_partitions`, which [`ensure_output_partitions`] calls and
//! [`spawn_output_partition_maintenance`] calls daily. A month's partition created after some of its rows reached
//! the DEFAULT partition takes them over (`prova_create_month_partition`), so running late loses nothing; it only
//! makes the DEFAULT partition, which every query scans, larger meanwhile.
//!
//! Creating a partition is DDL: it takes SHARE UPDATE EXCLUSIVE on the parent table and ACCESS EXCLUSIVE on its
//! DEFAULT partition until commit, and gives up after a 1 s `lock_timeout` (retried on the next run). Call it from
//! startup and background tasks, never in a request's path, on the primary, as a role that may create tables.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::types::chrono::NaiveDate;

use crate::Error;

/// The tables partitioned by upload month.
pub const PARTITIONED_OUTPUT_TABLES: [&str; 2] = ["output_leaves", "output_trees"];

/// Months of partitions kept ready after the current one: uploads of the next two months never wait for
/// maintenance, even if it stops for weeks.
pub const OUTPUT_PARTITION_MONTHS_AHEAD: u32 = 2;

/// How often [`spawn_output_partition_maintenance`] checks the partitions by default: daily.
pub const OUTPUT_PARTITION_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The most a failed check waits before it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10 * 60);

/// Creates the partitions of `output_leaves` and `output_trees` for the current month (UTC, by the database's
/// clock, which also sets `uploaded_at`) and the `months_ahead` following ones, where missing; returns the names of
/// the partitions created (none when all existed).
pub async fn ensure_output_partitions(pool: &PgPool, months_ahead: u32) -> Result<Vec<String>, Error> {
    let months = i32::try_from(months_ahead).unwrap_or(i32::MAX);
    sqlx::query_scalar("SELECT prova_ensure_output_partitions($1)")
        .bind(months)
        .fetch_all(pool)
        .await
        .map_err(Error::Partitions)
}

/// Creates the partitions of `output_leaves` and `output_trees` for the UTC calendar month of `month`, where
/// missing, moving that month's rows out of the DEFAULT partitions; returns the names of those created. Fails if a
/// table of the partition's name exists but is not attached (a detached month: attach it back instead).
pub async fn create_output_partitions(pool: &PgPool, month: NaiveDate) -> Result<Vec<String>, Error> {
    let created: Vec<Option<String>> =
        sqlx::query_scalar("SELECT prova_create_month_partition(t::REGCLASS, $2) FROM unnest($1::TEXT[]) t")
            .bind(PARTITIONED_OUTPUT_TABLES)
            .bind(month)
            .fetch_all(pool)
            .await
            .map_err(Error::Partitions)?;
    Ok(created.into_iter().flatten().collect())
}

/// Rows in the DEFAULT partitions of `output_leaves` and `output_trees`: rows of months that had no partition when
/// they were inserted. Zero while the partitions are kept ahead of time.
pub async fn rows_in_default_partitions(pool: &PgPool) -> Result<i64, Error> {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM output_leaves_default) + (SELECT count(*) FROM output_trees_default)",
    )
    .fetch_one(pool)
    .await
    .map_err(Error::Partitions)
}

/// Spawns a task that runs [`ensure_output_partitions`] with `months_ahead` now and then every `every` (at least a
/// minute; a failure is logged and retried within ten minutes), for as long as the runtime runs or until the handle
/// is aborted.
pub fn spawn_output_partition_maintenance(
    pool: PgPool,
    months_ahead: u32,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let every = every.max(Duration::from_secs(60));
    tokio::spawn(async move {
        loop {
            let wait = match ensure_output_partitions(&pool, months_ahead).await {
                Ok(created) => {
                    if !created.is_empty() {
                        tracing::info!(?created, "created output partitions");
                    }
                    every
                }
                Err(error) => {
                    let cause = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
                    let retry_in_s = every.min(RETRY_AFTER_FAILURE).as_secs();
                    tracing::warn!(%error, %cause, retry_in_s, "cannot create output partitions; retrying");
                    every.min(RETRY_AFTER_FAILURE)
                }
            };
            tokio::time::sleep(wait).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::REGISTRY_MIGRATOR;
    use sqlx::migrate::Migrator;
    use std::borrow::Cow;

    /// The registry migrations before partitioning (0001 to 0010).
    fn migrator_before_partitioning() -> Migrator {
        let migrations = REGISTRY_MIGRATOR.iter().filter(|m| m.version <= 10).cloned().collect::<Vec<_>>();
        assert_eq!(migrations.last().map(|m| m.version), Some(10));
        Migrator { migrations: Cow::Owned(migrations), ..Migrator::DEFAULT }
    }

    /// A distinct 32-byte value.
    fn bytes(tag: &str, i: i64) -> Vec<u8> {
        let mut out = vec![0u8; 32];
        out[..tag.len()].copy_from_slice(tag.as_bytes());
        out[24..].copy_from_slice(&i.to_be_bytes());
        out
    }

    type LeafRow = (Vec<u8>, i32, Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>, Option<i32>);
    const LEAF_COLUMNS: &str =
        "root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt, tree_index";

    async fn leaves(pool: &PgPool) -> Vec<LeafRow> {
        sqlx::query_as(&format!("SELECT {LEAF_COLUMNS} FROM output_leaves ORDER BY root, leaf_index"))
            .fetch_all(pool)
            .await
            .unwrap()
    }

    async fn trees(pool: &PgPool) -> Vec<(Vec<u8>, Vec<u8>)> {
        sqlx::query_as("SELECT root, nodes FROM output_trees ORDER BY root").fetch_all(pool).await.unwrap()
    }

    /// Migration 0011 on a registry that already holds leaves and trees: every row is kept, byte for byte, in the
    /// partition of its batch's upload month; leaves without an upload record (stored before 0010 with no
    /// consistent anchoring) take the migration's time; every partition has the primary key and the hash indexes.
    #[sqlx::test(migrations = false)]
    async fn partitioning_keeps_every_existing_row(pool: PgPool) {
        migrator_before_partitioning().run(&pool).await.unwrap();
        // Batches 0..6: leaves, an upload record in one of three past months (two batches each), and a tree.
        // Batch 6: leaves without an upload record and without a tree; batch 7: a tree only.
        for batch in 0..8i64 {
            let root = bytes("root", batch);
            if batch < 7 {
                for leaf in 0..(5 + batch) {
                    sqlx::query(&format!(
                        "INSERT INTO output_leaves ({LEAF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ))
                    .bind(&root)
                    .bind(leaf as i32)
                    .bind(bytes("version", 1))
                    .bind(bytes("request", batch * 100 + leaf))
                    .bind(bytes("response", batch * 100 + leaf))
                    .bind(1_700_000_000 + leaf)
                    .bind(bytes("salt", batch * 100 + leaf))
                    .bind((batch < 6).then_some(leaf as i32 + 4))
                    .execute(&pool)
                    .await
                    .unwrap();
                }
            }
            if batch < 6 {
                sqlx::query(
                    "INSERT INTO leaf_uploads (root, chain_id, contract, publisher, attestor, version_hash, leaf_count,
                       uploaded_at)
                     VALUES ($1, 1, '\\x01', '\\x02', '\\x03', $2, $3,
                       timestamptz '2025-03-15 12:00+00' + make_interval(months => $4::INT))",
                )
                .bind(&root)
                .bind(bytes("version", 1))
                .bind(5 + batch)
                .bind((batch / 2) as i32)
                .execute(&pool)
                .await
                .unwrap();
            }
            if batch != 6 {
                let nodes: Vec<u8> = (0..(2 * (5 + batch) - 1)).flat_map(|n| bytes("node", batch * 100 + n)).collect();
                sqlx::query("INSERT INTO output_trees (root, nodes) VALUES ($1, $2)")
                    .bind(&root)
                    .bind(nodes)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }
        let (leaves_before, trees_before) = (leaves(&pool).await, trees(&pool).await);
        assert_eq!((leaves_before.len(), trees_before.len()), ((0..7).map(|b| 5 + b).sum::<usize>(), 7));

        REGISTRY_MIGRATOR.run(&pool).await.unwrap();
        assert_eq!(leaves(&pool).await, leaves_before);
        assert_eq!(trees(&pool).await, trees_before);

        // Each row in its batch's upload month, leaves and tree alike; nothing in the DEFAULT partitions.
        let placed: Vec<(Vec<u8>, String)> = sqlx::query_as(
            "SELECT DISTINCT root, tableoid::REGCLASS::TEXT FROM output_leaves
             UNION SELECT DISTINCT root, tableoid::REGCLASS::TEXT FROM output_trees ORDER BY 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let this_month: String =
            sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')").fetch_one(&pool).await.unwrap();
        let mut expected = Vec::new();
        for batch in 0..8i64 {
            let month = match batch {
                0..6 => format!("2025_{:02}", 3 + batch / 2),
                _ => this_month.clone(),
            };
            if batch < 7 {
                expected.push((bytes("root", batch), format!("output_leaves_{month}")));
            }
            if batch != 6 {
                expected.push((bytes("root", batch), format!("output_trees_{month}")));
            }
        }
        expected.sort();
        assert_eq!(placed, expected);
        let mismatched: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM output_leaves l JOIN leaf_uploads u ON u.root = l.root
             WHERE l.uploaded_at <> u.uploaded_at",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(mismatched, 0);
        assert_eq!(rows_in_default_partitions(&pool).await.unwrap(), 0);

        // Every partition (DEFAULT included) has the parent's indexes.
        let unindexed: Vec<String> = sqlx::query_scalar(
            "SELECT p.relid::REGCLASS::TEXT FROM pg_partition_tree('output_leaves') p
             WHERE p.isleaf AND (SELECT count(*) FROM pg_index i WHERE i.indrelid = p.relid) <> 3
             UNION ALL
             SELECT p.relid::REGCLASS::TEXT FROM pg_partition_tree('output_trees') p
             WHERE p.isleaf AND (SELECT count(*) FROM pg_index i WHERE i.indrelid = p.relid AND i.indisprimary) <> 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(unindexed, Vec::<String>::new());
    }

    /// The migration creates this month's partitions and the next two; ensuring three months ahead adds one more
    /// month, and ensuring again adds nothing.
    #[sqlx::test(migrator = "crate::REGISTRY_MIGRATOR")]
    async fn partitions_are_created_ahead_once(pool: PgPool) {
        let months: Vec<String> = sqlx::query_scalar(
            "SELECT to_char((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m)), 'YYYY_MM')
             FROM generate_series(0, 3) m",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(ensure_output_partitions(&pool, OUTPUT_PARTITION_MONTHS_AHEAD).await.unwrap(), Vec::<String>::new());
        let created = ensure_output_partitions(&pool, 3).await.unwrap();
        assert_eq!(created, vec![format!("output_leaves_{}", months[3]), format!("output_trees_{}", months[3])]);
        assert_eq!(ensure_output_partitions(&pool, 3).await.unwrap(), Vec::<String>::new());
        let attached: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'output_leaves'::REGCLASS ORDER BY 1",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut expected: Vec<String> = months.iter().map(|m| format!("output_leaves_{m}")).collect();
        expected.push("output_leaves_default".into());
        assert_eq!(attached, expected);
    }

    /// Rows of a month without a partition go to the DEFAULT partition (the insert does not fail); creating the
    /// month's partition moves them there, and they are still found by their indexes.
    #[sqlx::test(migrator = "crate::REGISTRY_MIGRATOR")]
    async fn a_new_partition_takes_its_month_s_rows_from_default(pool: PgPool) {
        for (root, at) in [(1, "2031-05-31 23:59:59+00"), (2, "2031-06-01 00:00:00+00")] {
            sqlx::query(&format!(
                "INSERT INTO output_leaves ({LEAF_COLUMNS}, uploaded_at)
                 VALUES ($1, 0, $2, $3, $4, 1, $5, 1, $6::TIMESTAMPTZ)"
            ))
            .bind(bytes("root", root))
            .bind(bytes("version", 1))
            .bind(bytes("request", root))
            .bind(bytes("response", root))
            .bind(bytes("salt", root))
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query("INSERT INTO output_trees (root, nodes, uploaded_at) VALUES ($1, '\\x00', $2::TIMESTAMPTZ)")
                .bind(bytes("root", root))
                .bind(at)
                .execute(&pool)
                .await
                .unwrap();
        }
        assert_eq!(rows_in_default_partitions(&pool).await.unwrap(), 4);

        let may = NaiveDate::from_ymd_opt(2031, 5, 17).unwrap();
        let created = create_output_partitions(&pool, may).await.unwrap();
        assert_eq!(created, vec!["output_leaves_2031_05".to_owned(), "output_trees_2031_05".to_owned()]);
        assert_eq!(create_output_partitions(&pool, may).await.unwrap(), Vec::<String>::new());
        assert_eq!(rows_in_default_partitions(&pool).await.unwrap(), 2, "June's rows stay in DEFAULT");
        let home: Vec<(String, String)> = sqlx::query_as(
            "SELECT tableoid::REGCLASS::TEXT, to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
             FROM output_leaves WHERE response_hash = $1",
        )
        .bind(bytes("response", 1))
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(home, vec![("output_leaves_2031_05".to_owned(), "2031-05-31 23:59:59".to_owned())]);

        // A detached month is not created again over its table: it is to be attached back.
        sqlx::query("ALTER TABLE output_leaves DETACH PARTITION output_leaves_2031_05").execute(&pool).await.unwrap();
        let error = create_output_partitions(&pool, may).await.unwrap_err();
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("exists but is not a partition"), "{cause}");
    }
}

/// Figures for `docs/partitioning.md`: 100,000 leaves in 25 batches of 4,000 over 12 months, inserted batch by batch
/// (as uploads insert them) into the partitioned tables and into tables of the schema before migration 0011 (one
/// table each, no partition key); the size per leaf and per tree node, the plan of a lookup by response hash, and
/// the median time of a lookup's two queries on each. Run with
/// `cargo nextest run -p prova-db --run-ignored only --no-capture partition_figures`.
#[cfg(test)]
mod figures {
    use std::time::{Duration, Instant};

    use sqlx::{PgConnection, PgPool};

    const BATCHES: i64 = 25;
    const LEAVES: i64 = 4_000;
    const NODES: i64 = 2 * LEAVES - 1;
    const MONTHS: i64 = 12;

    /// `output_leaves` and `output_trees` as migrations 0003 and 0010 left them.
    const UNPARTITIONED: &str = "
        CREATE TABLE flat_leaves (root BYTEA NOT NULL, leaf_index INT NOT NULL, version_hash BYTEA NOT NULL,
            request_hash BYTEA NOT NULL, response_hash BYTEA NOT NULL, timestamp BIGINT NOT NULL, salt BYTEA NOT NULL,
            tree_index INT, PRIMARY KEY (root, leaf_index));
        CREATE INDEX flat_leaves_response ON flat_leaves (response_hash);
        CREATE INDEX flat_leaves_request ON flat_leaves (request_hash);
        CREATE TABLE flat_trees (root BYTEA PRIMARY KEY, nodes BYTEA NOT NULL);
        ALTER TABLE flat_trees ALTER COLUMN nodes SET STORAGE EXTERNAL;";

    /// Inserts batch `b` (`$1`), uploaded `$2` months ago, into `leaves` and `trees`; `key` is the partition key
    /// column with a leading comma, or empty.
    async fn insert_batch(pool: &PgPool, leaves: &str, trees: &str, key: &str, b: i64) {
        let at = if key.is_empty() { "" } else { ", now() - make_interval(months => $2::INT)" };
        sqlx::query(&format!(
            "INSERT INTO {leaves} (root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt,
               tree_index{key})
             SELECT sha256(('root' || $1)::BYTEA), i, sha256('v'::BYTEA), sha256(('q' || $1 || '.' || i)::BYTEA),
                    sha256(('a' || $1 || '.' || i)::BYTEA), 1700000000 + i, sha256(('s' || $1 || '.' || i)::BYTEA),
                    {LEAVES} - 1 + i{at}
             FROM generate_series(0, {LEAVES} - 1) i WHERE $2::INT IS NOT NULL"
        ))
        .bind(b)
        .bind((b % MONTHS) as i32)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(&format!(
            "INSERT INTO {trees} (root, nodes{key})
             SELECT sha256(('root' || $1)::BYTEA),
                    (SELECT string_agg(sha256(('n' || $1 || '.' || n)::BYTEA), ''::BYTEA ORDER BY n)
                     FROM generate_series(0, {NODES} - 1) n){at}
             WHERE $2::INT IS NOT NULL"
        ))
        .bind(b)
        .bind((b % MONTHS) as i32)
        .execute(pool)
        .await
        .unwrap();
    }

    /// Bytes of `table`, its partitions summed: (heap with TOAST, indexes).
    async fn size(pool: &PgPool, table: &str) -> (f64, f64) {
        sqlx::query_as(
            "SELECT sum(pg_total_relation_size(relid) - pg_indexes_size(relid))::FLOAT8,
                    sum(pg_indexes_size(relid))::FLOAT8
             FROM (SELECT relid FROM pg_partition_tree($1::REGCLASS) WHERE isleaf
                   UNION SELECT oid FROM pg_class WHERE oid = $1::REGCLASS AND relkind = 'r') r",
        )
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap()
    }

    /// A leaf lookup's hit query (the API's, without its joins to the anchoring) on `leaves`.
    fn hit_query(leaves: &str) -> String {
        format!(
            "SELECT l.root, l.leaf_index, l.tree_index, l.version_hash, l.request_hash, l.response_hash, l.timestamp,
                    l.salt
             FROM {leaves} l WHERE l.response_hash = $1 ORDER BY l.root, l.leaf_index LIMIT 21"
        )
    }

    /// Median times of 500 hit queries and of 500 node queries (the API's: the 12 nodes of a proof in a 4,000-leaf
    /// tree) on one connection, statements prepared once as the API's are.
    async fn lookup_times(
        conn: &mut PgConnection,
        leaves: &str,
        trees: &str,
        hashes: &[Vec<u8>],
        roots: &[Vec<u8>],
    ) -> (Duration, Duration) {
        let hits = hit_query(leaves);
        let nodes = format!(
            "SELECT k.i, substring(t.nodes FROM k.node * 32 + 1 FOR 32)
             FROM unnest($1::BYTEA[], $2::INT[]) WITH ORDINALITY AS k(root, node, i)
             JOIN {trees} t ON t.root = k.root"
        );
        let mut hit_times = Vec::new();
        let mut node_times = Vec::new();
        for (i, hash) in hashes.iter().enumerate() {
            let started = Instant::now();
            let found = sqlx::query(&hits).bind(hash).fetch_all(&mut *conn).await.unwrap();
            hit_times.push(started.elapsed());
            assert_eq!(found.len(), 1);

            let root = &roots[i % roots.len()];
            let wanted: Vec<i32> = (0..12).map(|d| ((i as i64 * 97 + d * 611) % NODES) as i32).collect();
            let started = Instant::now();
            let found = sqlx::query(&nodes).bind(vec![root.clone(); 12]).bind(wanted).fetch_all(&mut *conn).await;
            node_times.push(started.elapsed());
            assert_eq!(found.unwrap().len(), 12);
        }
        hit_times.sort();
        node_times.sort();
        (hit_times[hit_times.len() / 2], node_times[node_times.len() / 2])
    }

    #[sqlx::test(migrator = "crate::REGISTRY_MIGRATOR")]
    #[ignore = "a measurement: seeds 200,000 leaves"]
    async fn partition_figures(pool: PgPool) {
        sqlx::raw_sql(UNPARTITIONED).execute(&pool).await.unwrap();
        sqlx::query(
            "SELECT prova_create_month_partition(t,
                      (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m))::DATE)
             FROM generate_series(1, $1 - 1) m, unnest(ARRAY['output_leaves', 'output_trees']::REGCLASS[]) t",
        )
        .bind(MONTHS as i32)
        .execute(&pool)
        .await
        .unwrap();
        let empty = (size(&pool, "output_leaves").await, size(&pool, "output_trees").await);
        for b in 0..BATCHES {
            insert_batch(&pool, "output_leaves", "output_trees", ", uploaded_at", b).await;
            insert_batch(&pool, "flat_leaves", "flat_trees", "", b).await;
        }
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.unwrap();

        let leaves = (BATCHES * LEAVES) as f64;
        let nodes = (BATCHES * NODES) as f64;
        // Per row: the tables' growth from empty (the partitioned ones' fixed size per partition is reported apart).
        let per = |(heap, indexes): (f64, f64), (heap0, indexes0): (f64, f64), n: f64| {
            let (heap, indexes) = (heap - heap0, indexes - indexes0);
            format!("{:.0} + {:.0} = {:.0}", heap / n, indexes / n, (heap + indexes) / n)
        };
        let partitions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_partition_tree('output_leaves') WHERE isleaf")
                .fetch_one(&pool)
                .await
                .unwrap();
        eprintln!(
            "{leaves} leaves in {BATCHES} batches; {partitions} partitions per table ({MONTHS} months with rows)"
        );
        eprintln!(
            "bytes per leaf (heap + indexes = total): partitioned {}, one table {}",
            per(size(&pool, "output_leaves").await, empty.0, leaves),
            per(size(&pool, "flat_leaves").await, (0.0, 0.0), leaves)
        );
        eprintln!(
            "bytes per tree node (table with TOAST + indexes = total): partitioned {}, one table {}",
            per(size(&pool, "output_trees").await, empty.1, nodes),
            per(size(&pool, "flat_trees").await, (0.0, 0.0), nodes)
        );
        eprintln!(
            "an empty partition: of output_leaves {:.0} kB, of output_trees {:.0} kB",
            (empty.0.0 + empty.0.1) / 1024.0 / partitions as f64,
            (empty.1.0 + empty.1.1) / 1024.0 / partitions as f64
        );

        // Every month's partition answers a lookup by response hash from its own index.
        let hash: Vec<u8> = sqlx::query_scalar("SELECT sha256('a7.123'::BYTEA)").fetch_one(&pool).await.unwrap();
        let literal = format!("'\\x{}'::BYTEA", alloy::hex::encode(&hash));
        let plan: Vec<String> =
            sqlx::query_scalar(&format!("EXPLAIN {}", hit_query("output_leaves").replace("$1", &literal)))
                .fetch_all(&pool)
                .await
                .unwrap();
        let months: Vec<String> = sqlx::query_scalar(
            "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m), 'YYYY_MM')
             FROM generate_series(0, $1 - 1) m",
        )
        .bind(MONTHS as i32)
        .fetch_all(&pool)
        .await
        .unwrap();
        for month in months {
            let index = format!("output_leaves_{month}_response_hash_idx");
            assert!(plan.iter().any(|line| line.contains(&index)), "{index} not used:\n{}", plan.join("\n"));
        }

        let hashes: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT response_hash FROM flat_leaves ORDER BY md5(response_hash::TEXT) LIMIT 500")
                .fetch_all(&pool)
                .await
                .unwrap();
        let roots: Vec<Vec<u8>> = sqlx::query_scalar("SELECT root FROM flat_trees").fetch_all(&pool).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        for round in 0..3 {
            let partitioned = lookup_times(&mut conn, "output_leaves", "output_trees", &hashes, &roots).await;
            let flat = lookup_times(&mut conn, "flat_leaves", "flat_trees", &hashes, &roots).await;
            eprintln!(
                "round {round}, median of 500: hit query partitioned {:.2?}, one table {:.2?}; node query (12 nodes) \
                 partitioned {:.2?}, one table {:.2?}",
                partitioned.0, flat.0, partitioned.1, flat.1
            );
        }
    }
}
