-- Per-key limits (NULL: the process default applies).
--   rate            'N/s' or 'N/m' (a token bucket), or 'unlimited' (exempt from the default)
--   burst           the bucket's size (default: the rate's count, or METAMCP_KEY_BURST)
--   max_concurrent  MCP requests in flight at once; 0 = unlimited
--   daily_calls     tool calls per UTC day; 0 = unlimited
ALTER TABLE api_keys
    ADD COLUMN rate text CHECK (rate ~ '^([1-9][0-9]{0,9}/[sm]|unlimited)$'),
    ADD COLUMN burst integer CHECK (burst BETWEEN 1 AND 1000000000),
    ADD COLUMN max_concurrent integer CHECK (max_concurrent BETWEEN 0 AND 1000000),
    ADD COLUMN daily_calls bigint CHECK (daily_calls BETWEEN 0 AND 1000000000000);

-- A change of limits reaches every gateway like any other change of the key.
DROP TRIGGER api_keys_changed_fields ON api_keys;
CREATE TRIGGER api_keys_changed_fields
    AFTER UPDATE OF name, description, scope, namespaces, secret_hash, is_active, expires_at,
        rate, burst, max_concurrent, daily_calls
    ON api_keys FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('id');

-- A namespace may limit a tool's calls per key ('N/s' or 'N/m').
ALTER TABLE namespace_tools
    ADD COLUMN rate text CHECK (rate ~ '^[1-9][0-9]{0,9}/[sm]$');
