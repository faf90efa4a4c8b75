-- prova indexer: hashes of the blocks that ended committed ranges (and of blocks holding events), so a reorg can
-- be detected (a stored hash no longer on the canonical chain) and the fork point found.
CREATE TABLE indexed_blocks (
    chain_id     BIGINT NOT NULL,
    contract     BYTEA  NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash   BYTEA  NOT NULL,
    PRIMARY KEY (chain_id, contract, block_number)
);
