-- The cron tasks of the unbuilt job kinds fire again. A task an operator had disabled before
-- 000020 is enabled too: the up migration keeps no record of which ones it disabled.
UPDATE cron_tasks
SET enabled = true
WHERE NOT enabled
  AND job_type IN ('check_deal_decay', 'check_lead_stale', 'recalc_auto_priority', 'recalc_ghost_risk',
                   'renewal_reminder', 'generate_weekly_report', 'check_integrity');
