-- Namespace tool overrides are kept against the server's id and the backend's own tool
-- name, so renaming a server keeps them. An override whose key named no server stays
-- keyed by the tool's exposed name (server_id NULL), as before.
ALTER TABLE namespace_tools
    ADD COLUMN server_id uuid REFERENCES mcp_servers (id) ON DELETE CASCADE;
ALTER TABLE namespace_tools DROP CONSTRAINT namespace_tools_pkey;
ALTER TABLE namespace_tools DROP CONSTRAINT namespace_tools_tool_check;

-- Carry the existing overrides over: "<server>__<tool>" (server names have no "_", so
-- the first "__" ends the name) becomes the server's id and "<tool>".
UPDATE namespace_tools t
SET server_id = s.id,
    tool = substr(t.tool, position('__' IN t.tool) + 2)
FROM mcp_servers s
WHERE position('__' IN t.tool) > 1
  AND lower(s.name) = lower(left(t.tool, position('__' IN t.tool) - 1))
  AND length(t.tool) > position('__' IN t.tool) + 1;

ALTER TABLE namespace_tools
    ADD CONSTRAINT namespace_tools_tool_check CHECK (tool ~ '^[A-Za-z0-9_./-]{1,164}$');
CREATE UNIQUE INDEX namespace_tools_key ON namespace_tools
    (namespace, coalesce(server_id, '00000000-0000-0000-0000-000000000000'::uuid), tool);
CREATE INDEX namespace_tools_server ON namespace_tools (server_id);
