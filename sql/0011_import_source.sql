-- Servers created by an `mcpServers` import remember the source they came from, so a
-- later import of the same source with --prune removes only what it created itself.
ALTER TABLE mcp_servers
    ADD COLUMN import_source text CHECK (length(import_source) BETWEEN 1 AND 1000);
CREATE INDEX mcp_servers_import_source ON mcp_servers (import_source)
    WHERE import_source IS NOT NULL;
