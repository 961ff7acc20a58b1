-- OAuth identities an admin has blocked (`keyadm oauth block`): a subject or a client id,
-- from one issuer or from any (''). Every gateway reloads the list on the NOTIFY below,
-- so a block reaches all of them within the notification's latency; tokens are checked
-- against it on every request.
CREATE TABLE oauth_blocks (
    kind        text NOT NULL CHECK (kind IN ('sub', 'client_id')),
    value       text NOT NULL CHECK (length(value) BETWEEN 1 AND 512),
    issuer      text NOT NULL DEFAULT '' CHECK (length(issuer) <= 2048),
    reason      text CHECK (length(reason) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value, issuer)
);

CREATE FUNCTION metamcp_notify_oauth_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('metamcp_changes', json_build_object(
        'table', 'oauth_blocks', 'op', lower(TG_OP))::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER oauth_blocks_changed AFTER INSERT OR UPDATE OR DELETE ON oauth_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION metamcp_notify_oauth_blocks();
