DROP TRIGGER IF EXISTS cron_tasks_clear_next_slot ON cron_tasks;
DROP FUNCTION IF EXISTS cron_tasks_clear_next_slot();
DROP INDEX IF EXISTS cron_tasks_next_slot_at_idx;
ALTER TABLE cron_tasks DROP COLUMN IF EXISTS next_slot_at;
