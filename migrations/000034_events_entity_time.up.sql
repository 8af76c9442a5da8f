-- 000034: a lead's timeline (GET /leads/{id}/timeline) pages the events of the lead and of the
-- records that grew from it (calls, deals, invoices, contracts, client, onboarding tasks) in time
-- order: occurred_at, then id for events of one instant (one transaction). events_entity_idx
-- (org_id, entity_type, entity_id, id) holds one entity's events in id order, which is not time
-- order across transactions, so a page in time order would read and sort every event of the
-- entity. This index holds them in time order: a page reads, per entity, one index range that
-- starts after the cursor and stops after a page's worth of rows, however many events the entity
-- or the org has.
--
-- golang-migrate runs the file in one transaction, so the index is built with writes to events
-- held for the build; on a large events table, build it beforehand with CREATE INDEX CONCURRENTLY
-- under the same name (IF NOT EXISTS then skips it here).
CREATE INDEX IF NOT EXISTS events_entity_time_idx ON events (org_id, entity_type, entity_id, occurred_at, id);
COMMENT ON INDEX events_entity_time_idx IS 'One entity''s events in time order (occurred_at, id): the index ranges of a lead''s timeline.';
