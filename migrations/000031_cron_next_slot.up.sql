-- 000031: each cron task stores the slot the scheduler looks at next, so that a tick (every
-- second, on every replica) reads only the tasks whose next slot has come instead of every task
-- whose last slot lies before the current minute: an hourly, daily or weekly task is not read at
-- all between its slots. The scheduler keeps the column (it sets it when it fires a task and
-- when it finds a task with none due); a change of schedule through the API sets it too.
--
-- NULL means "not computed yet" (a task just inserted, every row when this migration runs): the
-- next tick reads the task, fires what is due and computes it. The column is a lower bound: a
-- value too early only makes a tick read the task once more, never miss a slot. So that a change
-- made by hand or by a later migration (UPDATE cron_tasks SET cron_expr = ...) cannot leave a
-- stale value in the future, the trigger below clears it whenever the schedule or the accounted
-- slot changes and the same statement does not also set it.
ALTER TABLE cron_tasks ADD COLUMN next_slot_at timestamptz;
COMMENT ON COLUMN cron_tasks.next_slot_at IS 'No slot of the task is due before this instant (the scheduler reads the task once it has come); NULL: not computed yet.';

CREATE INDEX cron_tasks_next_slot_at_idx ON cron_tasks (next_slot_at) WHERE enabled;

CREATE FUNCTION cron_tasks_clear_next_slot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.cron_expr, NEW.timezone, NEW.enabled, NEW.last_slot_at)
           IS DISTINCT FROM (OLD.cron_expr, OLD.timezone, OLD.enabled, OLD.last_slot_at)
       AND NEW.next_slot_at IS NOT DISTINCT FROM OLD.next_slot_at THEN
        NEW.next_slot_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION cron_tasks_clear_next_slot() IS 'Clears cron_tasks.next_slot_at when a statement changes the schedule or last_slot_at without setting it: the scheduler recomputes it.';

CREATE TRIGGER cron_tasks_clear_next_slot BEFORE UPDATE ON cron_tasks
    FOR EACH ROW EXECUTE FUNCTION cron_tasks_clear_next_slot();
