-- prova: one table per ProvenanceRegistry event, plus the indexer's cursor.
--
-- Every event row is keyed by (chain_id, tx_hash, log_index) and keeps its block number, block hash and block
-- time, so any fact can be traced back to the chain. Current state (a publisher's admin, a key's status, a
-- version's revocation) is derived from the events by queries, so undoing a reorg is a plain DELETE by block.
-- Hashes and addresses are stored as raw bytes (BYTEA); the API renders them as lowercase 0x hex.

CREATE TABLE indexer_cursors (
    chain_id      BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    -- First block not yet indexed.
    next_block    BIGINT      NOT NULL,
    -- Latest chain head the indexer saw, and when.
    head_block    BIGINT,
    head_seen_at  TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chain_id, contract)
);

CREATE TABLE publisher_registered (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    publisher     BYTEA       NOT NULL,
    admin         BYTEA       NOT NULL,
    name          TEXT        NOT NULL,
    metadata_uri  TEXT        NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX publisher_registered_publisher ON publisher_registered (publisher, chain_id, contract);
CREATE INDEX publisher_registered_block ON publisher_registered (chain_id, block_number);

CREATE TABLE publisher_admin_transfer_started (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    publisher     BYTEA       NOT NULL,
    admin         BYTEA       NOT NULL,
    pending_admin BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX publisher_admin_transfer_started_publisher ON publisher_admin_transfer_started (publisher, chain_id, contract);
CREATE INDEX publisher_admin_transfer_started_block ON publisher_admin_transfer_started (chain_id, block_number);

CREATE TABLE publisher_admin_transferred (
    chain_id       BIGINT      NOT NULL,
    tx_hash        BYTEA       NOT NULL,
    log_index      BIGINT      NOT NULL,
    contract       BYTEA       NOT NULL,
    block_number   BIGINT      NOT NULL,
    block_hash     BYTEA       NOT NULL,
    block_time     TIMESTAMPTZ NOT NULL,
    publisher      BYTEA       NOT NULL,
    previous_admin BYTEA       NOT NULL,
    new_admin      BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX publisher_admin_transferred_publisher ON publisher_admin_transferred (publisher, chain_id, contract);
CREATE INDEX publisher_admin_transferred_block ON publisher_admin_transferred (chain_id, block_number);

CREATE TABLE attestor_added (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    publisher     BYTEA       NOT NULL,
    key           BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX attestor_added_publisher ON attestor_added (publisher, chain_id, contract);
CREATE INDEX attestor_added_key ON attestor_added (key);
CREATE INDEX attestor_added_block ON attestor_added (chain_id, block_number);

CREATE TABLE attestor_revoked (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    publisher     BYTEA       NOT NULL,
    key           BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX attestor_revoked_key ON attestor_revoked (key);
CREATE INDEX attestor_revoked_block ON attestor_revoked (chain_id, block_number);

CREATE TABLE attestor_compromised (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    publisher     BYTEA       NOT NULL,
    key           BYTEA       NOT NULL,
    -- Unix time from which the key is compromised.
    since         BIGINT      NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX attestor_compromised_key ON attestor_compromised (key);
CREATE INDEX attestor_compromised_block ON attestor_compromised (chain_id, block_number);

CREATE TABLE model_version_registered (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    version_hash  BYTEA       NOT NULL,
    model_id      BYTEA       NOT NULL,
    publisher     BYTEA       NOT NULL,
    parent        BYTEA       NOT NULL,
    attestor      BYTEA       NOT NULL,
    metadata_uri  TEXT        NOT NULL,
    metadata_hash BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX model_version_registered_version ON model_version_registered (version_hash);
CREATE INDEX model_version_registered_publisher ON model_version_registered (publisher, chain_id, contract);
CREATE INDEX model_version_registered_model ON model_version_registered (model_id);
CREATE INDEX model_version_registered_parent ON model_version_registered (parent);
CREATE INDEX model_version_registered_block ON model_version_registered (chain_id, block_number);

CREATE TABLE model_version_revoked (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    version_hash  BYTEA       NOT NULL,
    publisher     BYTEA       NOT NULL,
    reason        TEXT        NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX model_version_revoked_version ON model_version_revoked (version_hash);
CREATE INDEX model_version_revoked_block ON model_version_revoked (chain_id, block_number);

CREATE TABLE nonce_invalidated (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    signer        BYTEA       NOT NULL,
    -- uint256 nonce as 32 big-endian bytes.
    nonce         BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX nonce_invalidated_block ON nonce_invalidated (chain_id, block_number);
