-- prova: who authorized each leaf upload, leaves stored per publisher (the API's quota), and each uploaded batch's
-- Merkle tree, so that a lookup reads its proofs instead of rebuilding the tree (docs/leaf-uploads.md).

-- One row per uploaded batch: the anchoring whose attestor key signed the upload, and the leaves it stored.
CREATE TABLE leaf_uploads (
    root         BYTEA       PRIMARY KEY,
    chain_id     BIGINT      NOT NULL,
    contract     BYTEA       NOT NULL,
    publisher    BYTEA       NOT NULL,
    attestor     BYTEA       NOT NULL,
    version_hash BYTEA       NOT NULL,
    leaf_count   BIGINT      NOT NULL,
    uploaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX leaf_uploads_publisher ON leaf_uploads (publisher);

-- Leaves stored per publisher (the sum of its `leaf_uploads.leaf_count`), checked against the quota and raised in
-- the upload's transaction, so concurrent uploads of one publisher cannot both pass the quota.
CREATE TABLE publisher_leaf_usage (
    publisher BYTEA  PRIMARY KEY,
    leaves    BIGINT NOT NULL CHECK (leaves >= 0)
);

-- The tree of each uploaded batch as OpenZeppelin's flat node array: node i is bytes [32 i, 32 i + 32) of `nodes`,
-- the root at 0, the children of i at 2i+1 and 2i+2. Stored uncompressed out of line (hashes do not compress), so
-- `substring` reads only the TOAST chunks that hold the wanted nodes, not the whole array.
CREATE TABLE output_trees (
    root  BYTEA PRIMARY KEY,
    nodes BYTEA NOT NULL
);
ALTER TABLE output_trees ALTER COLUMN nodes SET STORAGE EXTERNAL;

-- The node of each leaf in its batch's tree. NULL for leaves stored before this migration, until a lookup builds
-- their batch's tree once.
ALTER TABLE output_leaves ADD COLUMN tree_index INT;

-- Batches uploaded before: authorized by their earliest consistent anchoring, and counted against its publisher.
INSERT INTO leaf_uploads (root, chain_id, contract, publisher, attestor, version_hash, leaf_count)
SELECT DISTINCT ON (l.root) l.root, a.chain_id, a.contract, a.publisher, a.attestor, a.version_hash, l.n
FROM (SELECT root, count(*) AS n FROM output_leaves GROUP BY root) l
JOIN outputs_attested a ON a.root = l.root AND a.leaf_count = l.n
  AND a.version_hash = (SELECT v.version_hash FROM output_leaves v WHERE v.root = l.root AND v.leaf_index = 0)
ORDER BY l.root, a.block_time, a.chain_id, a.block_number, a.log_index;

INSERT INTO publisher_leaf_usage (publisher, leaves)
SELECT publisher, sum(leaf_count) FROM leaf_uploads GROUP BY publisher;
