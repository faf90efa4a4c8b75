-- prova: manifests of registered model versions, uploaded by anyone through the API and verified before storing.
--
-- A manifest is accepted only if the Merkle root of its files equals a version hash that is registered on some
-- indexed chain, so every stored row is backed by an on-chain registration. The version hash is a Merkle root over
-- the files and does not depend on the chain, so manifests are keyed by version hash alone. Stored manifests are
-- never edited: uploading the same version again is a no-op.

CREATE TABLE model_manifests (
    version_hash  BYTEA       PRIMARY KEY,
    -- The tool that wrote the manifest, as the uploader gave it (e.g. "prova 0.1.0").
    tool          TEXT        NOT NULL,
    -- Folder names that were skipped while hashing.
    ignore        TEXT[]      NOT NULL,
    file_count    INT         NOT NULL,
    total_bytes   BIGINT      NOT NULL,
    uploaded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE model_files (
    version_hash  BYTEA       NOT NULL REFERENCES model_manifests (version_hash) ON DELETE CASCADE,
    -- Relative, '/'-separated, UTF-8 (checked by the API before storing).
    path          TEXT        NOT NULL,
    size          BIGINT      NOT NULL,
    -- SHA-256 of the file's bytes.
    sha256        BYTEA       NOT NULL,
    PRIMARY KEY (version_hash, path)
);
-- Matching a folder against stored manifests looks files up by digest.
CREATE INDEX model_files_sha256 ON model_files (sha256);
