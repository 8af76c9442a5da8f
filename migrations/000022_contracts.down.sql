DROP TABLE contract_settings;
ALTER TABLE contracts DROP COLUMN causation_event_id;
