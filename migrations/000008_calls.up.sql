-- GET /calls pages on (scheduled_at, id) within an org, in either direction (a btree scans both
-- ways): index exactly that, so a page without a lead or status filter is an index range scan
-- with no sort. The lead and status filters keep their indexes of 000001.
CREATE INDEX calls_org_id_scheduled_at_id_idx ON calls (org_id, scheduled_at, id);
