-- prova registry: current state, defined once for every reader instead of repeated in each query.
--   publisher_names:         each publisher's registered name, per registry (its earliest registration).
--   publishers_current:      each publisher registration with its current admin (after completed transfers) and the
--                            number of model versions it registered.
--   attestor_keys_current:   each added attestor key with when it was first revoked and from when it is flagged
--                            compromised (NULL when it is not).
-- Plain views: Postgres inlines them, so a filter on their keys reaches the underlying indexes.

CREATE VIEW publisher_names AS
SELECT DISTINCT ON (chain_id, contract, publisher) chain_id, contract, publisher, name
FROM publisher_registered
ORDER BY chain_id, contract, publisher, block_number, log_index;

CREATE VIEW publishers_current AS
SELECT p.*,
       COALESCE((SELECT t.new_admin FROM publisher_admin_transferred t
                  WHERE t.publisher = p.publisher AND t.chain_id = p.chain_id AND t.contract = p.contract
                  ORDER BY t.block_number DESC, t.log_index DESC LIMIT 1), p.admin) AS current_admin,
       (SELECT count(*) FROM model_version_registered m
         WHERE m.publisher = p.publisher AND m.chain_id = p.chain_id AND m.contract = p.contract) AS model_versions
FROM publisher_registered p;

CREATE VIEW attestor_keys_current AS
SELECT a.*,
       (SELECT min(r.block_time) FROM attestor_revoked r
         WHERE r.key = a.key AND r.chain_id = a.chain_id AND r.contract = a.contract) AS revoked_at,
       (SELECT min(k.since) FROM attestor_compromised k
         WHERE k.key = a.key AND k.chain_id = a.chain_id AND k.contract = a.contract) AS compromised_since
FROM attestor_added a;
