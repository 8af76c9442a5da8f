-- Undoes 000037: the qualified groups and lead_funnel.qualified_at go, the functions of 000033
-- come back, and leads_org_id_qualified_at_idx of 000035 is built again.
LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE lead_funnel, lead_funnel_days IN ACCESS EXCLUSIVE MODE;

CREATE FUNCTION lead_funnel_keys(p_created_at timestamptz, p_source text, p_step smallint)
    RETURNS TABLE (dim text, day date, key text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ VALUES ('step', (p_created_at AT TIME ZONE 'UTC')::date, p_step::text),
          ('source', (p_created_at AT TIME ZONE 'UTC')::date, p_source) $$;

CREATE OR REPLACE FUNCTION lead_funnel_days_insert() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, dim, day, key, count(*) AS n
        FROM new_rows CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step) k
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
        FROM old_rows CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step) k
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
        FROM (SELECT -1 AS s, org_id, created_at, source, step FROM old_rows WHERE alive
              UNION ALL
              SELECT 1, org_id, created_at, source, step FROM new_rows WHERE alive) x
            CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step) k
        GROUP BY 1, 2, 3, 4
        HAVING sum(s) <> 0
        ORDER BY 1, 2, 3, 4
    LOOP
        PERFORM lead_funnel_days_add(g.org_id, g.dim, g.day, g.key, g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

DROP FUNCTION lead_funnel_keys(timestamptz, text, smallint, timestamptz);

CREATE OR REPLACE FUNCTION leads_analytics_insert() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    INSERT INTO lead_funnel (org_id, lead_id, created_at, source, step, alive)
    SELECT org_id, id, created_at, coalesce(source, ''), lead_funnel_step(stage), deleted_at IS NULL
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

CREATE OR REPLACE FUNCTION leads_analytics_update() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    UPDATE lead_funnel f
    SET step = greatest(f.step, lead_funnel_step(c.stage)), source = coalesce(c.source, ''),
        created_at = c.created_at, alive = c.deleted_at IS NULL
    FROM (SELECT n.org_id, n.id, n.stage, n.source, n.created_at, n.deleted_at
          FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.id = n.id
          WHERE n.stage IS DISTINCT FROM o.stage OR n.source IS DISTINCT FROM o.source
             OR n.created_at IS DISTINCT FROM o.created_at OR (n.deleted_at IS NULL) <> (o.deleted_at IS NULL)
          ORDER BY n.org_id, n.id) c
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

DELETE FROM lead_funnel_days WHERE dim = 'qualified';
ALTER TABLE lead_funnel_days DROP CONSTRAINT lead_funnel_days_dim_check;
ALTER TABLE lead_funnel_days ADD CONSTRAINT lead_funnel_days_dim_check CHECK (dim IN ('step', 'source'));
COMMENT ON TABLE lead_funnel_days IS
    'The alive rows of lead_funnel counted per UTC day of created_at and step (dim step, key the step) and per day and source (dim source, key the source), '
    'in a few rows per group (the sum over them is exact; a row may be negative). Maintained by the lead_funnel_days_* triggers.';

ALTER TABLE lead_funnel DROP COLUMN qualified_at;
COMMENT ON TABLE lead_funnel IS
    'Per lead: creation time, source ('''' for none), the furthest funnel step its history reached (0-5, only grows) and whether it is not deleted. '
    'Maintained by the leads_analytics_* and deals_lead_funnel_won triggers (never written by code); read by GET /analytics/funnel and /dashboard.';

CREATE INDEX IF NOT EXISTS leads_org_id_qualified_at_idx ON leads (org_id, qualified_at)
    WHERE qualified_at IS NOT NULL AND deleted_at IS NULL;
COMMENT ON INDEX leads_org_id_qualified_at_idx IS 'The live qualified leads by qualification time: the weekly report''s qualified count.';
