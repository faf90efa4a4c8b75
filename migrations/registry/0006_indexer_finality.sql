-- prova indexer: finality and faults per indexed contract.
--   finalized_block: the chain's `finalized` block (or head minus the configured depth where the node has no such
--                    tag), so the API can say whether a fact is final.
--   kind:            what the contract is (provenance, identity, reputation, validation).
--   last_error:      the last transient fault (RPC error, timeout, rate limit), cleared when a pass succeeds.
--   writer:          the indexer instance holding the write lock, for operators.
ALTER TABLE indexer_cursors
    ADD COLUMN finalized_block BIGINT,
    ADD COLUMN kind            TEXT NOT NULL DEFAULT 'provenance',
    ADD COLUMN last_error      TEXT,
    ADD COLUMN last_error_at   TIMESTAMPTZ,
    ADD COLUMN writer          TEXT;
