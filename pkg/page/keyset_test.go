package page_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/page"
)

type row struct {
	At    time.Time
	Score *int
	ID    uuid.UUID
}

// args numbers placeholders $1, $2, ... as db.Args does.
type args []any

func (a *args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

var (
	byAt    = page.Time("created_at", "t", func(r row) time.Time { return r.At })
	byID    = page.UUID("id", "i", func(r row) uuid.UUID { return r.ID })
	byScore = page.NullInt("score", "n", func(r row) *int { return r.Score })
)

// TestKeysetSQL proves the order and the condition after a cursor in each direction, with NULLs
// below every value and with the first column bounded on its own.
func TestKeysetSQL(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := uuid.New()
	seven := 7
	after := func(ks page.Keyset[row], r row) (string, args) {
		p := ks.Page([]row{r, r}, 1)
		pos, err := ks.Position(*p.NextCursor)
		require.NoError(t, err)
		require.False(t, pos.First())
		var a args
		return pos.After(&a), a
	}

	asc, desc := page.Asc(byAt, byID), page.Desc(byAt, byID)
	require.Equal(t, "created_at ASC, id ASC", asc.Order())
	require.Equal(t, "created_at DESC, id DESC", desc.Order())
	cond, a := after(asc, row{At: at, ID: id})
	require.Equal(t, "(created_at, id) > ($1::timestamptz, $2::uuid)", cond)
	require.Equal(t, args{at, id}, a)
	cond, _ = after(desc, row{At: at, ID: id})
	require.Equal(t, "(created_at, id) < ($1::timestamptz, $2::uuid)", cond)
	cond, a = after(desc.Bounded(), row{At: at, ID: id})
	require.Equal(t, "created_at <= $1::timestamptz AND (created_at, id) < ($2::timestamptz, $3::uuid)", cond)
	require.Equal(t, args{at, at, id}, a)

	sAsc, sDesc := page.Asc(byScore, byID), page.Desc(byScore, byID)
	require.Equal(t, "score ASC NULLS FIRST, id ASC", sAsc.Order())
	require.Equal(t, "score DESC NULLS LAST, id DESC", sDesc.Order())
	cond, _ = after(sAsc, row{ID: id})
	require.Equal(t, "((score IS NULL AND id > $1::uuid) OR score IS NOT NULL)", cond)
	cond, _ = after(sDesc, row{ID: id})
	require.Equal(t, "(score IS NULL AND id < $1::uuid)", cond)
	cond, a = after(sAsc, row{Score: &seven, ID: id})
	require.Equal(t, "(score, id) > ($1::int, $2::uuid)", cond)
	require.Equal(t, args{7, id}, a)
	cond, _ = after(sDesc, row{Score: &seven, ID: id})
	require.Equal(t, "((score, id) < ($1::int, $2::uuid) OR score IS NULL)", cond)

	serial := page.Desc(page.Serial("id", "id", func(n int64) int64 { return n }))
	p := serial.Page([]int64{9, 8, 7}, 2)
	pos, err := serial.Position(*p.NextCursor)
	require.NoError(t, err)
	var sa args
	require.Equal(t, "id < $1::int8", pos.After(&sa))
	require.Equal(t, args{int64(8)}, sa)

	require.Panics(t, func() { page.Asc(byScore) }, "a nullable key alone orders nothing uniquely")
	require.Panics(t, func() { page.Asc(byID, byScore) }, "only the first key may be nullable")

	first, err := asc.Position("")
	require.NoError(t, err)
	require.True(t, first.First())
	var none args
	require.Empty(t, first.After(&none))
	require.Empty(t, none)
	require.Equal(t, "ORDER BY created_at ASC, id ASC LIMIT $1", asc.OrderLimit(50, &none))
	require.Equal(t, args{51}, none)

	tail, err := asc.Tail("", 10, &none)
	require.NoError(t, err)
	require.Equal(t, " ORDER BY created_at ASC, id ASC LIMIT $2", tail)
	var ta args
	tail, err = asc.Tail(*asc.Page([]row{{At: at, ID: id}, {}}, 1).NextCursor, 10, &ta)
	require.NoError(t, err)
	require.Equal(t, " AND (created_at, id) > ($1::timestamptz, $2::uuid) ORDER BY created_at ASC, id ASC LIMIT $3", tail)
	require.Equal(t, args{at, id, 11}, ta)
	_, err = asc.Tail("!!!", 10, &ta)
	require.Equal(t, apperr.BadRequest, apperr.CodeOf(err))
}

// TestKeysetCursors proves a cursor is the JSON object the lists' cursor structs made (so that
// the cursors clients hold go on working), and that one of another order, sort or shape is
// refused as BadCursor.
func TestKeysetCursors(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	id := uuid.MustParse("0b8f7d1e-3c2a-4e5f-8a9b-1c2d3e4f5a6b")
	newest := page.Desc(byAt, byID).Sorted("-createdAt")
	score := page.Desc(byScore, byID).Sorted("-score")

	// leadCursor, as the lead list encoded its cursors.
	type leadCursor struct {
		S  string     `json:"s"`
		At *time.Time `json:"t,omitempty"`
		N  *int       `json:"n,omitempty"`
		ID uuid.UUID  `json:"i"`
	}
	c := *newest.Page([]row{{At: at, ID: id}, {}}, 1).NextCursor
	require.Equal(t, page.Encode(leadCursor{S: "-createdAt", At: &at, ID: id}), c)
	_, err := newest.Position(c)
	require.NoError(t, err)

	unscored := *score.Page([]row{{ID: id}, {}}, 1).NextCursor
	require.Equal(t, page.Encode(leadCursor{S: "-score", ID: id}), unscored)
	_, err = score.Position(unscored)
	require.NoError(t, err)

	bad := func(ks page.Keyset[row], cursor string) {
		t.Helper()
		_, err := ks.Position(cursor)
		require.Error(t, err, cursor)
		require.Equal(t, apperr.BadRequest, apperr.CodeOf(err), cursor)
	}
	bad(score, c)
	bad(newest, unscored)
	bad(page.Desc(byAt, byID), c) // a sorted cursor in a list of one order
	bad(newest, page.Encode(map[string]any{"s": "-createdAt", "t": at, "i": id, "n": 1}))
	bad(newest, page.Encode(map[string]any{"s": "-createdAt", "t": time.Time{}, "i": id}))
	bad(newest, page.Encode(map[string]any{"s": "-createdAt", "t": at, "i": uuid.Nil}))
	bad(newest, page.Encode(map[string]any{"s": "-createdAt", "t": at}))
	bad(newest, page.Encode(map[string]any{"s": "-createdAt", "t": "yesterday", "i": id}))
	sorts := page.Sorts(map[string]page.Keyset[row]{"createdAt": page.Asc(byAt, byID), "-createdAt": page.Desc(byAt, byID)})
	_, err = sorts["-createdAt"].Position(c)
	require.NoError(t, err)
	bad(sorts["createdAt"], c)
	bad(newest, "bnVsbA") // null
	bad(newest, "!!!")
	serial := page.Asc(page.Serial("id", "i", func(r row) int64 { return int64(r.At.Second()) }))
	bad(serial, page.Encode(map[string]any{"i": 0}))
	bad(serial, page.Encode(map[string]any{"i": 1.5}))
}

// TestClamped proves a clamping list's limit: the default for none, the maximum at the most.
func TestClamped(t *testing.T) {
	t.Parallel()
	require.Equal(t, page.DefaultLimit, page.Request{}.Clamped())
	require.Equal(t, page.DefaultLimit, page.Request{Limit: -1}.Clamped())
	require.Equal(t, 7, page.Request{Limit: 7}.Clamped())
	require.Equal(t, page.MaxLimit, page.Request{Limit: page.MaxLimit + 1}.Clamped())
}

// TestCheck proves a refusing list's limit check: 1..MaxLimit, else 400 on field "limit".
func TestCheck(t *testing.T) {
	t.Parallel()
	require.NoError(t, page.Request{Limit: 1}.Check())
	require.NoError(t, page.Request{Limit: page.MaxLimit}.Check())
	for _, n := range []int{0, -1, page.MaxLimit + 1} {
		err := page.Request{Limit: n}.Check()
		require.Equal(t, apperr.BadRequest, apperr.CodeOf(err))
		require.EqualError(t, err, "limit must be an integer from 1 to 200")
	}
}
