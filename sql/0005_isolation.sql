-- stdio servers: a child per client session (session_mode 'isolated', at most
-- max_instances at once) instead of one shared child; an address-space limit per child
-- (RLIMIT_AS, MiB; NULL: none).
ALTER TABLE mcp_servers
    ADD COLUMN session_mode text NOT NULL DEFAULT 'shared'
        CHECK (session_mode IN ('shared', 'isolated')),
    ADD COLUMN max_instances integer NOT NULL DEFAULT 8
        CHECK (max_instances BETWEEN 1 AND 1024),
    ADD COLUMN max_memory_mb integer CHECK (max_memory_mb BETWEEN 16 AND 1048576);
