ALTER TABLE invoices DROP COLUMN void_reason, DROP COLUMN causation_event_id;
DROP TABLE invoice_settings;
DROP TABLE invoice_counters;
