-- 000029: the weekly report's PDF is rendered once, when the report is generated, and stored
-- beside it, as the invoices' documents are: a report never changes, so its document's bytes
-- (and the ETag of GET /reports/{id}/document) never do, and a read costs no chart rendering.
-- The list of an org's reports (GET /reports, newest period first) reads this index.
ALTER TABLE reports ADD COLUMN document bytea;
COMMENT ON COLUMN reports.document IS 'The report as a PDF with its charts, rendered when the report was generated.';
CREATE INDEX reports_org_id_period_start_idx ON reports (org_id, period_start DESC, id DESC);
