-- The indexer records the chain head it saw on every poll (`head_seen_at`, the liveness /readyz reads), and its
-- last fault and writer. Those columns are in no cached answer, yet under 0012's statement trigger each such
-- update notified `prova_registry_changed`, so an idle chain dropped the API's response cache on every poll.
-- Updates of indexer_cursors now notify only when a column an answer reads changes (the cursor, the head, the
-- finalized block, ...); inserted and deleted rows, and truncates, still always notify. Row triggers, because a
-- statement trigger fires even for no row: the indexer's `INSERT ... ON CONFLICT DO NOTHING` of its cursor, on
-- every poll, notified too.
DROP TRIGGER prova_notify_change ON indexer_cursors;

CREATE TRIGGER prova_notify_change AFTER UPDATE ON indexer_cursors FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'head_seen_at' - 'updated_at' - 'last_error' - 'last_error_at' - 'writer')
          IS DISTINCT FROM (to_jsonb(NEW) - 'head_seen_at' - 'updated_at' - 'last_error' - 'last_error_at' - 'writer'))
    EXECUTE FUNCTION prova_notify_change();

CREATE TRIGGER prova_notify_change_rows AFTER INSERT OR DELETE ON indexer_cursors
    FOR EACH ROW EXECUTE FUNCTION prova_notify_change();

CREATE TRIGGER prova_notify_change_truncate AFTER TRUNCATE ON indexer_cursors
    FOR EACH STATEMENT EXECUTE FUNCTION prova_notify_change();
