COMMENT ON COLUMN lead_intake_raw.delivery_key IS 'Idempotency key of the delivery: webhook = signature v1 value (replay cache, R13); form = random per request; csv = "<batch_id>:<row_number>".';
DROP FUNCTION intake_form_source(text);
DROP FUNCTION intake_webhook_source_org(uuid);
ALTER TABLE intake_sources FORCE ROW LEVEL SECURITY;
