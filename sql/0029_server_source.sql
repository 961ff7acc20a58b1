-- Where a server was installed from: a registry's URL, the entry's name and version
-- (`POST /api/v1/registry/install`, `keyadm registry add`); NULL for a server registered
-- by hand. `source_review`: an upgrade from the registry is waiting for an admin's
-- review, so its changed tool definitions are held even where `tool_changes` is
-- `accept` (cleared when an admin approves the server's held items).
ALTER TABLE mcp_servers
    ADD COLUMN source_registry text,
    ADD COLUMN source_name text,
    ADD COLUMN source_version text,
    ADD COLUMN source_review boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT mcp_servers_source_whole CHECK (
        (source_registry IS NULL AND source_name IS NULL AND source_version IS NULL)
        OR (source_registry IS NOT NULL AND source_name IS NOT NULL
            AND source_version IS NOT NULL));
