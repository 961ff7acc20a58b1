-- Tasks backends run for clients (MCP tasks), as the gateway knows them: one row per
-- task, under the id the client was given (sealed: it names the backend, the replica
-- talking to it and the caller). `tasks/list` reads the caller's rows, whichever
-- replica created them; a key's live rows are bounded (METAMCP_KEY_MAX_TASKS). Rows go
-- once their task's time to live is over. `task` is the task as the client last saw it.
CREATE TABLE tasks (
    id         text PRIMARY KEY CHECK (length(id) <= 2048),
    key_id     text NOT NULL DEFAULT '' CHECK (length(key_id) <= 64),
    namespace  text CHECK (length(namespace) <= 200),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL,
    task       jsonb NOT NULL CHECK (length(task::text) <= 65536)
);
CREATE INDEX tasks_caller ON tasks (key_id, namespace, created_at, id);
CREATE INDEX tasks_expiry ON tasks (expires_at);
