-- DPoP proofs used (src/store/dpop_proofs.rs, docs/identity.md): a proof presented with a
-- DPoP-bound access token is accepted once across every replica. The first replica to
-- insert its digest (SHA-256 of the key's thumbprint, a NUL and the proof's jti) takes
-- it; a replay, on any replica, finds the row and is refused. A row is kept until its
-- proof would be refused as stale anyway (unix seconds), and expired rows are swept by
-- later inserts: the table holds at most the proofs of the last few minutes.
CREATE TABLE dpop_proofs (
    digest      bytea PRIMARY KEY CHECK (length(digest) = 32),
    expires_at  bigint NOT NULL
);
CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at);
