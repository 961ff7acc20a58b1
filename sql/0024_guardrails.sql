-- A namespace's external guardrails (src/model/guardrail.rs, docs/guardrails.md): HTTP
-- hooks its tool calls pass through, `[{"url", "on", "mode", "failure", "timeout_ms"}]`,
-- validated on write (at most 8). An empty array, the default, costs calls nothing.
ALTER TABLE namespaces ADD COLUMN guardrails jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(guardrails) = 'array' AND jsonb_array_length(guardrails) <= 8);
