-- 000030 down: the seven recurring checks stop firing, as after 000020 (disabled, kept with what
-- operators set on them). The tasks 000030 inserted stay, disabled: nothing tells them from the
-- ones org.Create seeded.
UPDATE cron_tasks
SET enabled = false
WHERE enabled
  AND job_type IN ('check_deal_decay', 'check_lead_stale', 'recalc_auto_priority', 'recalc_ghost_risk',
                   'renewal_reminder', 'generate_weekly_report', 'check_integrity');
