-- 000037: the weekly report's lead figures from the lead projections of 000033, so that their
-- read does not grow with the week's leads.
--
-- The report counts the alive leads created in its week and the alive leads qualified in it.
-- Counted from leads, both read a heap page per lead of the week: the recurring sweeps update
-- most leads of a large org every day, which clears the visibility map of leads, so even an
-- index-only scan visits the heap. At 1,000,000 leads a week holds some 200,000 new and 75,000
-- qualified leads: a 1.7 s read that doubled the api's write latency while it ran.
--
-- lead_funnel_days already counts the alive leads per UTC day of creation (dim 'source', summed
-- over its keys). This migration adds the alive qualified leads per UTC day of qualified_at:
--
--   lead_funnel.qualified_at   the lead's qualified_at, kept by the leads_analytics_* triggers
--                              with the rest of the row: an update of leads that changes it is
--                              carried over like a change of stage, source, creation or deletion.
--   lead_funnel_days dim 'qualified'
--                              key '', day the UTC day of qualified_at: the alive rows of
--                              lead_funnel with a qualified_at, kept by the lead_funnel_days_*
--                              triggers through lead_funnel_keys, which now gives a row its
--                              qualified group beside its step and source groups.
--   lead_funnel_org_id_qualified_at_idx
--                              the partial edge days of a window that is not whole UTC days, as
--                              lead_funnel_org_id_created_at_idx serves the created ones: an
--                              index-only read, since lead_funnel changes only when a lead's
--                              stage, source, qualification or deletion does (its visibility map
--                              stays set through the sweeps' updates of leads).
--
-- leads_org_id_qualified_at_idx of 000035 served the report alone and goes: every update of a
-- qualified lead that is not HOT wrote an entry to it, for a read that no longer uses it.
--
-- The update trigger of leads does no more work for a statement that changes none of those
-- columns: it compares one more column of the pair of rows it joins already, and lead_funnel and
-- lead_funnel_days are not written.
--
-- Backfill under the locks below (writes of leads, and of deals whose won deals raise
-- lead_funnel's step, wait for it). lead_funnel and lead_funnel_days ENABLE row-level security
-- without FORCE, as leads, so the owner running this reads and writes every org's rows. To
-- rebuild the projections, follow 000033 with qualified_at in lead_funnel's insert.

LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE lead_funnel, lead_funnel_days IN ACCESS EXCLUSIVE MODE;

ALTER TABLE lead_funnel ADD COLUMN qualified_at timestamptz;
COMMENT ON COLUMN lead_funnel.qualified_at IS 'The lead''s qualified_at (null while never qualified): the day of its qualified group in lead_funnel_days.';
COMMENT ON TABLE lead_funnel IS
    'Per lead: creation time, source ('''' for none), the furthest funnel step its history reached (0-5, only grows), when it was qualified and whether it is not deleted. '
    'Maintained by the leads_analytics_* and deals_lead_funnel_won triggers (never written by code); read by GET /analytics/funnel, /dashboard and the weekly report.';

ALTER TABLE lead_funnel_days DROP CONSTRAINT lead_funnel_days_dim_check;
ALTER TABLE lead_funnel_days ADD CONSTRAINT lead_funnel_days_dim_check CHECK (dim IN ('step', 'source', 'qualified'));
COMMENT ON TABLE lead_funnel_days IS
    'The alive rows of lead_funnel counted per UTC day of created_at and step (dim step, key the step), per day of created_at and source (dim source, key the source) '
    'and per UTC day of qualified_at (dim qualified, key ''''; rows with a qualified_at only), '
    'in a few rows per group (the sum over them is exact; a row may be negative). Maintained by the lead_funnel_days_* triggers.';

-- The backfill of the column, with lead_funnel_days' update trigger off: the groups it would
-- move are inserted at once below.
ALTER TABLE lead_funnel DISABLE TRIGGER lead_funnel_days_update;
UPDATE lead_funnel f SET qualified_at = l.qualified_at
FROM leads l
WHERE l.org_id = f.org_id AND l.id = f.lead_id AND l.qualified_at IS NOT NULL;
ALTER TABLE lead_funnel ENABLE TRIGGER lead_funnel_days_update;

INSERT INTO lead_funnel_days (org_id, dim, day, key, shard, lead_count)
SELECT org_id, 'qualified', (qualified_at AT TIME ZONE 'UTC')::date, '', 0, count(*)
FROM lead_funnel WHERE alive AND qualified_at IS NOT NULL
GROUP BY 1, 3;

CREATE INDEX lead_funnel_org_id_qualified_at_idx ON lead_funnel (org_id, qualified_at) WHERE alive AND qualified_at IS NOT NULL;
COMMENT ON INDEX lead_funnel_org_id_qualified_at_idx IS 'The alive qualified leads by qualification time: the partial edge days of a window''s qualified count.';

DROP INDEX leads_org_id_qualified_at_idx;

-- lead_funnel_keys are the lead_funnel_days groups a lead_funnel row counts in: its creation day
-- and step, its creation day and source, and its qualification day when it has one.
CREATE FUNCTION lead_funnel_keys(p_created_at timestamptz, p_source text, p_step smallint, p_qualified_at timestamptz)
    RETURNS TABLE (dim text, day date, key text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT k.dim, k.day, k.key
   FROM (VALUES ('step', (p_created_at AT TIME ZONE 'UTC')::date, p_step::text),
                ('source', (p_created_at AT TIME ZONE 'UTC')::date, p_source),
                ('qualified', (p_qualified_at AT TIME ZONE 'UTC')::date, '')) k (dim, day, key)
   WHERE k.day IS NOT NULL $$;

CREATE OR REPLACE FUNCTION lead_funnel_days_insert() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, dim, day, key, count(*) AS n
        FROM new_rows CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step, qualified_at) k
        WHERE alive
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    LOOP
        PERFORM lead_funnel_days_add(g.org_id, g.dim, g.day, g.key, g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION lead_funnel_days_delete() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, dim, day, key, count(*) AS n
        FROM old_rows CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step, qualified_at) k
        WHERE alive
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    LOOP
        PERFORM lead_funnel_days_add(g.org_id, g.dim, g.day, g.key, -g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION lead_funnel_days_update() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, dim, day, key, sum(s)::bigint AS n
        FROM (SELECT -1 AS s, org_id, created_at, source, step, qualified_at FROM old_rows WHERE alive
              UNION ALL
              SELECT 1, org_id, created_at, source, step, qualified_at FROM new_rows WHERE alive) x
            CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step, qualified_at) k
        GROUP BY 1, 2, 3, 4
        HAVING sum(s) <> 0
        ORDER BY 1, 2, 3, 4
    LOOP
        PERFORM lead_funnel_days_add(g.org_id, g.dim, g.day, g.key, g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

DROP FUNCTION lead_funnel_keys(timestamptz, text, smallint);

-- leads_analytics_insert: a statement's new leads get their lead_funnel rows and are counted
-- per stage.
CREATE OR REPLACE FUNCTION leads_analytics_insert() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    INSERT INTO lead_funnel (org_id, lead_id, created_at, source, step, alive, qualified_at)
    SELECT org_id, id, created_at, coalesce(source, ''), lead_funnel_step(stage), deleted_at IS NULL, qualified_at
    FROM new_rows
    ORDER BY org_id, id;
    FOR g IN
        SELECT org_id, stage, count(*) AS n FROM new_rows WHERE deleted_at IS NULL
        GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        PERFORM lead_stage_totals_add(g.org_id, g.stage, g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

-- leads_analytics_update: the leads of a statement whose stage, source, creation, qualification
-- or deletion changed carry the change to lead_funnel (the step never falls) and to the stage
-- counts; an update of other columns writes nothing. The changed leads are the new rows EXCEPT
-- the old ones (a hashed or sorted set operation), not a join of the two transition tables:
-- PL/pgSQL plans each statement once per session, with the sizes of the transition tables of
-- that first call, and a join first planned for an empty statement (an UPDATE that matched no
-- lead) stays a nested loop of the two tables for every later statement of the session, however
-- many rows: 3,000 rows took 5 s, and the sweeps' chunks of leads ran three to four times slower
-- on pooled connections that had seen an empty update (000033's join).
CREATE OR REPLACE FUNCTION leads_analytics_update() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    UPDATE lead_funnel f
    SET step = greatest(f.step, lead_funnel_step(c.stage)), source = coalesce(c.source, ''),
        created_at = c.created_at, alive = c.alive, qualified_at = c.qualified_at
    FROM (SELECT org_id, id, stage, source, created_at, deleted_at IS NULL AS alive, qualified_at FROM new_rows
          EXCEPT
          SELECT org_id, id, stage, source, created_at, deleted_at IS NULL, qualified_at FROM old_rows
          ORDER BY 1, 2) c
    WHERE f.org_id = c.org_id AND f.lead_id = c.id;
    FOR g IN
        SELECT org_id, stage, sum(s)::bigint AS n
        FROM (SELECT -1 AS s, org_id, stage FROM old_rows WHERE deleted_at IS NULL
              UNION ALL
              SELECT 1, org_id, stage FROM new_rows WHERE deleted_at IS NULL) x
        GROUP BY 1, 2
        HAVING sum(s) <> 0
        ORDER BY 1, 2
    LOOP
        PERFORM lead_stage_totals_add(g.org_id, g.stage, g.n);
    END LOOP;
    RETURN NULL;
END;
$$;
