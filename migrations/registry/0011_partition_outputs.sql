-- prova: the tables that grow with outputs (uploaded leaves and their batches' trees) become range-partitioned by
-- upload time, one partition per calendar month (UTC), so an old month can be detached and archived
-- (docs/partitioning.md).
--
-- Partition key: `uploaded_at`, the `leaf_uploads.uploaded_at` of the leaves' batch, copied into every leaf and into
-- the batch's tree. A partitioned table's primary key must contain the partition key, so the keys become
-- (root, leaf_index, uploaded_at) and (root, uploaded_at). (root, leaf_index) and root stay unique because every
-- leaf of a root is inserted by the one transaction that claimed the root's `leaf_uploads` row (root is its primary
-- key), all with that row's `uploaded_at`, and the insert skips a root that already has leaves; a tree takes the
-- `uploaded_at` of its batch's leaves and is skipped when one is stored. So all rows of a root share one
-- `uploaded_at`, hence one partition, whose primary key makes them unique.
--
-- Rows whose month has no partition go to the DEFAULT partition, so an insert never fails for lack of one;
-- `prova_create_month_partition` moves them into the month's partition when it is created.

-- The tables as they were: renamed, their secondary indexes dropped (the names are reused), copied below, dropped.
ALTER TABLE output_leaves RENAME TO output_leaves_unpartitioned;
ALTER INDEX output_leaves_pkey RENAME TO output_leaves_unpartitioned_pkey;
DROP INDEX output_leaves_response;
DROP INDEX output_leaves_request;
ALTER TABLE output_trees RENAME TO output_trees_unpartitioned;
ALTER INDEX output_trees_pkey RENAME TO output_trees_unpartitioned_pkey;

CREATE TABLE output_leaves (
    root          BYTEA       NOT NULL,
    leaf_index    INT         NOT NULL,
    version_hash  BYTEA       NOT NULL,
    request_hash  BYTEA       NOT NULL,
    response_hash BYTEA       NOT NULL,
    timestamp     BIGINT      NOT NULL,
    salt          BYTEA       NOT NULL,
    tree_index    INT,
    -- The batch's `leaf_uploads.uploaded_at`.
    uploaded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
) PARTITION BY RANGE (uploaded_at);

CREATE TABLE output_trees (
    root        BYTEA       NOT NULL,
    nodes       BYTEA       NOT NULL,
    -- The `uploaded_at` of the batch's leaves.
    uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now()
) PARTITION BY RANGE (uploaded_at);
-- Uncompressed and out of line, as before (migration 0010); partitions take it from the parent.
ALTER TABLE output_trees ALTER COLUMN nodes SET STORAGE EXTERNAL;

CREATE TABLE output_leaves_default PARTITION OF output_leaves DEFAULT;
CREATE TABLE output_trees_default PARTITION OF output_trees DEFAULT;

-- Creates the partition of `parent` (range-partitioned on one timestamptz column) for the UTC calendar month of
-- `month`, named `<parent>_YYYY_MM`, and returns its name; NULL if it is already attached. Rows of that month in the
-- DEFAULT partition are moved into it. The partition is created as a table of its own and then attached, which
-- takes SHARE UPDATE EXCLUSIVE on `parent` (reads and writes go on) and ACCESS EXCLUSIVE on the DEFAULT partition
-- for the rest of the transaction (queries of `parent` wait that long: keep the DEFAULT partition empty). Fails
-- after `lock_timeout` rather than queueing every query behind its lock; call it again later.
CREATE FUNCTION prova_create_month_partition(parent REGCLASS, month DATE) RETURNS TEXT
LANGUAGE plpgsql
SET lock_timeout = '1s'
SET TimeZone = 'UTC'
AS $$
DECLARE
    first_day  DATE := date_trunc('month', month)::DATE;
    lo         TIMESTAMPTZ := first_day::TIMESTAMP AT TIME ZONE 'UTC';
    hi         TIMESTAMPTZ := (first_day + INTERVAL '1 month')::TIMESTAMP AT TIME ZONE 'UTC';
    schema     TEXT;
    name       TEXT;
    existing   REGCLASS;
    key        TEXT;
    fallback   REGCLASS;
