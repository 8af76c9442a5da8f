DROP TABLE onboarding_settings;
ALTER TABLE onboarding_tasks DROP COLUMN causation_event_id;
ALTER TABLE clients DROP COLUMN onboarded_at, DROP COLUMN causation_event_id;
