-- prova: output attestation. Indexed events of anchored output batches, and the leaves of each batch, uploaded
-- by anyone but stored only when they recompute to a root indexed from the chain.

CREATE TABLE outputs_attested (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    root          BYTEA       NOT NULL,
    version_hash  BYTEA       NOT NULL,
    publisher     BYTEA       NOT NULL,
    attestor      BYTEA       NOT NULL,
    leaf_count    BIGINT      NOT NULL,
    window_start  BIGINT      NOT NULL,
    window_end    BIGINT      NOT NULL,
    batch_uri     TEXT        NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX outputs_attested_root ON outputs_attested (root);
CREATE INDEX outputs_attested_version ON outputs_attested (version_hash);
CREATE INDEX outputs_attested_block ON outputs_attested (chain_id, block_number);

CREATE TABLE output_batch_revoked (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    root          BYTEA       NOT NULL,
    publisher     BYTEA       NOT NULL,
    reason        TEXT        NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX output_batch_revoked_root ON output_batch_revoked (root);
CREATE INDEX output_batch_revoked_block ON output_batch_revoked (chain_id, block_number);

-- Leaves of anchored batches (data availability). A root is chain-independent: it commits to its leaves.
CREATE TABLE output_leaves (
    root          BYTEA       NOT NULL,
    leaf_index    INT         NOT NULL,
    version_hash  BYTEA       NOT NULL,
    request_hash  BYTEA       NOT NULL,
    response_hash BYTEA       NOT NULL,
    timestamp     BIGINT      NOT NULL,
    salt          BYTEA       NOT NULL,
    PRIMARY KEY (root, leaf_index)
);
CREATE INDEX output_leaves_response ON output_leaves (response_hash);
CREATE INDEX output_leaves_request ON output_leaves (request_hash);
