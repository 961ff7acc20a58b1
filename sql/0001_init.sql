-- metamcp schema, version 1: API keys, the MCP server registry, namespaces.
-- Secrets never appear in clear: API key secrets are argon2id hashes, the key text and
-- server env/headers are sealed with XChaCha20-Poly1305 under ENCRYPTION_KEY.

CREATE TABLE api_keys (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description   text CHECK (length(description) <= 1000),
    scope         text NOT NULL CHECK (scope IN ('admin', 'client')),
    namespaces    text[] NOT NULL DEFAULT '{}',
    secret_hash   text NOT NULL CHECK (secret_hash LIKE '$argon2id$%'),
    key_sealed    bytea NOT NULL,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz
);

CREATE TABLE mcp_servers (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,31}$'),
    protocol        text NOT NULL CHECK (protocol IN ('stdio', 'http', 'sse')),
    url             text,
    command         text,
    args            text[] NOT NULL DEFAULT '{}',
    env_sealed      bytea,
    headers_sealed  bytea,
    is_active       boolean NOT NULL DEFAULT true,
    timeout_ms      integer NOT NULL DEFAULT 60000 CHECK (timeout_ms BETWEEN 1 AND 3600000),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mcp_servers_target CHECK (
        CASE protocol WHEN 'stdio' THEN command IS NOT NULL ELSE url IS NOT NULL END)
);
-- Names prefix tool names (`time__now`): unique regardless of case.
CREATE UNIQUE INDEX mcp_servers_name_key ON mcp_servers (lower(name));

CREATE TABLE namespaces (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,31}$'),
    description  text CHECK (length(description) <= 1000),
    tool_prefix  text NOT NULL DEFAULT 'always' CHECK (tool_prefix IN ('always', 'never')),
    auth         text NOT NULL DEFAULT 'required' CHECK (auth IN ('required', 'none')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE namespace_servers (
    namespace  text NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE ON UPDATE CASCADE,
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    PRIMARY KEY (namespace, server_id)
);
CREATE INDEX namespace_servers_server ON namespace_servers (server_id);

-- Per-namespace tool overrides, keyed by the tool's exposed (prefixed) name.
CREATE TABLE namespace_tools (
    namespace    text NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE ON UPDATE CASCADE,
    tool         text NOT NULL CHECK (tool ~ '^[A-Za-z0-9_-]{1,64}$'),
    enabled      boolean NOT NULL DEFAULT true,
    rename_to    text CHECK (rename_to ~ '^[A-Za-z0-9_-]{1,64}$'),
    description  text,
    PRIMARY KEY (namespace, tool)
);

-- Every change to keys, servers or namespaces is announced on `metamcp_changes` as
-- {"table": …, "op": "insert|update|delete", "id": …}; delivered on commit, so a rolled
-- back change announces nothing. TG_ARGV[0] names the row's identifying column.
CREATE FUNCTION metamcp_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
BEGIN
    PERFORM pg_notify('metamcp_changes', json_build_object(
        'table', TG_TABLE_NAME, 'op', lower(TG_OP), 'id', rec ->> TG_ARGV[0])::text);
    RETURN NULL;
END
$$;

-- last_used_at changes on use and is not worth waking every gateway for.
CREATE TRIGGER api_keys_changed_rows AFTER INSERT OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('id');
CREATE TRIGGER api_keys_changed_fields
    AFTER UPDATE OF name, description, scope, namespaces, secret_hash, is_active, expires_at
    ON api_keys FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('id');
CREATE TRIGGER mcp_servers_changed AFTER INSERT OR UPDATE OR DELETE ON mcp_servers
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('id');
CREATE TRIGGER namespaces_changed AFTER INSERT OR UPDATE OR DELETE ON namespaces
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('name');
CREATE TRIGGER namespace_servers_changed AFTER INSERT OR UPDATE OR DELETE ON namespace_servers
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('namespace');
CREATE TRIGGER namespace_tools_changed AFTER INSERT OR UPDATE OR DELETE ON namespace_tools
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('namespace');
