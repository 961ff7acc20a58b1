-- Limits shared by every replica on this database (src/auth/shared.rs). Replicas lease
-- from these rows in batches and spend the leases from memory: no statement per call.
-- Time is PostgreSQL's (clock_timestamp()), never a replica's, so a replica whose clock
-- jumps changes nothing here.

-- Replicas that lease, and when each last said it was alive. Slots of a replica not seen
-- for 10 s are no longer counted, and its rows are removed.
CREATE TABLE limit_replicas (
    replica text PRIMARY KEY CHECK (length(replica) BETWEEN 1 AND 64),
    seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A token bucket per key ('' scope: the key's rate) or per key and tool (scope: the
-- namespace tool's id). A full bucket holds nothing a missing row would not, so rows
-- that have refilled are deleted (the table holds buckets in use).
CREATE TABLE limit_buckets (
    key_id     text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 128),
    scope      text NOT NULL CHECK (length(scope) <= 512),
    tokens     double precision NOT NULL,
    per_second double precision NOT NULL CHECK (per_second > 0),
    capacity   double precision NOT NULL CHECK (capacity >= 1),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (key_id, scope)
);

-- Places in flight (kind 'calls': max_concurrent; 'streams': METAMCP_KEY_MAX_STREAMS)
-- each replica holds for a key. A replica holds the ones in use and a few spare.
CREATE TABLE limit_slots (
    key_id  text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 128),
    kind    text NOT NULL CHECK (kind IN ('calls', 'streams')),
    replica text NOT NULL CHECK (length(replica) BETWEEN 1 AND 64),
    held    integer NOT NULL CHECK (held >= 0),
    PRIMARY KEY (key_id, kind, replica)
);
CREATE INDEX limit_slots_replica ON limit_slots (replica);

-- Tool calls per key and UTC day (PostgreSQL's clock), reserved by replicas in blocks;
-- a block's unspent calls are given back when the replica goes idle or stops.
CREATE TABLE limit_daily (
    key_id text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 128),
    day    date NOT NULL,
    used   bigint NOT NULL CHECK (used >= 0),
    PRIMARY KEY (key_id, day)
);

-- Leases tokens from buckets, one row per (key, scope): first `give` unspent tokens back,
-- then refill at the rate (clipped to the capacity: a lowered limit cuts what is left),
-- then grant up to `take` whole tokens. Returns what was granted, the bucket's level after,
-- and, when less than `take` was granted, how many milliseconds until the bucket holds
-- what it gains in 100 ms (at least one token, at most `take`): when to ask again.
CREATE FUNCTION metamcp_lease_tokens(
    keys text[], scopes text[], rates float8[], capacities float8[], takes float8[],
    gives float8[]
) RETURNS TABLE (granted float8, level float8, wait_ms float8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    t timestamptz := clock_timestamp();
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

-- Sets the slots `replica` holds for each (key, kind) to `want`: always when it gives
-- some back, and when it asks for more, as many as the limit leaves beside the live
-- replicas' holdings (never fewer than it holds). Returns what it holds now.
CREATE FUNCTION metamcp_lease_slots(
    me text, keys text[], kinds text[], maxes int[], wants int[]
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
           AND (s.replica = me OR r.seen_at > clock_timestamp() - interval '10 seconds');
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

-- Reserves blocks of today's calls (UTC, PostgreSQL's clock): first gives back `gives`
-- unspent calls of a block reserved on `give_days` (ignored once that day is over) and
-- charges `charges` calls made without a reservation (while the database was away), then
-- reserves up to `wants` under `quotas`. Returns the calls reserved, today's count after,
-- today (days since 1970-01-01) and the milliseconds left until the next UTC midnight.
CREATE FUNCTION metamcp_reserve_calls(
    keys text[], quotas int8[], wants int8[], gives int8[], give_days int[], charges int8[]
) RETURNS TABLE (granted int8, used int8, today int, until_midnight_ms int8)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    i int;
    t timestamp := clock_timestamp() AT TIME ZONE 'UTC';
    d date := (clock_timestamp() AT TIME ZONE 'UTC')::date;
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
