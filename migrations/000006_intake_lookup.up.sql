-- 000006: how the public intake gateway finds the org of a source.
--
-- The gateway's public routes name only a source: /intake/webhook/{sourceId} and
-- /intake/form/{formToken}. It connects as a member of crm_app, which row-level security binds
-- (000003): outside a tenant transaction it sees no row of intake_sources, and it cannot open
-- the right tenant transaction before it knows the org. Rather than a bypass setting in the
-- policy (R19 forbids one) or a second, privileged connection, two narrow SECURITY DEFINER
-- functions answer exactly that one question:
--
--   intake_webhook_source_org(p_id uuid) RETURNS uuid
--       the org of the live (deleted_at IS NULL) webhook source p_id, else NULL;
--   intake_form_source(p_token text) RETURNS TABLE (org_id uuid, id uuid)
--       the org and id of the live form source with public token p_token, else no row.
--
-- Each returns nothing when the id or token matches more than one live source (the lookup
-- indexes of 000001 cannot be unique without org_id; with random ids and tokens a collision is
-- not a practical concern, but an ambiguous match must never pick an org). They return ids only:
-- the gateway then loads the source (its secrets, mapping, limits) in a tenant transaction of
-- that org, under the policy, like any other tenant read. They read, never write (STABLE, plain
-- SELECTs), pin search_path (pg_catalog first, so that no object a caller could create shadows
-- a built-in), and only crm_app may execute them (EXECUTE is revoked from PUBLIC).
--
-- A SECURITY DEFINER function runs with its owner's rights, the owner of the tables here. For
-- the owner to see other orgs' sources the table must not FORCE row-level security: like leads
-- since 000005, intake_sources is now ENABLEd but no longer FORCEd. crm_app (api, gateway) is
-- bound exactly as before, for reads and writes alike: ENABLE applies the policy to every role
-- but the owner. Only the owner role (the worker and the scheduler, whose handlers always filter
-- by their job's org) is not held by the policy on this table. crm_app gains no write path
-- around the policy: the functions write nothing, no view or other definer-rights object over
-- intake_sources exists, and crm_app holds no TRUNCATE, REFERENCES or TRIGGER right on it
-- (000003 grants SELECT, INSERT, UPDATE, DELETE only, all under the policy). pkg/db's
-- rls_test.go holds all of this to account.

ALTER TABLE intake_sources NO FORCE ROW LEVEL SECURITY;

CREATE FUNCTION intake_webhook_source_org(p_id uuid) RETURNS uuid
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT CASE WHEN count(*) = 1 THEN (array_agg(m.org_id))[1] END
    FROM (SELECT s.org_id
          FROM public.intake_sources s
          WHERE s.id = p_id AND s.kind = 'webhook' AND s.deleted_at IS NULL
          LIMIT 2) m
$$;
COMMENT ON FUNCTION intake_webhook_source_org(uuid) IS
    'Public webhook route: the org of the live webhook source with this id, NULL when there is none (or more than one). Definer rights past row-level security; returns the org id only. See migration 000006.';

CREATE FUNCTION intake_form_source(p_token text) RETURNS TABLE (org_id uuid, id uuid)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
    SELECT (array_agg(m.org_id))[1], (array_agg(m.id))[1]
    FROM (SELECT s.org_id, s.id
          FROM public.intake_sources s
          WHERE s.public_token = p_token AND s.kind = 'form' AND s.deleted_at IS NULL
          LIMIT 2) m
    HAVING count(*) = 1
$$;
COMMENT ON FUNCTION intake_form_source(text) IS
    'Public form route: the org and id of the live form source with this public token, no row when there is none (or more than one). Definer rights past row-level security; returns ids only. See migration 000006.';

-- Functions are executable by PUBLIC unless revoked: only the app role may call these.
REVOKE ALL ON FUNCTION intake_webhook_source_org(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION intake_form_source(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION intake_webhook_source_org(uuid) TO crm_app;
GRANT EXECUTE ON FUNCTION intake_form_source(text) TO crm_app;

-- The webhook delivery key is the digest of what the signature covers, not one v1 value: a
-- header may carry several v1 values (one per secret during a rotation), and a key taken from
-- whichever one matched would let a replay that drops one of them pass as a new delivery.
COMMENT ON COLUMN lead_intake_raw.delivery_key IS 'Idempotency key of the delivery, unique per (org, source) (R2, R3): webhook = "wh:" + hex SHA-256 of "<t>.<raw body>", the signed content, so an exact replay inside the tolerance window is the same delivery whichever v1 value it carries (R13 replay cache); form = random per request; csv = "<batch_id>:<row_number>".';
