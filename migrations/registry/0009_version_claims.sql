-- Model versions are per-publisher claims (several publishers may claim the same version hash), with an optional
-- commit-reveal priority. A claim's priority is its commitment's block when it revealed one, else its own block.

-- The commitment the claim revealed: block number and block time (unix seconds); 0 when it revealed none.
ALTER TABLE model_version_registered
    ADD COLUMN committed_block BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN committed_at    BIGINT NOT NULL DEFAULT 0;

-- A claim is (chain, registry, publisher, version hash); revocations name the same four.
CREATE INDEX model_version_registered_claim ON model_version_registered (version_hash, publisher, chain_id, contract);
CREATE INDEX model_version_revoked_claim ON model_version_revoked (version_hash, publisher, chain_id, contract);

CREATE TABLE model_version_committed (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    commitment    BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX model_version_committed_commitment ON model_version_committed (commitment);
CREATE INDEX model_version_committed_block ON model_version_committed (chain_id, block_number);
