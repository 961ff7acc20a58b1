-- Tool definitions pinned on first sight, and changes held for an admin's review
-- (src/pins/). A server's and a namespace's `tool_changes`: `hold` (the default) keeps a
-- changed or new tool out of every list and refuses its calls until it is approved;
-- `accept` re-pins at once (with the event and the audit entry).
ALTER TABLE mcp_servers ADD COLUMN tool_changes text NOT NULL DEFAULT 'hold'
    CHECK (tool_changes IN ('hold', 'accept'));
ALTER TABLE namespaces ADD COLUMN tool_changes text NOT NULL DEFAULT 'hold'
    CHECK (tool_changes IN ('hold', 'accept'));

-- The definition each tool and prompt of each server was last approved with: its
-- canonical JSON and that JSON's SHA-256, which every definition offered is compared to.
CREATE TABLE tool_pins (
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('tool', 'prompt')),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 512),
    digest     text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    definition jsonb NOT NULL,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, kind, name)
);

-- What is held: one row per tool or prompt whose offered definition is not its pin
-- (`changed`), that a pinned server added (`added`), or whose text screening flagged
-- (`flagged`). `rejected`: an admin kept the old pin; the offered definition stays held,
-- out of the reviews, until the server offers another.
CREATE TABLE tool_reviews (
    server_id  uuid NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('tool', 'prompt')),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 512),
    review     text NOT NULL CHECK (review IN ('changed', 'added', 'flagged')),
    digest     text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    definition jsonb NOT NULL,
    findings   jsonb NOT NULL DEFAULT '[]',
    rejected   boolean NOT NULL DEFAULT false,
    held_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (server_id, kind, name)
);

-- Every replica reloads pins and reviews when either changes.
CREATE TRIGGER tool_pins_changed AFTER INSERT OR UPDATE OR DELETE ON tool_pins
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('name');
CREATE TRIGGER tool_reviews_changed AFTER INSERT OR UPDATE OR DELETE ON tool_reviews
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_change('name');
