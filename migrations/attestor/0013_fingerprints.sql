-- prova attestor: near-duplicate fingerprints of attested responses, and (when the lab chooses to keep them) the
-- response texts, for distillation scans (`docs/distillation.md`). Both stay in the lab's store: neither is ever
-- published, uploaded or put on-chain.
--
-- Both are keyed by the response's keccak256 (the `response_hash` of its samples), so that ingest writes them with
-- plain binary COPYs in the samples' transaction, and identical responses may have several rows. Samples stored
-- before this migration have no fingerprint (their texts were never kept): scans find them by exact and
-- normalized hashes only.

-- One-permutation MinHash of the response's word shingles (`attestor/src/outputs/near.rs`). No index: a scan reads
-- the table sequentially.
CREATE TABLE attestor_fingerprints (
    response_hash BYTEA NOT NULL,
    fingerprint   BYTEA NOT NULL
);

-- The exact response text, only for samples ingested with --keep-text: its keccak256 is `response_hash`.
CREATE TABLE attestor_texts (
    response_hash BYTEA NOT NULL,
    response      TEXT  NOT NULL
);
CREATE INDEX attestor_texts_response ON attestor_texts USING hash (response_hash);
