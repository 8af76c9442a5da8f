-- 000030: the seven recurring checks run in every org.
--
-- Their job kinds exist now (check_deal_decay, check_lead_stale, recalc_auto_priority,
-- recalc_ghost_risk, renewal_reminder, generate_weekly_report, check_integrity), so new orgs are
-- seeded with them again (org.Create with catalog.New().CronTasks), and existing orgs catch up
-- here:
--
--   - the rows 000020 disabled are enabled again, keeping what operators set on them
--     (expression, time zone, payload); a task fires once for its latest missed slot, as after
--     any downtime (pkg/schedule, "Catch-up");
--   - an org without a task of one of these kinds gets it, with the schedule org.Create seeds
--     (the VALUES below; TestMigrationSeedsScheduledChecks compares them with the catalog). An
--     org that already has a task of that name for another kind keeps its own.
--
-- orgs forces row-level security on its owner, who runs the migrations: the policy is lifted for
-- the statement that reads every org and put back in the same transaction.
UPDATE cron_tasks
SET enabled = true
WHERE NOT enabled
  AND job_type IN ('check_deal_decay', 'check_lead_stale', 'recalc_auto_priority', 'recalc_ghost_risk',
                   'renewal_reminder', 'generate_weekly_report', 'check_integrity');

ALTER TABLE orgs NO FORCE ROW LEVEL SECURITY;

INSERT INTO cron_tasks (org_id, name, job_type, cron_expr)
SELECT o.id, s.name, s.job_type, s.cron_expr
FROM orgs o
CROSS JOIN (VALUES
    ('lead stale', 'check_lead_stale', '15 * * * *'),
    ('auto priority', 'recalc_auto_priority', '30 * * * *'),
    ('ghost risk', 'recalc_ghost_risk', '0 6 * * *'),
    ('deal decay', 'check_deal_decay', '0 * * * *'),
    ('renewal reminder', 'renewal_reminder', '0 8 * * *'),
    ('weekly report', 'generate_weekly_report', '0 7 * * 1'),
    ('integrity watchdog', 'check_integrity', '*/10 * * * *')
) AS s (name, job_type, cron_expr)
WHERE NOT EXISTS (SELECT 1 FROM cron_tasks c WHERE c.org_id = o.id AND c.job_type = s.job_type)
ON CONFLICT (org_id, name) DO NOTHING;

ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
