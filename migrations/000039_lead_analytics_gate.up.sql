-- 000039: the update trigger of leads runs its statements only for a statement that changed a
-- counted column of some lead.
--
-- leads_analytics_update is a statement trigger with transition tables (000033, 000037): it
-- fires for every UPDATE of leads, and its two statements (the changed leads as new rows EXCEPT
-- old ones, and the stage counts as a sum over both tables) ran whatever the statement changed.
-- Most updates of leads change none of the columns it counts: a PATCH of the notes, a logged
-- activity's last_activity_at, an enrichment, a score, and the scheduled sweeps' ghost risk and
-- priority. For them the two statements found nothing to write, and cost a one-lead update of
-- the notes about a tenth of its rate (3,760 against 4,250 a second on 2 connections, pgbench)
-- and a ghost-risk sweep about a tenth of its server time (BENCHMARKS.md, "Scheduled sweeps").
--
-- The gate: leads_analytics_changed, an AFTER UPDATE row trigger whose WHEN compares the counted
-- columns (org_id, id, stage, source, created_at, whether deleted_at is set, qualified_at: what
-- the EXCEPT compares and the stage counts read) of the old and new row. PostgreSQL evaluates a
-- row trigger's WHEN when it queues the event, so a lead whose counted columns stayed costs one
-- comparison and no call. For a lead whose counted columns changed, leads_analytics_mark sets
-- app.leads_analytics_pending for the transaction. Row-level AFTER triggers fire before
-- statement-level ones at the end of the statement, so leads_analytics_update finds the mark set
-- when a row of its statement changed, clears it, and does what it did before over the whole
-- statement (still set-based, in the order of its groups); without the mark it returns at once.
--
-- The mark is a setting of the transaction (set_config's is_local), so a rollback to a
-- savepoint takes back a mark set after it, and between statements it is clear. A mark left set
-- (leads_analytics_update disabled while leads_analytics_changed is not, as a backfill might do)
-- only makes a later statement's trigger do its statements for nothing, as before this
-- migration. A mark missing where a counted column changed would lose a change, so the WHEN
-- names every column the trigger's statements compare; TestLeadUpdateTriggerGate changes each
-- one alone, in a statement of several leads, and requires exact projections.
CREATE FUNCTION leads_analytics_mark() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM set_config('app.leads_analytics_pending', 'on', true);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION leads_analytics_mark() IS
    'Trigger function of leads_analytics_changed: marks the transaction (app.leads_analytics_pending) so that the statement''s leads_analytics_update does its work.';

CREATE OR REPLACE FUNCTION leads_analytics_update() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    IF current_setting('app.leads_analytics_pending', true) IS DISTINCT FROM 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('app.leads_analytics_pending', '', true);
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

CREATE TRIGGER leads_analytics_changed AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.org_id <> NEW.org_id OR OLD.id <> NEW.id
          OR OLD.stage IS DISTINCT FROM NEW.stage OR OLD.source IS DISTINCT FROM NEW.source
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
          OR OLD.qualified_at IS DISTINCT FROM NEW.qualified_at)
    EXECUTE FUNCTION leads_analytics_mark();
COMMENT ON TRIGGER leads_analytics_changed ON leads IS
    'Marks a statement that changed a column leads_analytics_update counts (000039); the statement trigger does nothing without the mark.';
