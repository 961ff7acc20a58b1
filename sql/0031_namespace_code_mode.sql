-- A namespace's code mode: `off` (the default) or `on` (its view offers the gateway's
-- `run_code`, beside `search_tools` and `call_tool`).
ALTER TABLE namespaces ADD COLUMN code_mode text NOT NULL DEFAULT 'off'
    CHECK (code_mode IN ('off', 'on'));
