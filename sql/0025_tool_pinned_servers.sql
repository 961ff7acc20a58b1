-- The servers whose lists were pinned, whatever they held (src/pins/). A server first
-- seen with an empty list had no pin row, so its later tools counted as first sight and
-- were served unreviewed; it is now pinned here, and what it offers later is a new tool
-- of a pinned server (held for review under `hold`). Every server with a pin already is
-- pinned.
CREATE TABLE tool_pinned_servers (
    server_id uuid PRIMARY KEY REFERENCES mcp_servers (id) ON DELETE CASCADE,
    pinned_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tool_pinned_servers (server_id) SELECT DISTINCT server_id FROM tool_pins;

CREATE TRIGGER tool_pinned_servers_changed AFTER INSERT OR UPDATE OR DELETE ON tool_pinned_servers
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('server_id');
