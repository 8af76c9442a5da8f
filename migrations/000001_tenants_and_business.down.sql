-- 000001 down: drops everything 000001 up creates, in reverse dependency order.
-- Triggers and indexes go with their tables.

DROP TABLE IF EXISTS idempotency_records;
DROP TABLE IF EXISTS reports;
DROP TABLE IF EXISTS integrity_alerts;
DROP TABLE IF EXISTS scheduled_tasks;
DROP TABLE IF EXISTS cron_tasks;
DROP TABLE IF EXISTS onboarding_tasks;
DROP TABLE IF EXISTS clients;
DROP TABLE IF EXISTS contracts;
DROP TABLE IF EXISTS invoices;
DROP TABLE IF EXISTS deals;
DROP TABLE IF EXISTS calls;
DROP TABLE IF EXISTS lead_activities;
-- leads and lead_intake_raw reference each other: break the cycle first.
ALTER TABLE IF EXISTS lead_intake_raw DROP CONSTRAINT IF EXISTS lead_intake_raw_lead_fkey;
DROP TABLE IF EXISTS leads;
DROP TABLE IF EXISTS lead_intake_raw;
DROP TABLE IF EXISTS intake_sources;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS orgs;

DROP FUNCTION IF EXISTS set_updated_at();

-- pg_trgm was created by up (IF NOT EXISTS). Drop it only when this role owns it (then up
-- created it); an extension pre-installed by a superuser is left alone, so down cannot fail on
-- "must be owner of extension".
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension
               WHERE extname = 'pg_trgm' AND pg_has_role(current_user, extowner, 'USAGE')) THEN
        DROP EXTENSION pg_trgm;
    END IF;
END;
$$;