BEGIN
    SELECT n.nspname, c.relname || '_' || to_char(first_day, 'YYYY_MM') INTO schema, name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
    SELECT a.attname, NULLIF(p.partdefid, 0)::REGCLASS INTO key, fallback
    FROM pg_partitioned_table p JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    WHERE p.partrelid = parent AND p.partstrat = 'r' AND p.partnatts = 1;
    IF key IS NULL THEN
        RAISE EXCEPTION '% is not range-partitioned on one column', parent;
    END IF;
    -- One creator at a time per parent (two API instances starting together): the second finds the partition.
    PERFORM pg_advisory_xact_lock(hashtext('prova_create_month_partition'), parent::OID::INT);
    existing := to_regclass(format('%I.%I', schema, name));
    IF existing IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = existing AND inhparent = parent) THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'table % exists but is not a partition of % (a detached month?)', existing, parent;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING STORAGE)', schema, name, parent);
    IF fallback IS NOT NULL THEN
        -- Held until commit: no row of the month can reach the DEFAULT partition before the partition is attached.
        EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', fallback);
        EXECUTE format(
            'WITH moved AS (DELETE FROM %s WHERE %I >= %L AND %I < %L RETURNING *) INSERT INTO %I.%I SELECT * FROM moved',
            fallback, key, lo, key, hi, schema, name);
    END IF;
    -- Creates the parent's indexes on the new table.
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', parent, schema, name, lo, hi);
    RETURN name;
END
$$;

-- Creates the partitions of `output_leaves` and `output_trees` for the current month (UTC, by the database's clock,
-- which also sets `uploaded_at`) and the `months_ahead` following ones, where missing; returns the names created.
-- The API calls it at startup and daily; an operator may run it from cron: SELECT prova_ensure_output_partitions(2).
CREATE FUNCTION prova_ensure_output_partitions(months_ahead INT) RETURNS SETOF TEXT
LANGUAGE plpgsql
AS $$
DECLARE
    this_month DATE := date_trunc('month', now() AT TIME ZONE 'UTC')::DATE;
    month      DATE;
    parent     REGCLASS;
    created    TEXT;
BEGIN
    FOR month IN
        SELECT (this_month + make_interval(months => m))::DATE FROM generate_series(0, greatest(months_ahead, 0)) m
    LOOP
        FOREACH parent IN ARRAY ARRAY['output_leaves'::REGCLASS, 'output_trees'::REGCLASS] LOOP
            created := prova_create_month_partition(parent, month);
            IF created IS NOT NULL THEN
                RETURN NEXT created;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- A partition for each month that holds rows, and for this month and the next two. Leaves uploaded before
-- migration 0010 whose batch got no `leaf_uploads` row (no consistent anchoring) take this migration's time.
SELECT prova_create_month_partition(parent, month)
FROM (SELECT DISTINCT date_trunc('month', COALESCE(u.uploaded_at, now()) AT TIME ZONE 'UTC')::DATE AS month
      FROM (SELECT DISTINCT root FROM output_leaves_unpartitioned
            UNION SELECT root FROM output_trees_unpartitioned) r
      LEFT JOIN leaf_uploads u ON u.root = r.root) months,
     unnest(ARRAY['output_leaves'::REGCLASS, 'output_trees'::REGCLASS]) parent;
SELECT prova_ensure_output_partitions(2);

-- Every row, with its batch's upload time, and only then the indexes (faster than maintaining them row by row).
INSERT INTO output_leaves
    (root, leaf_index, version_hash, request_hash, response_hash, timestamp, salt, tree_index, uploaded_at)
SELECT l.root, l.leaf_index, l.version_hash, l.request_hash, l.response_hash, l.timestamp, l.salt, l.tree_index,
       COALESCE(u.uploaded_at, now())
FROM output_leaves_unpartitioned l LEFT JOIN leaf_uploads u ON u.root = l.root;

INSERT INTO output_trees (root, nodes, uploaded_at)
SELECT t.root, t.nodes, COALESCE(u.uploaded_at, now())
FROM output_trees_unpartitioned t LEFT JOIN leaf_uploads u ON u.root = t.root;

DROP TABLE output_leaves_unpartitioned;
DROP TABLE output_trees_unpartitioned;

-- On the parent, so every partition (those to come included) gets them: local indexes.
ALTER TABLE output_leaves ADD PRIMARY KEY (root, leaf_index, uploaded_at);
CREATE INDEX output_leaves_response ON output_leaves (response_hash);
CREATE INDEX output_leaves_request ON output_leaves (request_hash);
ALTER TABLE output_trees ADD PRIMARY KEY (root, uploaded_at);
