-- prova indexer: ERC-8004 identity, reputation and validation registries (ours or any other deployment).
--
-- Same layout as the provenance tables: one table per event, keyed by (chain_id, tx_hash, log_index), with the
-- block number, hash and time, so a reorg is undone by deleting by block. uint256 agent ids and int128 feedback
-- values are NUMERIC; current state (owner, wallet, URI, revocation) is derived by queries.

-- Which identity registry a reputation or validation registry points at (its getIdentityRegistry()).
CREATE TABLE erc8004_links (
    chain_id          BIGINT NOT NULL,
    contract          BYTEA  NOT NULL,
    identity_registry BYTEA  NOT NULL,
    PRIMARY KEY (chain_id, contract)
);

CREATE TABLE agent_registered (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    agent_id      NUMERIC(78) NOT NULL,
    agent_uri     TEXT        NOT NULL,
    owner         BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX agent_registered_agent ON agent_registered (chain_id, contract, agent_id);
CREATE INDEX agent_registered_block ON agent_registered (chain_id, block_number);

CREATE TABLE agent_metadata_set (
    chain_id       BIGINT      NOT NULL,
    tx_hash        BYTEA       NOT NULL,
    log_index      BIGINT      NOT NULL,
    contract       BYTEA       NOT NULL,
    block_number   BIGINT      NOT NULL,
    block_hash     BYTEA       NOT NULL,
    block_time     TIMESTAMPTZ NOT NULL,
    agent_id       NUMERIC(78) NOT NULL,
    metadata_key   TEXT        NOT NULL,
    metadata_value BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX agent_metadata_set_agent ON agent_metadata_set (chain_id, contract, agent_id, metadata_key);
CREATE INDEX agent_metadata_set_block ON agent_metadata_set (chain_id, block_number);

CREATE TABLE agent_uri_updated (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    agent_id      NUMERIC(78) NOT NULL,
    new_uri       TEXT        NOT NULL,
    updated_by    BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX agent_uri_updated_agent ON agent_uri_updated (chain_id, contract, agent_id);
CREATE INDEX agent_uri_updated_block ON agent_uri_updated (chain_id, block_number);

-- ERC-721 Transfer of the identity NFT (mint, transfer, burn): the current owner is the last `to_address`.
CREATE TABLE agent_transferred (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    from_address  BYTEA       NOT NULL,
    to_address    BYTEA       NOT NULL,
    agent_id      NUMERIC(78) NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX agent_transferred_agent ON agent_transferred (chain_id, contract, agent_id);
CREATE INDEX agent_transferred_block ON agent_transferred (chain_id, block_number);

CREATE TABLE feedback_given (
    chain_id       BIGINT      NOT NULL,
    tx_hash        BYTEA       NOT NULL,
    log_index      BIGINT      NOT NULL,
    contract       BYTEA       NOT NULL,
    block_number   BIGINT      NOT NULL,
    block_hash     BYTEA       NOT NULL,
    block_time     TIMESTAMPTZ NOT NULL,
    agent_id       NUMERIC(78) NOT NULL,
    client         BYTEA       NOT NULL,
    feedback_index BIGINT      NOT NULL,
    value          NUMERIC(39) NOT NULL,
    value_decimals BIGINT      NOT NULL,
    tag1           TEXT        NOT NULL,
    tag2           TEXT        NOT NULL,
    endpoint       TEXT        NOT NULL,
    feedback_uri   TEXT        NOT NULL,
    feedback_hash  BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX feedback_given_agent ON feedback_given (chain_id, contract, agent_id, client, feedback_index);
CREATE INDEX feedback_given_tag ON feedback_given (chain_id, contract, tag1, tag2);
CREATE INDEX feedback_given_block ON feedback_given (chain_id, block_number);

CREATE TABLE feedback_revoked (
    chain_id       BIGINT      NOT NULL,
    tx_hash        BYTEA       NOT NULL,
    log_index      BIGINT      NOT NULL,
    contract       BYTEA       NOT NULL,
    block_number   BIGINT      NOT NULL,
    block_hash     BYTEA       NOT NULL,
    block_time     TIMESTAMPTZ NOT NULL,
    agent_id       NUMERIC(78) NOT NULL,
    client         BYTEA       NOT NULL,
    feedback_index BIGINT      NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX feedback_revoked_agent ON feedback_revoked (chain_id, contract, agent_id, client, feedback_index);
CREATE INDEX feedback_revoked_block ON feedback_revoked (chain_id, block_number);

CREATE TABLE feedback_response (
    chain_id       BIGINT      NOT NULL,
    tx_hash        BYTEA       NOT NULL,
    log_index      BIGINT      NOT NULL,
    contract       BYTEA       NOT NULL,
    block_number   BIGINT      NOT NULL,
    block_hash     BYTEA       NOT NULL,
    block_time     TIMESTAMPTZ NOT NULL,
    agent_id       NUMERIC(78) NOT NULL,
    client         BYTEA       NOT NULL,
    feedback_index BIGINT      NOT NULL,
    responder      BYTEA       NOT NULL,
    response_uri   TEXT        NOT NULL,
    response_hash  BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX feedback_response_agent ON feedback_response (chain_id, contract, agent_id, client, feedback_index);
CREATE INDEX feedback_response_block ON feedback_response (chain_id, block_number);

-- prova extension: feedback backed by an interaction receipt signed by the agent's wallet.
CREATE TABLE feedback_verified (
    chain_id         BIGINT      NOT NULL,
    tx_hash          BYTEA       NOT NULL,
    log_index        BIGINT      NOT NULL,
    contract         BYTEA       NOT NULL,
    block_number     BIGINT      NOT NULL,
    block_hash       BYTEA       NOT NULL,
    block_time       TIMESTAMPTZ NOT NULL,
    agent_id         NUMERIC(78) NOT NULL,
    client           BYTEA       NOT NULL,
    feedback_index   BIGINT      NOT NULL,
    interaction_hash BYTEA       NOT NULL,
    signer           BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX feedback_verified_agent ON feedback_verified (chain_id, contract, agent_id, client, feedback_index);
CREATE INDEX feedback_verified_block ON feedback_verified (chain_id, block_number);

CREATE TABLE validation_requested (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    validator     BYTEA       NOT NULL,
    agent_id      NUMERIC(78) NOT NULL,
    request_uri   TEXT        NOT NULL,
    request_hash  BYTEA       NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX validation_requested_agent ON validation_requested (chain_id, contract, agent_id);
CREATE INDEX validation_requested_hash ON validation_requested (request_hash);
CREATE INDEX validation_requested_block ON validation_requested (chain_id, block_number);

CREATE TABLE validation_responded (
    chain_id      BIGINT      NOT NULL,
    tx_hash       BYTEA       NOT NULL,
    log_index     BIGINT      NOT NULL,
    contract      BYTEA       NOT NULL,
    block_number  BIGINT      NOT NULL,
    block_hash    BYTEA       NOT NULL,
    block_time    TIMESTAMPTZ NOT NULL,
    validator     BYTEA       NOT NULL,
    agent_id      NUMERIC(78) NOT NULL,
    request_hash  BYTEA       NOT NULL,
    response      BIGINT      NOT NULL,
    response_uri  TEXT        NOT NULL,
    response_hash BYTEA       NOT NULL,
    tag           TEXT        NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX validation_responded_agent ON validation_responded (chain_id, contract, agent_id);
CREATE INDEX validation_responded_hash ON validation_responded (request_hash);
CREATE INDEX validation_responded_block ON validation_responded (chain_id, block_number);
