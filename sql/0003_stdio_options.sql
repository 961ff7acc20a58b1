-- stdio servers: the directory the command runs in, and how many calls may be in flight
-- on its pipe at once (more wait in a bounded queue).
ALTER TABLE mcp_servers
    ADD COLUMN cwd text,
    ADD COLUMN max_concurrency integer NOT NULL DEFAULT 32
        CHECK (max_concurrency BETWEEN 1 AND 1024);
