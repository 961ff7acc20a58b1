-- A call the gateway refused before any backend saw it (a policy, a confirmation that
-- did not come, a guardrail, a tool disabled or not allowed in the namespace, a tool
-- held for review, a key's tool limit) is an audit row with outcome `denied` and, here,
-- why: `policy NAME`, `confirmation OUTCOME (policy NAME)`, `guardrail NAME`,
-- `disabled`, `held`, `limit KIND`. NULL for every other row.
ALTER TABLE audit_log ADD COLUMN reason text;
