-- 000033: the projections behind GET /analytics/funnel, /velocity and /dashboard (pkg/analytics),
-- and the won and lost deals in deal_pipeline_totals (GET /analytics/pipeline).
--
-- Every figure of those routes must answer in well under 100 ms for an org with 1,000,000 leads
-- and 100,000 deals, and stay exact. Figures over deals, invoices, clients and alerts read
-- indexes (a few hundred thousand rows at most); figures over leads read projections kept by
-- triggers in the writing transaction, as deal_pipeline_totals is (000011, 000025):
--
--   lead_funnel        one row per lead: its creation time, its source, and the furthest funnel
--                      step its history ever reached (0 created, 1 qualified, 2 contacted,
--                      3 call_booked, 4 converted, 5 won: a deal of the lead was won), and
--                      whether it is alive (not soft-deleted). The step only grows: a stage
--                      change raises it to the new stage's step, a won deal to 5; nurture, lost
--                      and disqualified are no steps (0). Kept by triggers on leads and deals.
--   lead_funnel_days   the alive rows of lead_funnel counted per UTC day of creation and step
--                      (dim 'step') and, apart, per day and source (dim 'source'): a day is a few
--                      rows of each, whatever its number of leads, so that a window of two years
--                      sums a few thousand rows. In up to 16 shards per group
--                      (deal_pipeline_totals_shard: the writing transaction's id modulo 16, so that
--                      concurrent intake of one org does not queue on one row). Kept by triggers
--                      on lead_funnel.
--   lead_stage_totals  the alive leads per current stage, in the same shards. Kept by triggers
--                      on leads.
--   deal_closed_days   the won and the lost deals per UTC day of won_at or lost_at, stage and
--                      currency: their count, the sum of their values and of their cycles
--                      (closing time - created_at, in seconds), in the same shards. Kept by
--                      triggers on deals.
--
-- A window [from, to) of the funnel sums the whole UTC days inside it from lead_funnel_days and
-- reads the rest (at most the two partial days at its edges) from lead_funnel's index on
-- (org_id, created_at). A shard's or a day's figures may be negative (a lead counted in one shard
-- is subtracted in another); the sums over the shards are exact. The deletion guard of 000025
-- applies: a decrement only inserts a row while the org exists.
--
-- All three are derived data. To rebuild them, empty them and run the backfill below again,
-- under the same locks and row-level security care.

LOCK TABLE leads IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE deal_pipeline_totals IN ACCESS EXCLUSIVE MODE;

-- lead_funnel_step is the funnel step of a lead stage (0 for stages that are no step).
CREATE FUNCTION lead_funnel_step(p_stage text) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (CASE p_stage WHEN 'qualified' THEN 1 WHEN 'contacted' THEN 2 WHEN 'call_booked' THEN 3
    WHEN 'converted' THEN 4 ELSE 0 END)::smallint $$;
COMMENT ON FUNCTION lead_funnel_step(text) IS
    'The funnel step of a lead stage: qualified 1, contacted 2, call_booked 3, converted 4, any other 0 (won, 5, comes from deals).';

