-- A policy's mode (src/policy/rules.rs, docs/guides/policies.md): `enforce` binds,
-- `audit` is decided on every call it would decide and binds nothing; what it would
-- have done is written in the audit row's `policy_audit`.
ALTER TABLE policies ADD COLUMN mode text NOT NULL DEFAULT 'enforce'
    CHECK (mode IN ('enforce', 'audit'));
ALTER TABLE audit_log ADD COLUMN policy_audit text;
