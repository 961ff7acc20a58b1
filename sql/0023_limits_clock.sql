-- The shared limits' functions read the limiter's clock: PostgreSQL's, moved forward by
-- `skew_ms` (0 in production; a test advances the gateway's clock instead of waiting on
-- the wall clock, src/base/time.rs). Each function is replaced by the same with the skew
-- as its last argument, defaulting to 0, so a replica of the previous release calls it
-- unchanged.
DROP FUNCTION metamcp_lease_tokens(text[], text[], float8[], float8[], float8[], float8[]);
DROP FUNCTION metamcp_lease_slots(text, text[], text[], int[], int[]);
DROP FUNCTION metamcp_reserve_calls(text[], int8[], int8[], int8[], int[], int8[]);

CREATE FUNCTION metamcp_lease_tokens(
    keys text[], scopes text[], rates float8[], capacities float8[], takes float8[],
    gives float8[], skew_ms float8 DEFAULT 0
) RETURNS TABLE (granted float8, level float8, wait_ms float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    t timestamptz := clock_timestamp() + skew_ms * interval '1 ms';
    b limit_buckets;
    lvl float8;
    g float8;
BEGIN
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        INSERT INTO limit_buckets AS x (key_id, scope, tokens, per_second, capacity, updated_at)
        VALUES (keys[i], scopes[i], capacities[i], rates[i], capacities[i], t)
        ON CONFLICT (key_id, scope) DO UPDATE SET per_second = EXCLUDED.per_second
        RETURNING x.* INTO b;
        lvl := least(capacities[i], b.tokens + greatest(gives[i], 0)
            + rates[i] * greatest(extract(epoch FROM t - b.updated_at), 0));
        g := greatest(least(takes[i], floor(lvl)), 0);
        UPDATE limit_buckets SET tokens = lvl - g, capacity = capacities[i], updated_at = t
        WHERE key_id = keys[i] AND scope = scopes[i];
        granted := g;
        level := lvl - g;
        wait_ms := CASE WHEN g >= takes[i] THEN 0
            ELSE ceil((least(takes[i], capacities[i], greatest(1, rates[i] * 0.1)) - (lvl - g))
                / rates[i] * 1000) END;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE FUNCTION metamcp_lease_slots(
    me text, keys text[], kinds text[], maxes int[], wants int[], skew_ms float8 DEFAULT 0
) RETURNS TABLE (held int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    mine int;
    others int;
    h int;
BEGIN
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('metamcp-slots:' || keys[i] || ':' || kinds[i], 0));
        SELECT coalesce(sum(s.held) FILTER (WHERE s.replica <> me), 0),
               coalesce(sum(s.held) FILTER (WHERE s.replica = me), 0)
          INTO others, mine
          FROM limit_slots s LEFT JOIN limit_replicas r ON r.replica = s.replica
         WHERE s.key_id = keys[i] AND s.kind = kinds[i]
           AND (s.replica = me OR r.seen_at > clock_timestamp() + skew_ms * interval '1 ms' - interval '10 seconds');
        IF wants[i] <= mine THEN
            h := greatest(wants[i], 0);
        ELSE
            h := greatest(mine, least(wants[i], maxes[i] - others));
        END IF;
        IF h = 0 THEN
            DELETE FROM limit_slots WHERE key_id = keys[i] AND kind = kinds[i] AND replica = me;
        ELSE
            INSERT INTO limit_slots (key_id, kind, replica, held) VALUES (keys[i], kinds[i], me, h)
            ON CONFLICT (key_id, kind, replica) DO UPDATE SET held = EXCLUDED.held;
        END IF;
        held := h;
        RETURN NEXT;
    END LOOP;
END $$;

CREATE FUNCTION metamcp_reserve_calls(
    keys text[], quotas int8[], wants int8[], gives int8[], give_days int[], charges int8[],
    skew_ms float8 DEFAULT 0
) RETURNS TABLE (granted int8, used int8, today int, until_midnight_ms int8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    t timestamp := (clock_timestamp() + skew_ms * interval '1 ms') AT TIME ZONE 'UTC';
    d date := t::date;
    u int8;
    g int8;
BEGIN
    FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
        INSERT INTO limit_daily AS x (key_id, day, used) VALUES (keys[i], d, 0)
        ON CONFLICT (key_id, day) DO UPDATE SET used = x.used
        RETURNING x.used INTO u;
        IF give_days[i] = d - date '1970-01-01' THEN
            u := greatest(u - greatest(gives[i], 0), 0);
        END IF;
        u := u + greatest(charges[i], 0);
        g := greatest(least(wants[i], quotas[i] - u), 0);
        u := u + g;
        UPDATE limit_daily SET used = u WHERE key_id = keys[i] AND day = d;
        granted := g;
        used := u;
        today := d - date '1970-01-01';
        until_midnight_ms := ceil(extract(epoch FROM (d + 1)::timestamp - t) * 1000);
        RETURN NEXT;
    END LOOP;
END $$;
