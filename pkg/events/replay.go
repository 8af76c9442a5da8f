package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// RowRev is the revision of the row record ("row") that an event changing an entity's row
// carries in its payload, so that the entity can be rebuilt from its events alone (Replay). An
// entity whose creating event carries no row record was created before events carried them, and
// its history cannot be rebuilt.
const RowRev = 1

// Row is the row record of an event that changes an entity's row: the revision of the form
// (RowRev), the fields the change set, by their API names, with their new values (Set), and
// the fields it set to its transaction's time (At: a column set to now(), which is the event's
// occurred_at, so the record stays free of times it can take from the event). On the creating
// event the entity is a member of the payload (History.Base) and Set is empty. updatedAt is the
// event's time unless Set gives it: a change of the entity's own data sets updated_at to its
// transaction's now() (the tables' trigger), while a write of derived data alone may leave it,
// and then its record carries the updatedAt the row kept.
type Row struct {
	Rev int                        `json:"rev"`
	Set map[string]json.RawMessage `json:"set,omitempty"`
	At  []string                   `json:"at,omitempty"`
}

// rowPayload is an event payload with a row record added as its "row" member.
type rowPayload struct {
	payload any
	row     Row
}

// MarshalJSON writes the payload's object with "row" added: as its last member, after the
// payload's own, which json.Marshal has written compact, so the object's closing brace is its
// last byte. A payload whose text names "row" anywhere is decoded and written again instead, so
// that a member of that name is replaced rather than repeated. Every emit of a change runs this,
// a sweep hundreds of thousands of times; the splice costs a fraction of the decode.
func (p rowPayload) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(p.payload)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("a payload with a row record must be a JSON object, not %.20s", b)
	}
	row, err := json.Marshal(p.row)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b, []byte(`"row"`)) {
		obj := map[string]json.RawMessage{}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("read the payload to add its row record: %w", err)
		}
		obj["row"] = row
		return json.Marshal(obj)
	}
	out := make([]byte, 0, len(b)+len(row)+8)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"row":`...)
	out = append(out, row...)
	return append(out, '}'), nil
}

// WithRow returns payload (one that encodes as a JSON object) with the row record r added as its
// "row" member. Given a payload that has one already, it merges r's fields into it.
func WithRow(payload any, r Row) any {
	if prev, ok := payload.(rowPayload); ok {
		set := maps.Clone(prev.row.Set)
		if set == nil {
			set = map[string]json.RawMessage{}
		}
		maps.Copy(set, r.Set)
		at := slices.Concat(prev.row.At, r.At)
		slices.Sort(at)
		return rowPayload{payload: prev.payload, row: Row{Rev: RowRev, Set: set, At: slices.Compact(at)}}
	}
	return rowPayload{payload: payload, row: r}
}

// History says how an entity type's events rebuild one of its rows (Replay).
type History struct {
	// Entity is the entity type ("lead") and Name how messages call it.
	Entity, Name string
	// Table is the entity's table ("leads"), whose created_at tells an entity that did not exist
	// yet from one whose creation left no event (AsOf).
	Table string
	// Created is the type of the event that creates the entity, whose payload's member Base is
	// the entity as created.
	Created, Base string
	// Deleted is the type of the event that deletes it ("" when it cannot be deleted).
	Deleted string
	// Changing are the types that always change the row. One without a row record, in a
	// transaction (occurred_at) whose events carry none, leaves the history incomplete.
	Changing []string
}

// replaySQL reads an entity's events up to an instant in id order: one range of
// events_entity_idx ($1 org, $2 entity type, $3 id), the time filtered on the way ($4). Of each
// payload it returns only the row record, and the member $6 of the creating event (type $5): the
// rest of a payload is not read, sent or decoded.
const replaySQL = `SELECT type, payload->'row', CASE WHEN type = $5 THEN payload->$6 END, occurred_at FROM events
WHERE org_id = $1 AND entity_type = $2 AND entity_id = $3 AND occurred_at <= $4
ORDER BY id`

// Replay is an entity rebuilt from its events up to At (QueueReplay), read in a db.Batch and
// judged by Result once the batch has run.
type Replay struct {
	h      History
	id     uuid.UUID
	at     time.Time
	fields map[string]json.RawMessage
	err    error // the first reason the history cannot be rebuilt
	events int
	// deletedAt is set once a deleting event was applied.
	deletedAt *time.Time
	// bare are the times of Changing events without a row record; carried the times of events
	// with one.
	bare, carried map[time.Time]bool
}

// QueueReplay queues on b the read of the org's entity id's events up to at (one range of
// events_entity_idx) and folds them, in id order, into out: the creating event's entity, then
// each row record's fields, with updatedAt the time of the last event with a row record.
func QueueReplay(b *db.Batch, orgID uuid.UUID, h History, id uuid.UUID, at time.Time, out *Replay) {
	*out = Replay{h: h, id: id, at: at, bare: map[time.Time]bool{}, carried: map[time.Time]bool{}}
	b.Rows(func(row db.Row) error {
		var typ string
		var record, base []byte
		var occurred time.Time
		if err := row.Scan(&typ, &record, &base, &occurred); err != nil {
			return fmt.Errorf("read %s history: %w", h.Name, err)
		}
		return out.apply(typ, record, base, occurred.UTC())
	}, replaySQL, db.UUID(orgID), h.Entity, db.UUID(id), at, h.Created, h.Base)
}

// AsOf rebuilds the org's entity id as it was at the instant at from its events alone into out
// (the entity's JSON shape): in one round trip, the replay of its events up to at (QueueReplay)
// and its row's created_at, judged by Replay.Result. An instant after now is apperr.Invalid.
func AsOf(ctx context.Context, d *db.DB, orgID uuid.UUID, h History, id uuid.UUID, at, now time.Time, out any) error {
	if at.After(now) {
		return apperr.Errorf(apperr.Invalid, "asOf %s is in the future", at.UTC().Format(time.RFC3339Nano)).
			WithFields(apperr.FieldError{Field: "asOf", Message: "must not be in the future"})
	}
	var r Replay
	var created db.Timestamptz
	err := d.Read(ctx, orgID, func(b *db.Batch) {
		QueueReplay(b, orgID, h, id, at, &r)
		b.Row(func(row db.Row) error { return row.Scan(&created) },
			`SELECT created_at FROM `+h.Table+` WHERE org_id = $1 AND id = $2`, db.UUID(orgID), db.UUID(id))
	})
	if err != nil {
		return fmt.Errorf("%s as of: %w", h.Name, err)
	}
	var createdAt *time.Time
	if created.Valid {
		createdAt = &created.Time
	}
	if err := r.Result(createdAt, out); err != nil {
		return fmt.Errorf("%s as of: %w", h.Name, err)
	}
	return nil
}

// apply folds one event: its type, its row record (nil for none) and, for the creating event,
// the entity as created.
func (r *Replay) apply(typ string, record, base []byte, occurred time.Time) error {
	r.events++
	if r.err != nil {
		return nil
	}
	var row *Row
	if len(record) > 0 {
		if err := json.Unmarshal(record, &row); err != nil {
			return fmt.Errorf("read %s history: row record: %w", r.h.Name, err)
		}
		if row != nil && row.Rev < RowRev {
			row = nil
		}
	}
	if r.fields == nil {
		if typ != r.h.Created || row == nil {
			r.err = r.incomplete(occurred)
			return nil
		}
		if err := json.Unmarshal(base, &r.fields); err != nil || r.fields == nil {
			return fmt.Errorf("read %s history: %s has no %s: %w", r.h.Name, typ, r.h.Base, err)
		}
	}
	if row == nil {
		if slices.Contains(r.h.Changing, typ) {
			r.bare[occurred] = true
		}
		return nil
	}
	r.carried[occurred] = true
	maps.Copy(r.fields, row.Set)
	stamp, err := json.Marshal(occurred)
	if err != nil {
		return fmt.Errorf("read %s history: %w", r.h.Name, err)
	}
	for _, f := range row.At {
		r.fields[f] = stamp
	}
	if _, kept := row.Set["updatedAt"]; !kept {
		r.fields["updatedAt"] = stamp
	}
	if typ == r.h.Deleted {
		r.deletedAt = &occurred
	}
	return nil
}

func (r *Replay) incomplete(since time.Time) error {
	return apperr.Errorf(apperr.Invalid,
		"%s %s cannot be shown as of %s: its history holds changes recorded before events carried every change (from %s), so it cannot be rebuilt",
		r.h.Name, r.id, r.at.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano)).
		WithFields(apperr.FieldError{Field: "asOf", Message: "is before the history of this record can be rebuilt"})
}

// Result decodes the rebuilt entity into out, once the batch has run. createdAt is the row's
// creation time, nil when the org has no such row: with no event up to At, a row created
// later (or none) is apperr.NotFound, one created earlier apperr.Invalid (its creation left no
// event). An entity deleted by At is apperr.NotFound; a history that starts before events
// carried row records, or has a change without one, is apperr.Invalid.
func (r *Replay) Result(createdAt *time.Time, out any) error {
	switch {
	case r.events == 0 && (createdAt == nil || createdAt.After(r.at)):
		return apperr.Errorf(apperr.NotFound, "%s %s did not exist at %s", r.h.Name, r.id, r.at.Format(time.RFC3339Nano))
	case r.events == 0:
		return r.incomplete(createdAt.UTC())
	case r.err != nil:
		return r.err
	}
	for t := range r.bare {
		if !r.carried[t] {
			return r.incomplete(t)
		}
	}
	if r.deletedAt != nil {
		return apperr.Errorf(apperr.NotFound, "%s %s was deleted at %s, before %s", r.h.Name, r.id,
			r.deletedAt.Format(time.RFC3339Nano), r.at.Format(time.RFC3339Nano))
	}
	b, err := json.Marshal(r.fields)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", r.h.Name, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("rebuild %s: %w", r.h.Name, err)
	}
	return nil
}

// RowOf is the row record of a change that set the named fields of entity (as the change left
// it), each by its JSON name. A name entity's JSON lacks is an error.
func RowOf(entity any, fields ...string) (Row, error) {
	b, err := json.Marshal(entity)
	if err != nil {
		return Row{}, fmt.Errorf("encode row record: %w", err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return Row{}, fmt.Errorf("encode row record: %w", err)
	}
	set := make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		v, ok := all[f]
		if !ok {
			return Row{}, fmt.Errorf("encode row record: no field %q", f)
		}
		set[f] = v
	}
	return Row{Rev: RowRev, Set: set}, nil
}