CREATE TABLE lead_funnel (
    org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    lead_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    source     text        NOT NULL,
    step       smallint    NOT NULL CHECK (step BETWEEN 0 AND 5),
    alive      boolean     NOT NULL,
    PRIMARY KEY (org_id, lead_id)
);
CREATE INDEX lead_funnel_org_id_created_at_idx ON lead_funnel (org_id, created_at) INCLUDE (step, source) WHERE alive;
COMMENT ON TABLE lead_funnel IS
    'Per lead: creation time, source ('''' for none), the furthest funnel step its history reached (0-5, only grows) and whether it is not deleted. '
    'Maintained by the leads_analytics_* and deals_lead_funnel_won triggers (never written by code); read by GET /analytics/funnel and /dashboard.';

CREATE TABLE lead_funnel_days (
    org_id     uuid     NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    dim        text     NOT NULL CHECK (dim IN ('step', 'source')),
    day        date     NOT NULL,
    key        text     NOT NULL,
    shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    lead_count bigint   NOT NULL,
    PRIMARY KEY (org_id, dim, day, key, shard)
);
COMMENT ON TABLE lead_funnel_days IS
    'The alive rows of lead_funnel counted per UTC day of created_at and step (dim step, key the step) and per day and source (dim source, key the source), '
    'in up to 16 shards (sum over shards is exact; a shard may be negative). Maintained by the lead_funnel_days_* triggers.';

CREATE TABLE lead_stage_totals (
    org_id     uuid     NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    stage      text     NOT NULL,
    shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    lead_count bigint   NOT NULL,
    PRIMARY KEY (org_id, stage, shard)
);
COMMENT ON TABLE lead_stage_totals IS
    'The alive (not deleted) leads per org and current stage, in up to 16 shards (sum over shards is exact). Maintained by the leads_analytics_* triggers.';

CREATE TABLE deal_closed_days (
    org_id      uuid     NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    day         date     NOT NULL,
    stage       text     NOT NULL CHECK (stage IN ('won', 'lost')),
    currency    char(3)  NOT NULL,
    shard       smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    deal_count  bigint   NOT NULL,
    value_sum   numeric  NOT NULL,
    cycle_sum   numeric  NOT NULL,
    PRIMARY KEY (org_id, day, stage, currency, shard)
);
COMMENT ON TABLE deal_closed_days IS
    'The won and lost deals per UTC day of won_at or lost_at, stage and currency: count, sum of deal_value, sum of (won_at or lost_at) - created_at in seconds; '
    'in up to 16 shards (sum over shards is exact; a shard may be negative). Maintained by the deals_closed_days_* triggers.';

-- deal_closed_days_add adds one group's deltas to its row of the transaction's shard.
CREATE FUNCTION deal_closed_days_add(p_org uuid, p_day date, p_stage text, p_currency char(3), p_n bigint, p_value numeric,
    p_cycle numeric, may_insert boolean) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF NOT may_insert THEN
        UPDATE deal_closed_days SET deal_count = deal_count + p_n, value_sum = value_sum + p_value, cycle_sum = cycle_sum + p_cycle
        WHERE org_id = p_org AND day = p_day AND stage = p_stage AND currency = p_currency AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO deal_closed_days AS t (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum)
    VALUES (p_org, p_day, p_stage, p_currency, my_shard, p_n, p_value, p_cycle)
    ON CONFLICT (org_id, day, stage, currency, shard) DO UPDATE
    SET deal_count = t.deal_count + EXCLUDED.deal_count, value_sum = t.value_sum + EXCLUDED.value_sum,
        cycle_sum = t.cycle_sum + EXCLUDED.cycle_sum;
END;
$$;

-- The deal_closed_days_* trigger functions move a statement's closed deals' contributions in
-- deal_closed_days (statement triggers with transition tables, as deal_pipeline_totals_apply);
-- a statement that touches no closed deal writes nothing.
CREATE FUNCTION deal_closed_days_insert() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, (closed_at AT TIME ZONE 'UTC')::date AS day, stage, currency, sum(s)::bigint AS n,
            sum(s * deal_value) AS v, sum(s * extract(epoch FROM closed_at - created_at)) AS c, bool_or(s > 0) AS has_new
        FROM (SELECT 1 AS s, org_id, stage, currency, deal_value, created_at, CASE stage WHEN 'won' THEN won_at ELSE lost_at END AS closed_at
              FROM new_rows WHERE stage IN ('won', 'lost')) x
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
    LOOP
        IF g.n <> 0 OR g.v <> 0 OR g.c <> 0 THEN
            PERFORM deal_closed_days_add(g.org_id, g.day, g.stage, g.currency, g.n, g.v, g.c, g.has_new);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION deal_closed_days_delete() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, (closed_at AT TIME ZONE 'UTC')::date AS day, stage, currency, sum(s)::bigint AS n,
            sum(s * deal_value) AS v, sum(s * extract(epoch FROM closed_at - created_at)) AS c, bool_or(s > 0) AS has_new
        FROM (SELECT -1 AS s, org_id, stage, currency, deal_value, created_at, CASE stage WHEN 'won' THEN won_at ELSE lost_at END AS closed_at
              FROM old_rows WHERE stage IN ('won', 'lost')) x
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
    LOOP
        IF g.n <> 0 OR g.v <> 0 OR g.c <> 0 THEN
            PERFORM deal_closed_days_add(g.org_id, g.day, g.stage, g.currency, g.n, g.v, g.c, g.has_new);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

CREATE FUNCTION deal_closed_days_update() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT org_id, (closed_at AT TIME ZONE 'UTC')::date AS day, stage, currency, sum(s)::bigint AS n,
            sum(s * deal_value) AS v, sum(s * extract(epoch FROM closed_at - created_at)) AS c, bool_or(s > 0) AS has_new
        FROM (SELECT -1 AS s, org_id, stage, currency, deal_value, created_at, CASE stage WHEN 'won' THEN won_at ELSE lost_at END AS closed_at
              FROM old_rows WHERE stage IN ('won', 'lost')
              UNION ALL
              SELECT 1, org_id, stage, currency, deal_value, created_at, CASE stage WHEN 'won' THEN won_at ELSE lost_at END
              FROM new_rows WHERE stage IN ('won', 'lost')) x
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
    LOOP
        IF g.n <> 0 OR g.v <> 0 OR g.c <> 0 THEN
            PERFORM deal_closed_days_add(g.org_id, g.day, g.stage, g.currency, g.n, g.v, g.c, g.has_new);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;

-- lead_funnel_days_add adds n to one group's row of the transaction's shard (see
-- deal_pipeline_totals_add of 000025 for the insert rules).
CREATE FUNCTION lead_funnel_days_add(p_org uuid, p_dim text, p_day date, p_key text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF p_n < 0 THEN
        UPDATE lead_funnel_days SET lead_count = lead_count + p_n
        WHERE org_id = p_org AND dim = p_dim AND day = p_day AND key = p_key AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO lead_funnel_days AS t (org_id, dim, day, key, shard, lead_count)
    VALUES (p_org, p_dim, p_day, p_key, my_shard, p_n)
    ON CONFLICT (org_id, dim, day, key, shard) DO UPDATE SET lead_count = t.lead_count + EXCLUDED.lead_count;
END;
$$;

-- lead_stage_totals_add adds n to one stage's row of the transaction's shard.
CREATE FUNCTION lead_stage_totals_add(p_org uuid, p_stage text, p_n bigint) RETURNS void
    LANGUAGE plpgsql AS
$$
DECLARE
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF p_n < 0 THEN
        UPDATE lead_stage_totals SET lead_count = lead_count + p_n
        WHERE org_id = p_org AND stage = p_stage AND shard = my_shard;
        IF FOUND OR NOT EXISTS (SELECT FROM orgs WHERE id = p_org) THEN
            RETURN;
        END IF;
    END IF;
    INSERT INTO lead_stage_totals AS t (org_id, stage, shard, lead_count)
    VALUES (p_org, p_stage, my_shard, p_n)
    ON CONFLICT (org_id, stage, shard) DO UPDATE SET lead_count = t.lead_count + EXCLUDED.lead_count;
END;
$$;

-- lead_funnel_keys are the two lead_funnel_days groups a lead_funnel row counts in: its day and
-- step, its day and source.
CREATE FUNCTION lead_funnel_keys(p_created_at timestamptz, p_source text, p_step smallint)
    RETURNS TABLE (dim text, day date, key text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ VALUES ('step', (p_created_at AT TIME ZONE 'UTC')::date, p_step::text),
          ('source', (p_created_at AT TIME ZONE 'UTC')::date, p_source) $$;

-- The lead_funnel_days_* trigger functions move a statement's lead_funnel rows' contributions in
-- lead_funnel_days: statement triggers with transition tables (000011 says why not row
-- triggers), each group written once per statement, in key order; groups that net out write
-- nothing.
CREATE FUNCTION lead_funnel_days_insert() RETURNS trigger LANGUAGE plpgsql AS
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

CREATE FUNCTION lead_funnel_days_delete() RETURNS trigger LANGUAGE plpgsql AS
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

CREATE FUNCTION lead_funnel_days_update() RETURNS trigger LANGUAGE plpgsql AS
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

-- leads_analytics_insert: a statement's new leads get their lead_funnel rows and are counted
-- per stage.
CREATE FUNCTION leads_analytics_insert() RETURNS trigger LANGUAGE plpgsql AS
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

-- leads_analytics_update: the leads of a statement whose stage, source, creation or deletion
-- changed carry the change to lead_funnel (the step never falls) and to the stage counts. An
-- update of other columns joins the transition tables and writes nothing.
CREATE FUNCTION leads_analytics_update() RETURNS trigger LANGUAGE plpgsql AS
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

-- leads_analytics_delete: deleted rows leave lead_funnel and the stage counts.
CREATE FUNCTION leads_analytics_delete() RETURNS trigger LANGUAGE plpgsql AS
$$
DECLARE
    g record;
BEGIN
    DELETE FROM lead_funnel f USING old_rows o WHERE f.org_id = o.org_id AND f.lead_id = o.id;
    FOR g IN
        SELECT org_id, stage, count(*) AS n FROM old_rows WHERE deleted_at IS NULL
        GROUP BY 1, 2 ORDER BY 1, 2
    LOOP
        PERFORM lead_stage_totals_add(g.org_id, g.stage, -g.n);
    END LOOP;
    RETURN NULL;
END;
$$;

-- deals_lead_funnel_won: a won deal takes its lead to the funnel's last step.
CREATE FUNCTION deals_lead_funnel_won() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    UPDATE lead_funnel SET step = 5 WHERE org_id = NEW.org_id AND lead_id = NEW.lead_id AND step < 5;
    RETURN NULL;
END;
$$;

-- Backfill, under the locks above. The furthest step of an existing lead is the highest of its
-- current stage, of the stages its lead.stage_changed events reached, and 5 when a deal of it is
-- won. events and deals FORCE row-level security, which would hide every row from the owner
-- outside a tenant transaction: the backfill reads past it for the moment of this transaction.
ALTER TABLE events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deals NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_pipeline_totals NO FORCE ROW LEVEL SECURITY;

INSERT INTO lead_funnel (org_id, lead_id, created_at, source, step, alive)
SELECT l.org_id, l.id, l.created_at, coalesce(l.source, ''),
    greatest(lead_funnel_step(l.stage),
        coalesce((SELECT max(lead_funnel_step(e.payload ->> 'to')) FROM events e
                  WHERE e.org_id = l.org_id AND e.entity_type = 'lead' AND e.entity_id = l.id
                    AND e.type = 'lead.stage_changed'), 0),
        CASE WHEN EXISTS (SELECT FROM deals d WHERE d.org_id = l.org_id AND d.lead_id = l.id AND d.stage = 'won')
            THEN 5 ELSE 0 END),
    l.deleted_at IS NULL
FROM leads l;

INSERT INTO lead_funnel_days (org_id, dim, day, key, shard, lead_count)
SELECT org_id, dim, day, key, 0, count(*)
FROM lead_funnel CROSS JOIN LATERAL lead_funnel_keys(created_at, source, step) k WHERE alive
GROUP BY 1, 2, 3, 4;

INSERT INTO lead_stage_totals (org_id, stage, shard, lead_count)
SELECT org_id, stage, 0, count(*) FROM leads WHERE deleted_at IS NULL GROUP BY 1, 2;

INSERT INTO deal_closed_days (org_id, day, stage, currency, shard, deal_count, value_sum, cycle_sum)
SELECT org_id, (closed_at AT TIME ZONE 'UTC')::date, stage, currency, 0, count(*), sum(deal_value),
    sum(extract(epoch FROM closed_at - created_at))
FROM (SELECT org_id, stage, currency, deal_value, created_at, CASE stage WHEN 'won' THEN won_at ELSE lost_at END AS closed_at
      FROM deals WHERE stage IN ('won', 'lost')) d
GROUP BY 1, 2, 3, 4;

-- deal_pipeline_totals keeps the won and lost deals too (the pipeline's won and lost totals):
-- the same trigger function over every stage.
ALTER TABLE deal_pipeline_totals DROP CONSTRAINT deal_pipeline_totals_stage_check;
ALTER TABLE deal_pipeline_totals ADD CONSTRAINT deal_pipeline_totals_stage_check
    CHECK (stage IN ('discovery', 'proposal', 'negotiation', 'won', 'lost'));
INSERT INTO deal_pipeline_totals (org_id, stage, currency, shard, deal_count, value_sum, weighted_sum)
SELECT org_id, stage, currency, 0, count(*), sum(deal_value),
    sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)
FROM deals WHERE stage IN ('won', 'lost')
GROUP BY org_id, stage, currency;

ALTER TABLE events FORCE ROW LEVEL SECURITY;
ALTER TABLE deals FORCE ROW LEVEL SECURITY;
ALTER TABLE deal_pipeline_totals FORCE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION deal_pipeline_totals_apply() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    g record;
    my_shard smallint := deal_pipeline_totals_shard();
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR g IN
            SELECT org_id, stage, currency, count(*) AS n, sum(deal_value) AS v,
                sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000) AS w
            FROM new_rows
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, g.n, g.v, g.w, true);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR g IN
            SELECT org_id, stage, currency, count(*) AS n, sum(deal_value) AS v,
                sum((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000) AS w
            FROM old_rows
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, -g.n, -g.v, -g.w, false);
        END LOOP;
    ELSE
        FOR g IN
            SELECT org_id, stage, currency, sum(s) AS n, sum(s * deal_value) AS v,
                sum(s * ((deal_value / 10000) * probability_bp + ((deal_value % 10000) * probability_bp + 5000) / 10000)) AS w,
                bool_or(s > 0) AS has_new
            FROM (SELECT -1 AS s, org_id, stage, currency, deal_value, probability_bp FROM old_rows
                  UNION ALL
                  SELECT 1, org_id, stage, currency, deal_value, probability_bp FROM new_rows) x
            GROUP BY org_id, stage, currency
            ORDER BY org_id, stage, currency
        LOOP
            IF g.n <> 0 OR g.v <> 0 OR g.w <> 0 THEN
                PERFORM deal_pipeline_totals_add(g.org_id, g.stage, g.currency, my_shard, g.n, g.v, g.w, g.has_new);
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON TABLE deal_pipeline_totals IS
    'Deals per org, stage (open, won and lost) and currency, kept in up to 16 shards: count, sum of deal_value and of each deal''s rounded weighted value. '
    'A group''s figures are the sums over its shards (a shard''s may be negative). '
    'Maintained by the deals_pipeline_totals_* triggers (never written by code); read by GET /analytics/pipeline without from/to and /analytics/velocity. '
    'Rows whose count fell to 0 stay.';

CREATE TRIGGER lead_funnel_days_insert AFTER INSERT ON lead_funnel
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lead_funnel_days_insert();
CREATE TRIGGER lead_funnel_days_update AFTER UPDATE ON lead_funnel
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lead_funnel_days_update();
CREATE TRIGGER lead_funnel_days_delete AFTER DELETE ON lead_funnel
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lead_funnel_days_delete();
CREATE TRIGGER leads_analytics_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_analytics_insert();
CREATE TRIGGER leads_analytics_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_analytics_update();
CREATE TRIGGER leads_analytics_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION leads_analytics_delete();
CREATE TRIGGER deals_closed_days_insert AFTER INSERT ON deals
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deal_closed_days_insert();
CREATE TRIGGER deals_closed_days_update AFTER UPDATE ON deals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deal_closed_days_update();
CREATE TRIGGER deals_closed_days_delete AFTER DELETE ON deals
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION deal_closed_days_delete();
CREATE TRIGGER deals_lead_funnel_won AFTER INSERT OR UPDATE OF stage ON deals
    FOR EACH ROW WHEN (NEW.stage = 'won') EXECUTE FUNCTION deals_lead_funnel_won();

-- The indexes of the figures read from the tables themselves: deals closed (won or lost) in the
-- partial edge days of a window, with what velocity averages, the pipeline's closed deals created in a
-- window, and invoices issued or paid in a window.
CREATE INDEX deals_org_id_won_at_idx ON deals (org_id, won_at) INCLUDE (currency, deal_value, created_at)
    WHERE stage = 'won';
CREATE INDEX deals_org_id_lost_at_idx ON deals (org_id, lost_at) INCLUDE (currency, deal_value, created_at)
    WHERE stage = 'lost';
CREATE INDEX deals_org_id_closed_stage_currency_idx ON deals (org_id, stage, currency) INCLUDE (deal_value, probability_bp, created_at)
    WHERE stage IN ('won', 'lost');
CREATE INDEX invoices_org_id_issued_at_idx ON invoices (org_id, issued_at) INCLUDE (currency, amount, status);
CREATE INDEX invoices_org_id_paid_at_idx ON invoices (org_id, paid_at) INCLUDE (currency, amount) WHERE paid_at IS NOT NULL;
CREATE INDEX integrity_alerts_org_id_open_idx ON integrity_alerts (org_id) WHERE resolved_at IS NULL;

-- Row-level security as on leads, whose triggers write these tables: ENABLEd with the tenant
-- policy of 000003 (crm_app sees and writes its org's rows only) but not FORCEd, so that any role
-- that may write leads as their owner may write what follows from them.
ALTER TABLE lead_funnel ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_funnel
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
ALTER TABLE lead_funnel_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_funnel_days
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
ALTER TABLE lead_stage_totals ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_stage_totals
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
-- deal_closed_days follows deals: ENABLEd and FORCEd, as deal_pipeline_totals.
ALTER TABLE deal_closed_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE deal_closed_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deal_closed_days
    USING (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON lead_funnel, lead_funnel_days, lead_stage_totals, deal_closed_days TO crm_app;
