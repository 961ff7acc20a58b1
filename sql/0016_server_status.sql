-- Each replica's runtime view of each server it runs (status, last error, restarts, the
-- tools it lists), written on every status change, so `keyadm servers list|show` (which
-- reads only PostgreSQL) can say what the gateways see. A replica's rows go when it stops
-- cleanly; rows not written for a day are pruned at the next write.
CREATE TABLE server_status (
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    replica    text NOT NULL CHECK (length(replica) BETWEEN 1 AND 64),
    status     text NOT NULL CHECK (length(status) <= 32),
    last_error text CHECK (length(last_error) <= 4096),
    restarts   integer NOT NULL DEFAULT 0,
    tools      integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (server_id, replica)
);
CREATE INDEX server_status_updated ON server_status (updated_at);
