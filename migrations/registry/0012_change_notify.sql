-- Every change to the registry mirror notifies channel `prova_registry_changed` when its transaction commits, so the
-- API's in-process cache of point lookups (api/src/cache.rs) can drop what the commit made stale.
--
-- The triggers are per statement, not per row, and Postgres folds identical notifications of one transaction into
-- one: an indexer commit of 40,000 rows costs one notification per statement, delivered once.

CREATE FUNCTION prova_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('prova_registry_changed', '');
    RETURN NULL;
END
$$;

-- Puts the trigger on `tbl`. A migration that adds a table calls it (a test checks every table has the trigger).
CREATE FUNCTION prova_watch_table(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'CREATE TRIGGER prova_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
        'FOR EACH STATEMENT EXECUTE FUNCTION prova_notify_change()', tbl);
END
$$;

-- Every table there is now: ordinary and partitioned ones, not partitions (a statement on a partitioned table fires
-- its own statement triggers), not sqlx's bookkeeping.
SELECT prova_watch_table(c.oid)
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND c.relname <> '_sqlx_migrations';
