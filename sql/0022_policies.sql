-- Policies by identity (src/policy/rules.rs, docs/policies.md): a named CEL rule list,
-- for every view (namespace NULL) or one namespace's. Checked when written; every
-- replica reloads them on NOTIFY (the registry's channel and trigger function).
CREATE TABLE policies (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    text       text NOT NULL CHECK (length(text) <= 262144),
    namespace  text CHECK (length(namespace) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER policies_changed AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('name');
