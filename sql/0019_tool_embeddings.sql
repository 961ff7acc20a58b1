-- Tool search: the embeddings of tool definitions (src/search/semantic.rs), by the
-- SHA-256 of the model's name and the text embedded, so a definition is embedded once,
-- by whichever replica meets it first, and a restart reads it back instead of computing
-- it. 384 little-endian f32 each. Rows no view has used for 30 days are deleted
-- (app/embeddings.rs).
CREATE TABLE tool_embeddings (
    key bytea PRIMARY KEY CHECK (length(key) = 32),
    vector bytea NOT NULL CHECK (length(vector) = 1536),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_embeddings_used_at ON tool_embeddings (used_at);
