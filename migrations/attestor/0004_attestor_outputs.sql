-- prova attestor: the lab's own store of sampled outputs and their batches (not the indexer's data).
--
-- A sample is durable once its insert commits; only then is it acknowledged. A batch is a contiguous range of one
-- model version's samples (by id), sealed under a table lock so no concurrent insert can fall behind the range.
-- Batches move sealed -> submitted -> confirmed; the signed raw transaction is stored before it is broadcast, so
-- after a crash it is found again (or re-broadcast byte for byte) instead of being re-sent blindly.

CREATE TABLE attestor_samples (
    id                 BIGSERIAL   PRIMARY KEY,
    version_hash       BYTEA       NOT NULL,
    request_hash       BYTEA       NOT NULL,
    response_hash      BYTEA       NOT NULL,
    -- keccak256 of the normalized texts (NFC, whitespace collapsed, trimmed), for distillation scans.
    request_norm_hash  BYTEA       NOT NULL,
    response_norm_hash BYTEA       NOT NULL,
    timestamp          BIGINT      NOT NULL,
    salt               BYTEA       NOT NULL,
    received_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attestor_samples_version ON attestor_samples (version_hash, id);
CREATE INDEX attestor_samples_response ON attestor_samples USING hash (response_hash);

-- Per model version (a row is created when its first sample arrives), the last sample id sealed into a batch.
CREATE TABLE attestor_seal_cursor (
    version_hash   BYTEA  PRIMARY KEY,
    sealed_through BIGINT NOT NULL
);

CREATE TABLE attestor_batches (
    id              BIGSERIAL   PRIMARY KEY,
    version_hash    BYTEA       NOT NULL,
    first_sample    BIGINT      NOT NULL,
    last_sample     BIGINT      NOT NULL,
    leaf_count      INT         NOT NULL,
    root            BYTEA       NOT NULL UNIQUE,
    window_start    BIGINT      NOT NULL,
    window_end      BIGINT      NOT NULL,
    state           TEXT        NOT NULL CHECK (state IN ('sealed', 'submitted', 'confirmed')),
    -- Set when submitted: the EIP-712 nonce and signature, and the signed raw transaction with its hash.
    nonce           BYTEA,
    signature       BYTEA,
    raw_tx          BYTEA,
    tx_hash         BYTEA,
    -- Set when confirmed.
    chain_id        BIGINT,
    registry        BYTEA,
    block_number    BIGINT,
    block_hash      BYTEA,
    leaves_uploaded BOOLEAN     NOT NULL DEFAULT false,
    sealed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    submitted_at    TIMESTAMPTZ,
    confirmed_at    TIMESTAMPTZ
);
CREATE INDEX attestor_batches_state ON attestor_batches (state, id);
CREATE INDEX attestor_batches_range ON attestor_batches (version_hash, first_sample);
