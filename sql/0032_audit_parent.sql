-- Each row's identity, and the call it was made within. `call_id` is minted by the
-- gateway when the row is recorded (a code-mode run's when the run starts, so its inner
-- calls can name it before its own row is written); rows written before this migration
-- have none. `parent` is the `call_id` of the `run_code` call whose script made this
-- call (code mode's inner calls, refused ones included); NULL for every other row.
-- A run's inner calls are read by parent, newest first: a partial index, since most rows
-- have none.
ALTER TABLE audit_log ADD COLUMN call_id uuid;
ALTER TABLE audit_log ADD COLUMN parent uuid;
CREATE INDEX audit_log_parent ON audit_log (parent, at DESC, id DESC) WHERE parent IS NOT NULL;
