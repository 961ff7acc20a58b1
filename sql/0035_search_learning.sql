-- What tool search learned from the calls that follow searches (src/search/learning/,
-- docs/guides/tool-search.md): one key's weight in one namespace's cell (a word of a
-- need and the tool agents called after it), as of `at` (unix seconds; it halves every
-- 14 days from then). Replicas write the cells they move and read the others' by
-- `changed`; faded rows are deleted.
CREATE TABLE search_learning (
    namespace text NOT NULL,
    term text NOT NULL,
    tool text NOT NULL,
    key_id text NOT NULL,
    weight real NOT NULL,
    at bigint NOT NULL,
    changed timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, term, tool, key_id)
);
CREATE INDEX search_learning_changed ON search_learning (changed);
