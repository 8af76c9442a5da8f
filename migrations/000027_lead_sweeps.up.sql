-- 000027: what the lead sweeps (pkg/lead: recalc_ghost_risk, recalc_auto_priority) need.
--
-- ghost_risk_counted_at is the slot of the last silence period that recalc_ghost_risk counted on
-- the lead: a contacted or call_booked lead is due again only when it has been silent for the
-- org's silence days since the latest of its last touchpoint (last_activity_at), its last stage
-- change and this time. So a rerun of a slot, or a later sweep within the same period, finds
-- nothing to count, and a touchpoint starts a new silence without any other write path having to
-- reset a counter. Nullable without a default: adding it rewrites no row.
ALTER TABLE leads ADD COLUMN ghost_risk_counted_at timestamptz;
COMMENT ON COLUMN leads.ghost_risk_counted_at IS
    'Slot of the last silence period recalc_ghost_risk counted (ghost_risk + 1); NULL while none was.';

-- The leads recalc_ghost_risk looks at, in id order: the sweep walks them in keyset chunks
-- (org_id, id), reading only the open leads that wait for an answer instead of every lead of the
-- org. Stage changes already update an indexed column, so entering or leaving this index costs
-- no HOT update that was possible before.
CREATE INDEX leads_org_id_id_awaiting_idx ON leads (org_id, id)
    WHERE deleted_at IS NULL AND stage IN ('contacted', 'call_booked');
COMMENT ON INDEX leads_org_id_id_awaiting_idx IS
    'Keyset chunks of recalc_ghost_risk (pkg/lead ghostRiskChunkSQL): the live contacted and call_booked leads by id.';
