-- stdio servers: stop a child nobody has used for this long (it starts again on the next
-- call; its tools stay listed meanwhile). NULL: never.
ALTER TABLE mcp_servers
    ADD COLUMN idle_stop_ms integer CHECK (idle_stop_ms BETWEEN 100 AND 86400000);
