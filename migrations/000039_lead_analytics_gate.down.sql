-- Undoes 000039: leads_analytics_update runs its statements for every update of leads again
-- (000037's function), and the row trigger that marked the counted changes goes.
DROP TRIGGER leads_analytics_changed ON leads;
DROP FUNCTION leads_analytics_mark();
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
