DROP INDEX IF EXISTS events_entity_time_idx;
