-- 000015: the pruner finds old job logs without reading the whole table.
--
-- jobs.Queue.Prune deletes job_logs rows older than the retention by finished_at, which had no
-- index: every pass read the table from its start until it had a batch, and read all of it when
-- nothing was old enough yet (every minute, in every worker, over millions of attempts). Rows
-- are appended in finished_at order, so a BRIN index (a few pages; an insert touches it only to
-- widen its range's summary) lets that scan visit only the page ranges that hold old rows.
-- autosummarize summarizes each newly filled range without waiting for a vacuum.
CREATE INDEX job_logs_finished_brin ON job_logs USING brin (finished_at) WITH (autosummarize = on);
