package lead

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/events"
)

// Row is the row record (events.Row) that every event changing a lead's row carries in its
// payload's "row" member, so that the lead can be rebuilt from its events alone (AsOf). On
// lead.created the lead is the payload's "lead".
type Row = events.Row

// RowRev is the revision of the row records this package writes.
const RowRev = events.RowRev

// WithRow is events.WithRow: payload with the row record r as its "row" member.
func WithRow(payload any, r Row) any { return events.WithRow(payload, r) }

// The API fields that each kind of Write sets (version aside, which rowOf always takes); an
// Update sets the fields its lead.updated lists.
var (
	enrichmentFields = []string{"enrichment", "revenueBand", "domain"}
	scoreFields      = []string{"score", "scoreReasons", "icpMatch", "recommendedPath"}
	stageFields      = []string{"stage", "stageReason"}
)

// rowOf is the row record of a change that set fields of l (l as the change left it), with the
// version l has.
func rowOf(l Lead, fields ...string) (Row, error) {
	return events.RowOf(l, slices.Concat(fields, []string{"version"})...)
}

// rowSet is the row record of a change that set the given values (API names to values).
func rowSet(values map[string]any) (Row, error) {
	set := make(map[string]json.RawMessage, len(values))
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			return Row{}, fmt.Errorf("encode lead row field %s: %w", k, err)
		}
		set[k] = b
	}
	return Row{Rev: RowRev, Set: set}, nil
}

// createdRow marks a lead.created of the complete form (the lead is the payload's).
var createdRow = Row{Rev: RowRev}

// fields are the API fields a Write sets.
func (w Write) fields() []string {
	var out []string
	if w.Enrichment != nil {
		out = append(out, enrichmentFields...)
	}
	if w.Score != nil {
		out = append(out, scoreFields...)
	}
	if w.Stage != nil {
		out = append(out, stageFields...)
	}
	if w.Priority != nil {
		out = append(out, "priority")
	}
	return out
}

// RowOf is the row record of w, applied with what it left (Written.Lead). A stage move stamps
// stageChangedAt with the transaction's time (At).
func (w Written) RowOf(write Write) (Row, error) {
	r, err := rowOf(w.Lead, write.fields()...)
	if write.Stage != nil {
		r.At = []string{"stageChangedAt"}
	}
	return r, err
}

// AttachRows adds to evs the row record of each written lead: on the last event of evs about it
// (one row record per lead and transaction is enough, since the rebuild applies every event of a
// transaction). writes are the writes StoreWrites stored, written what it returned. A written
// lead without an event in evs is an error: its change would be missing from its history.
func AttachRows(evs []events.NewEvent, writes []Write, written []Written) error {
	byID := make(map[uuid.UUID]Write, len(writes))
	for _, w := range writes {
		byID[w.ID] = w
	}
	last := map[uuid.UUID]int{}
	for i, ev := range evs {
		if ev.EntityType == EntityType {
			last[ev.EntityID] = i
		}
	}
	for _, w := range written {
		i, ok := last[w.ID]
		if !ok {
			return fmt.Errorf("lead %s changed without an event", w.ID)
		}
		r, err := w.RowOf(byID[w.ID])
		if err != nil {
			return err
		}
		evs[i].Payload = WithRow(evs[i].Payload, r)
	}
	return nil
}

// ghostRiskRow is the row record of a ghost risk raised to risk, leaving updatedAt (the version
// does not move; updated_at is the row's after the write, which a derived write may leave).
func ghostRiskRow(risk int, updatedAt time.Time) Row {
	return Row{Rev: RowRev, Set: map[string]json.RawMessage{
		"ghostRisk": json.RawMessage(strconv.Itoa(risk)), "updatedAt": timeJSON(updatedAt),
	}}
}

// updatedAtRow is the row record of a write that left the row's updated_at at t.
func updatedAtRow(t time.Time) Row {
	return Row{Rev: RowRev, Set: map[string]json.RawMessage{"updatedAt": timeJSON(t)}}
}

func timeJSON(t time.Time) json.RawMessage {
	return json.RawMessage(strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
}

// priorityRow is the row record of a priority set to p, making version.
func priorityRow(p Priority, version int) Row {
	return Row{Rev: RowRev, Set: map[string]json.RawMessage{
		"priority": json.RawMessage(strconv.Quote(string(p))), "version": json.RawMessage(strconv.Itoa(version)),
	}}
}
