-- A namespace's tool search mode: `off` (tools/list lists every tool), `on` (tools/list
-- lists the gateway's search_tools and call_tool instead), `auto` (on when the full
-- list would pass the documented size). Every tool stays callable by its name.
ALTER TABLE namespaces ADD COLUMN tool_search text NOT NULL DEFAULT 'auto'
    CHECK (tool_search IN ('off', 'on', 'auto'));
