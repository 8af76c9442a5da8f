package events_test

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
)

// testHistory is a history of a made-up entity "thing".
var testHistory = events.History{
	Entity: "thing", Name: "thing", Created: "thing.created", Base: "thing", Deleted: "thing.deleted",
	Changing: []string{"thing.updated", "thing.deleted"},
}

// TestReplayJudgesHistories proves how Replay folds and judges a history: the created entity,
// then each row record's set and at fields, updatedAt from the event unless the record gives it;
// a changing event without a record is fine when another event of its transaction carries one
// and leaves the history incomplete (422) otherwise, as does a creation without a record; a
// deleted entity, or an instant before its first event, is 404.
func TestReplayJudgesHistories(t *testing.T) {
	t.Parallel()
	d, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, d, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	type ev struct {
		typ     string
		min     int
		payload string
	}
	write := func(id uuid.UUID, evs ...ev) {
		for i, e := range evs {
			_, err := super.Pool.Exec(ctx, `INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, occurred_at)
VALUES ($1, $2, 'thing', $3, $4, $5, $6)`, orgID, e.typ, id, e.payload, fmt.Sprintf("%s:%d", id, i), at(e.min))
			require.NoError(t, err)
		}
	}
	replay := func(id uuid.UUID, when time.Time) (map[string]any, error) {
		var r events.Replay
		require.NoError(t, d.Read(ctx, orgID, func(b *db.Batch) { events.QueueReplay(b, orgID, testHistory, id, when, &r) }))
		var out map[string]any
		err := r.Result(nil, &out)
		return out, err
	}
	stamp := func(min int) string { return at(min).Format(time.RFC3339Nano) }
	created := ev{"thing.created", 0, `{"thing": {"name": "a", "size": 1, "updatedAt": "` + stamp(0) + `"}, "row": {"rev": 1}}`}

	good := uuid.New()
	write(good, created,
		ev{"thing.updated", 1, `{"row": {"rev": 1, "set": {"name": "b"}, "at": ["touchedAt"]}}`},
		ev{"thing.noted", 2, `{"note": "no row record: not a change"}`},
		ev{"thing.updated", 3, `{"changes": {}}`}, ev{"thing.counted", 3, `{"row": {"rev": 1, "set": {"size": 2}}}`},
		ev{"thing.recounted", 4, `{"row": {"rev": 1, "set": {"size": 3, "updatedAt": "` + stamp(3) + `"}}}`},
		ev{"thing.deleted", 5, `{"row": {"rev": 1}}`})
	got, err := replay(good, at(1))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "b", "size": 1.0, "updatedAt": stamp(1), "touchedAt": stamp(1)}, got)
	got, err = replay(good, at(4))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"name": "b", "size": 3.0, "updatedAt": stamp(3), "touchedAt": stamp(1)}, got)
	_, err = replay(good, at(5))
	require.True(t, apperr.Is(err, apperr.NotFound), "deleted: %v", err)
	_, err = replay(good, at(0).Add(-time.Microsecond))
	require.True(t, apperr.Is(err, apperr.NotFound), "before: %v", err)

	bare := uuid.New()
	write(bare, created, ev{"thing.updated", 1, `{"changes": {"name": {"from": "a", "to": "b"}}}`})
	_, err = replay(bare, at(0))
	require.NoError(t, err)
	_, err = replay(bare, at(1))
	require.True(t, apperr.Is(err, apperr.Invalid), "a change without a record: %v", err)

	legacy := uuid.New()
	write(legacy, ev{"thing.created", 0, `{"thing": {"name": "a"}}`})
	_, err = replay(legacy, at(9))
	require.True(t, apperr.Is(err, apperr.Invalid), "created without a record: %v", err)
	e, _ := apperr.As(err)
	require.Contains(t, e.Message, "cannot be rebuilt")

	// WithRow adds the record to a payload's object, and merges a second one into the first.
	b, err := json.Marshal(events.WithRow(events.WithRow(map[string]int{"v": 1},
		events.Row{Rev: 1, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}, At: []string{"x"}}),
		events.Row{Rev: 1, Set: map[string]json.RawMessage{"b": json.RawMessage(`2`)}, At: []string{"y", "x"}}))
	require.NoError(t, err)
	require.JSONEq(t, `{"v": 1, "row": {"rev": 1, "set": {"a": 1, "b": 2}, "at": ["x", "y"]}}`, string(b))
}

// TestWithRowPayloads checks the row record's place in payloads of every shape WithRow takes: it
// is appended to an object's members (one of its own or none), replaces a member named "row",
// leaves a "row" deeper in the payload alone, and a payload that is no object is an error.
func TestWithRowPayloads(t *testing.T) {
	r := events.Row{Rev: 1, Set: map[string]json.RawMessage{"a": json.RawMessage(`1`)}}
	const rec = `{"rev": 1, "set": {"a": 1}}`
	type named struct {
		Note string `json:"note"`
		Row  string `json:"row"`
	}
	for _, c := range []struct {
		name    string
		payload any
		want    string
	}{
		{"members", struct {
			V int    `json:"v"`
			S string `json:"s"`
		}{1, "x"}, `{"v": 1, "s": "x", "row": ` + rec + `}`},
		{"empty", struct{}{}, `{"row": ` + rec + `}`},
		{"raw with spaces", json.RawMessage(`{ "v" : [1, 2] }`), `{"v": [1, 2], "row": ` + rec + `}`},
		{"a member named row", named{"n", "old"}, `{"note": "n", "row": ` + rec + `}`},
		{"row deeper", map[string]any{"note": "row", "inner": map[string]int{"row": 2}},
			`{"note": "row", "inner": {"row": 2}, "row": ` + rec + `}`},
	} {
		b, err := json.Marshal(events.WithRow(c.payload, r))
		require.NoError(t, err, c.name)
		require.JSONEq(t, c.want, string(b), c.name)
		require.Equal(t, 1, countRow(t, b), "%s: one member named row in %s", c.name, b)
	}
	for _, p := range []any{nil, []int{1}, "text", 3} {
		_, err := json.Marshal(events.WithRow(p, r))
		require.ErrorContains(t, err, "must be a JSON object", "%#v", p)
	}
}

// countRow counts the members named "row" at the top of the object b, repeats included (which a
// decode into a map would fold into one).
func countRow(t *testing.T, b []byte) int {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	tok, err := dec.ReadToken()
	require.NoError(t, err)
	require.Equal(t, jsontext.Kind('{'), tok.Kind())
	n := 0
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		require.NoError(t, err)
		if name.String() == "row" {
			n++
		}
		require.NoError(t, dec.SkipValue())
	}
	return n
}
