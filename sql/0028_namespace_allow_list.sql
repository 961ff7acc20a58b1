-- A namespace's tools default: `enabled` (every tool of its servers is offered unless
-- its override says `"enabled": false`, as before) or `disabled` (an allow-list: only the
-- tools its overrides name, without `"enabled": false`, are offered; a tool a server
-- offers later, or only to some clients, is not, until an admin allows it).
ALTER TABLE namespaces ADD COLUMN tools_default text NOT NULL DEFAULT 'enabled'
    CHECK (tools_default IN ('enabled', 'disabled'));
