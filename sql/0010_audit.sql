-- The audit trail: one row per forwarded call (tools/call, prompts/get, resources/read,
-- REST execute) and per registry change. Names, sizes, times and outcomes only: never an
-- argument or a result value. Rows are read newest first, by time then id, alone or by
-- key, server or tool: one index for each of those reads.
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    kind text NOT NULL CHECK (kind IN ('call', 'change')),
    key_id text,
    subject text,
    namespace text,
    server text,
    method text NOT NULL,
    tool text,
    upstream_tool text,
    outcome text NOT NULL,
    duration_us bigint NOT NULL DEFAULT 0,
    request_bytes bigint NOT NULL DEFAULT 0,
    response_bytes bigint NOT NULL DEFAULT 0,
    trace_id text
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_key ON audit_log (key_id, at DESC, id DESC);
CREATE INDEX audit_log_server ON audit_log (server, at DESC, id DESC);
CREATE INDEX audit_log_tool ON audit_log (tool, at DESC, id DESC);
-- Outcomes other than `ok` are rare: partial indexes find them without walking every
-- row of a key (or of the whole table) when a filter asks for them.
CREATE INDEX audit_log_failed ON audit_log (outcome, at DESC, id DESC) WHERE outcome <> 'ok';
CREATE INDEX audit_log_key_failed ON audit_log (key_id, outcome, at DESC, id DESC)
    WHERE outcome <> 'ok';
