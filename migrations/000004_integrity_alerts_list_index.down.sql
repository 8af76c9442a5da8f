DROP INDEX integrity_alerts_org_id_detected_at_id_idx;
CREATE INDEX integrity_alerts_org_id_detected_at_idx ON integrity_alerts (org_id, detected_at DESC);
