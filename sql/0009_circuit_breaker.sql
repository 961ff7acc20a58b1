-- A circuit breaker per backend: it opens after breaker_failures consecutive failed
-- calls (0 disables it) and lets one probe through after breaker_cooldown_ms.
ALTER TABLE mcp_servers
    ADD COLUMN breaker_failures integer NOT NULL DEFAULT 5
        CHECK (breaker_failures BETWEEN 0 AND 1000),
    ADD COLUMN breaker_cooldown_ms integer NOT NULL DEFAULT 10000
        CHECK (breaker_cooldown_ms BETWEEN 100 AND 3600000);
