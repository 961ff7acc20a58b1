-- Confirmation states spent (src/store/confirm_uses.rs, docs/policies.md): a 2026-07-28
-- client's retry carrying a policy's confirmation runs the call once. The first replica to
-- insert a state's digest (SHA-256 of the sealed state) runs it; any later retry with the
-- same state, on any replica, is refused. A row is kept until its state expires (unix
-- milliseconds), after which the state is refused anyway; expired rows are swept by
-- later inserts.
CREATE TABLE confirm_uses (
    digest     bytea PRIMARY KEY CHECK (length(digest) = 32),
    expires_ms bigint NOT NULL
);
CREATE INDEX confirm_uses_expiry ON confirm_uses (expires_ms);
