-- A namespace may have the gateway check each tools/call's arguments against the
-- tool's inputSchema before forwarding it (`"validate_arguments": true`); off by default.
ALTER TABLE namespaces ADD COLUMN validate_arguments boolean NOT NULL DEFAULT false;
