-- 000020: the cron tasks seeded for job kinds that nothing works yet stop firing.
--
-- Until now every org was seeded with seven recurring tasks whose job kinds have no handler
-- (the scheduled checks, the weekly report): each slot enqueued a job only for it to be
-- dead-lettered, about two hundred dead letters per org per day that buried real failures. New
-- orgs are no longer seeded with them. The rows of existing orgs are disabled rather than
-- deleted, so that what operators set on them (expression, time zone, payload) is still there
-- when the kinds are built and a later migration enables them again.
UPDATE cron_tasks
SET enabled = false
WHERE enabled
  AND job_type IN ('check_deal_decay', 'check_lead_stale', 'recalc_auto_priority', 'recalc_ghost_risk',
                   'renewal_reminder', 'generate_weekly_report', 'check_integrity');
