-- The integrity alerts list pages on (detected_at DESC, id DESC) within an org: index exactly
-- that, so a page is an index range scan with no sort.
DROP INDEX integrity_alerts_org_id_detected_at_idx;
CREATE INDEX integrity_alerts_org_id_detected_at_id_idx ON integrity_alerts (org_id, detected_at DESC, id DESC);
