package db

import (
	"context"

	"github.com/google/uuid"

	"example.com/crm/pkg/page"
)

// ReadPage reads a page of a list in one round trip (Read): query is the list's statement up to
// the end of its WHERE clause, with its arguments (the org's first) in a; k's Tail after req's
// cursor ends it, so that up to req.Limit+1 rows are read, each into an R by column name and
// made a T by conv. A cursor that k did not make is page.BadCursor.
func ReadPage[R, T any](ctx context.Context, d *DB, orgID uuid.UUID, k page.Keyset[T], req page.Request,
	query string, a Args, conv func(R) T) (page.Page[T], error) {
	tail, err := k.Tail(req.Cursor, req.Limit, &a)
	if err != nil {
		return page.Page[T]{}, err
	}
	rows, err := ReadAll[R](ctx, d, orgID, query+tail, a...)
	if err != nil {
		return page.Page[T]{}, err
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return k.Page(out, req.Limit), nil
}
