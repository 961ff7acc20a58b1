-- Resource subscriptions of sessions, shared between replicas: a client may subscribe
-- through one replica and hold its GET stream on another. The replica holding the stream
-- learns of the subscription from the NOTIFY below (or reads the session's rows when the
-- stream opens) and subscribes upstream itself. Rows go with their session: when it is
-- ended, or once it has expired.
CREATE TABLE resource_subscriptions (
    conversation text NOT NULL CHECK (length(conversation) <= 200),
    uri          text NOT NULL CHECK (length(uri) <= 4096),
    namespace    text CHECK (length(namespace) <= 200),
    key_id       text NOT NULL DEFAULT '' CHECK (length(key_id) <= 64),
    expires_at   timestamptz NOT NULL,
    -- The gateway process that wrote it (it ignores its own announcements).
    origin       text NOT NULL DEFAULT '' CHECK (length(origin) <= 64),
    PRIMARY KEY (conversation, uri)
);
CREATE INDEX resource_subscriptions_expiry ON resource_subscriptions (expires_at);

CREATE FUNCTION metamcp_notify_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('metamcp_changes', json_build_object(
            'table', 'resource_subscriptions', 'op', 'insert', 'conversation', NEW.conversation,
            'uri', NEW.uri, 'namespace', NEW.namespace, 'key_id', NEW.key_id,
            'expires', extract(epoch FROM NEW.expires_at)::bigint, 'origin', NEW.origin)::text);
    ELSE
        PERFORM pg_notify('metamcp_changes', json_build_object(
            'table', 'resource_subscriptions', 'op', 'delete', 'conversation', OLD.conversation,
            'uri', OLD.uri, 'origin', OLD.origin)::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER resource_subscriptions_changed AFTER INSERT OR DELETE ON resource_subscriptions
    FOR EACH ROW EXECUTE FUNCTION metamcp_notify_subscription();
