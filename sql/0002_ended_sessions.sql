-- Client sessions are sealed tokens held by clients; ending one (DELETE /mcp) records a
-- hash of its id here until the session would have expired anyway. Every gateway learns
-- of it through the NOTIFY below and refuses the id (404) from then on.
CREATE TABLE ended_sessions (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 16),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX ended_sessions_expiry ON ended_sessions (expires_at);

CREATE FUNCTION metamcp_notify_session_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('metamcp_changes', json_build_object(
        'table', 'ended_sessions', 'op', 'insert', 'id', encode(NEW.id_hash, 'hex'),
        'expires', extract(epoch FROM NEW.expires_at)::bigint)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER ended_sessions_insert AFTER INSERT ON ended_sessions
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_session_end();
