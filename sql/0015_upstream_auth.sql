-- Upstream credentials: how the gateway proves itself to a backend, and the tokens it
-- holds for that.
-- `mcp_servers.auth_sealed`: the server's `auth` object (its client secret included),
-- sealed under ENCRYPTION_KEY with the server's id as associated data; NULL: static.
ALTER TABLE mcp_servers ADD COLUMN auth_sealed bytea;

-- Tokens the gateway holds for a backend, one row per (server, principal): `shared` for
-- the server's one account. `sealed` holds the access and refresh tokens and the client
-- they were issued to (sealed, bound to the server and principal); the rest is what an
-- admin may see. A refresh takes the row's lock, so a rotated refresh token is used once.
CREATE TABLE upstream_tokens (
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    principal  text NOT NULL CHECK (length(principal) BETWEEN 1 AND 300),
    sealed     bytea NOT NULL CHECK (length(sealed) <= 131072),
    scopes     text NOT NULL DEFAULT '' CHECK (length(scopes) <= 8192),
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (server_id, principal)
);

-- Authorizations started and not finished: the SHA-256 of their `state` (single use:
-- the callback deletes the row it finishes), the PKCE verifier and the client, sealed.
-- Bounded per principal and in all; rows past `expires_at` are worthless and swept.
CREATE TABLE upstream_pending (
    state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    principal  text NOT NULL CHECK (length(principal) BETWEEN 1 AND 300),
    sealed     bytea NOT NULL CHECK (length(sealed) <= 65536),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX upstream_pending_principal ON upstream_pending (principal, created_at);
CREATE INDEX upstream_pending_expiry ON upstream_pending (expires_at);

-- Every replica learns of a new, refreshed or removed token at once (and uses it for
-- its next request to that backend).
CREATE TRIGGER upstream_tokens_changed AFTER INSERT OR UPDATE OR DELETE ON upstream_tokens
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('server_id');
