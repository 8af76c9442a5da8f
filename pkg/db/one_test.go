package db_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// oneRow is a row read by column name: a tagged field, a snake-cased one, nullable ones.
type oneRow struct {
	ID        uuid.UUID  `gorm:"column:id"`
	OrgName   string     // org_name
	Note      *string    `gorm:"column:note"`
	DoneAt    *time.Time `gorm:"column:done_at"`
	CreatedAt time.Time  `gorm:"column:created_at"`
	Count     int64      `gorm:"column:n"`
}

// TestReadOne proves the one-row reads of a request's Get: a struct by column name (tags,
// snake-cased names, NULL into pointers), a scalar, no row as found false, a column without a
// field as an error, ReadByID's NotFound naming the entity, and QueueOne sharing a round trip
// with another read; all in the org's tenant transaction.
func TestReadOne(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	id := uuid.New()
	const q = `SELECT $2::uuid AS id, current_setting('app.org_id') AS org_name, NULL::text AS note,
	NULL::timestamptz AS done_at, '2026-01-02T03:04:05Z'::timestamptz AS created_at, 7::bigint AS n
WHERE $1::uuid IS NOT NULL`

	got, found, err := db.ReadOne[oneRow](ctx, s.app, s.orgA, q, db.UUID(s.orgA), db.UUID(id))
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, oneRow{ID: id, OrgName: s.orgA.String(), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Count: 7},
		oneRow{ID: got.ID, OrgName: got.OrgName, Note: got.Note, DoneAt: got.DoneAt, CreatedAt: got.CreatedAt.UTC(), Count: got.Count})

	_, found, err = db.ReadOne[oneRow](ctx, s.app, s.orgA, q+` AND false`, db.UUID(s.orgA), db.UUID(id))
	require.NoError(t, err)
	require.False(t, found)

	n, found, err := db.ReadOne[int64](ctx, s.app, s.orgB, `SELECT count(*) FROM api_keys`)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, int64(1), n, "row-level security keeps the other org's key out")

	_, _, err = db.ReadOne[oneRow](ctx, s.app, s.orgA, `SELECT 1 AS nope`)
	require.ErrorContains(t, err, `no field for column "nope"`)

	r, err := db.ReadByID[oneRow](ctx, s.app, s.orgA, "thing", id, q)
	require.NoError(t, err)
	require.Equal(t, id, r.ID)
	_, err = db.ReadByID[oneRow](ctx, s.app, s.orgA, "thing", id, q+` AND false`)
	e, ok := apperr.As(err)
	require.True(t, ok && e.Code == apperr.NotFound, "%v", err)
	require.Equal(t, "thing "+id.String()+" not found", e.Message)

	var a, b oneRow
	var foundA, foundB bool
	require.NoError(t, s.app.Read(ctx, s.orgA, func(bt *db.Batch) {
		db.QueueOne(bt, &a, &foundA, q, db.UUID(s.orgA), db.UUID(id))
		db.QueueOne(bt, &b, &foundB, q+` AND false`, db.UUID(s.orgA), db.UUID(id))
	}))
	require.True(t, foundA)
	require.False(t, foundB)
	require.Equal(t, id, a.ID)
}

// numRow is a row of TestReadPage's list.
type numRow struct {
	N int64 `gorm:"column:n"`
}

// TestReadPage proves ReadAll (every row, none as an empty slice) and ReadPage: a list read page
// by page after each cursor, in order, with the last page's cursor empty and another order's
// cursor refused.
func TestReadPage(t *testing.T) {
	t.Parallel()
	s := newReadSetup(t)
	ctx := t.Context()
	const q = `SELECT g AS n FROM generate_series(1, 5) g WHERE current_setting('app.org_id') = `

	all, err := db.ReadAll[numRow](ctx, s.app, s.orgA, q+`$1`, s.orgA.String())
	require.NoError(t, err)
	require.Len(t, all, 5)
	none, err := db.ReadAll[int64](ctx, s.app, s.orgA, q+`$1`, s.orgB.String())
	require.NoError(t, err)
	require.NotNil(t, none)
	require.Empty(t, none)

	keys := page.Desc(page.Int64("g", "n", func(v int64) int64 { return v }))
	var got []int64
	cursor := ""
	for range 3 {
		var a db.Args
		pg, err := db.ReadPage(ctx, s.app, s.orgA, keys, page.Request{Limit: 2, Cursor: cursor}, q+a.Add(s.orgA.String()), a,
			func(r numRow) int64 { return r.N })
		require.NoError(t, err)
		got = append(got, pg.Data...)
		cursor = ""
		if pg.NextCursor != nil {
			cursor = *pg.NextCursor
		}
	}
	require.Equal(t, []int64{5, 4, 3, 2, 1}, got)
	require.Empty(t, cursor, "the last page has no next cursor")

	var a db.Args
	_, err = db.ReadPage(ctx, s.app, s.orgA, page.Asc(page.Int64("g", "x", func(v int64) int64 { return v })),
		page.Request{Limit: 2, Cursor: "not a cursor"}, q+a.Add(s.orgA.String()), a, func(r numRow) int64 { return r.N })
	e, ok := apperr.As(err)
	require.True(t, ok && e.Code == apperr.BadRequest, "%v", err)
}
