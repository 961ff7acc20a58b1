-- Calls each key made through the gateway (counted in memory, added every few seconds;
-- like last_used_at, not a change that is announced).
ALTER TABLE api_keys ADD COLUMN calls bigint NOT NULL DEFAULT 0;
