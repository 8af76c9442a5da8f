package events_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// history is a database with events of two orgs: in org, three lead.created (leads one, two,
// three), a lead.stage_changed of lead one, a deal.created and a system.noop without entity; in
// other, a lead.created about the same lead id as one (ids are not unique across orgs' rows).
type history struct {
	db, super       *db.DB
	org, other      uuid.UUID
	one, two, three uuid.UUID
	ids             []int64 // org's events in emit order
	otherID         int64
}

func newHistory(t *testing.T) *history {
	t.Helper()
	d, url := dbtest.NewDB(t)
	em := events.NewEmitter(jobs.New(d, jobs.Config{}), catalog.New().EventJobs)
	h := &history{
		db: d, super: dbtest.SuperDB(t, url),
		org: dbtest.NewOrg(t, d, "acme"), other: dbtest.NewOrg(t, d, "other"),
		one: uuid.New(), two: uuid.New(), three: uuid.New(),
	}
	emit := func(org uuid.UUID, typ, entityType string, entityID uuid.UUID, key string) int64 {
		var id int64
		require.NoError(t, d.Tx(t.Context(), org, func(tx *gorm.DB) error {
			ev, created, err := em.Emit(t.Context(), tx, events.NewEvent{
				OrgID: org, Type: typ, EntityType: entityType, EntityID: entityID, IdempotencyKey: key,
				Payload: map[string]string{"key": key}, Actor: "apikey:" + key,
			})
			if err != nil {
				return err
			}
			require.True(t, created)
			id = ev.ID
			return nil
		}))
		return id
	}
	h.ids = []int64{
		emit(h.org, "lead.created", "lead", h.one, "c1"),
		emit(h.org, "lead.created", "lead", h.two, "c2"),
		emit(h.org, "lead.stage_changed", "lead", h.one, "s1"),
		emit(h.org, "deal.created", "deal", uuid.New(), "d1"),
		emit(h.org, "lead.created", "lead", h.three, "c3"),
		emit(h.org, "system.noop", "system", uuid.Nil, "n1"),
	}
	h.otherID = emit(h.other, "lead.created", "lead", h.one, "c1")
	return h
}

// list walks List for org with f at page size limit on g (a tenant transaction of org unless
// bare) and returns the ids it saw.
func (h *history) list(t *testing.T, g *gorm.DB, bare bool, org uuid.UUID, f events.Filter, limit int) []int64 {
	t.Helper()
	ids := []int64{}
	req := page.Request{Limit: limit}
	for range 100 {
		var p page.Page[events.Event]
		read := func(tx *gorm.DB) error {
			var err error
			p, err = events.List(t.Context(), tx, org, f, req)
			return err
		}
		if bare {
			require.NoError(t, read(g.WithContext(t.Context())))
		} else {
			require.NoError(t, db.Tx(t.Context(), g, org, read))
		}
		for _, ev := range p.Data {
			require.Equal(t, org, ev.OrgID)
			ids = append(ids, ev.ID)
		}
		if p.NextCursor == nil {
			return ids
		}
		require.Len(t, p.Data, limit)
		req.Cursor = *p.NextCursor
	}
	require.FailNow(t, "pagination does not end")
	return nil
}

// TestListEvents proves List shows only the caller's org's events, newest first, narrowed by type,
// entity type and entity id (alone and together), and walks every row exactly once at any page
// size. The org filter holds on its own too: through a superuser connection, which row-level
// security does not bind, the other org's events stay out.
func TestListEvents(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	c1, c2, s1, d1, c3, n1 := h.ids[0], h.ids[1], h.ids[2], h.ids[3], h.ids[4], h.ids[5]
	all := []int64{n1, c3, d1, s1, c2, c1}
	for _, limit := range []int{1, 2, 5, 6, 200} {
		require.Equal(t, all, h.list(t, h.db.Gorm, false, h.org, events.Filter{}, limit), "limit %d", limit)
	}
	require.Equal(t, all, h.list(t, h.super.Gorm, true, h.org, events.Filter{}, 4), "the explicit org filter")
	require.Equal(t, []int64{h.otherID}, h.list(t, h.db.Gorm, false, h.other, events.Filter{}, 1))

	lead := "lead"
	cases := []struct {
		f    events.Filter
		want []int64
	}{
		{events.Filter{Type: "lead.created"}, []int64{c3, c2, c1}},
		{events.Filter{Type: "lead.stage_changed"}, []int64{s1}},
		{events.Filter{EntityType: lead}, []int64{c3, s1, c2, c1}},
		{events.Filter{EntityType: lead, EntityID: &h.one}, []int64{s1, c1}},
		{events.Filter{EntityID: &h.one}, []int64{s1, c1}},
		{events.Filter{Type: "lead.created", EntityType: lead, EntityID: &h.one}, []int64{c1}},
		{events.Filter{EntityType: "deal", EntityID: &h.one}, []int64{}},
		{events.Filter{Type: "invoice.paid"}, []int64{}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, h.list(t, h.db.Gorm, false, h.org, tc.f, 1), "%+v", tc.f)
	}
}

// TestListEventFields proves List returns every stored field of an event, a NULL entity as nil.
func TestListEventFields(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	var p page.Page[events.Event]
	require.NoError(t, h.db.Tx(t.Context(), h.org, func(tx *gorm.DB) error {
		var err error
		p, err = events.List(t.Context(), tx, h.org, events.Filter{}, page.Request{Limit: 2})
		return err
	}))
	require.Len(t, p.Data, 2)
	require.NotNil(t, p.NextCursor)
	noop, c3 := p.Data[0], p.Data[1]
	require.Equal(t, "system.noop", noop.Type)
	require.Equal(t, "system", noop.EntityType)
	require.Nil(t, noop.EntityID)
	require.Equal(t, "n1", noop.IdempotencyKey)
	require.Equal(t, "apikey:n1", noop.Actor)
	require.JSONEq(t, `{"key":"n1"}`, string(noop.Payload))
	require.False(t, noop.OccurredAt.IsZero())
	require.Equal(t, "lead.created", c3.Type)
	require.Equal(t, &h.three, c3.EntityID)
}

// TestListEventsBadCursor proves a cursor List did not make is BadRequest on field "cursor".
func TestListEventsBadCursor(t *testing.T) {
	t.Parallel()
	h := newHistory(t)
	for _, cursor := range []string{"%%%", page.Encode(map[string]int{"id": 0}), page.Encode(map[string]any{"id": "7"})} {
		err := h.db.Tx(t.Context(), h.org, func(tx *gorm.DB) error {
			_, err := events.List(t.Context(), tx, h.org, events.Filter{}, page.Request{Limit: 5, Cursor: cursor})
			return err
		})
		e, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.BadRequest, e.Code)
		require.Equal(t, "cursor", e.Fields[0].Field)
	}
}

// TestValidEventType proves ValidType accepts exactly the event type form the events table allows.
func TestValidEventType(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"lead.created", "buying_signal.high", "system.integrity_alert", "a.b.c"} {
		require.True(t, events.ValidType(s), s)
	}
	for _, s := range []string{"", "lead", "Lead.created", "lead.", ".lead", "lead.created1", "lead-created.x", "lead.created;"} {
		require.False(t, events.ValidType(s), "%q", s)
	}
}
