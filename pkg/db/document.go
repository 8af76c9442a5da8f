package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
)

// ReadDocument reads the stored document (a nullable bytea column) of the org's entity id in one
// round trip (Read): query selects that one column of the entity's row, with the org as $1 and
// the id as $2. A missing row is apperr.NotFound "<entity> <id> not found", a row without a
// document (NULL) apperr.NotFound "<entity> <id> has no document". It is the read of the
// domains' GET .../document routes, which are hot.
func (d *DB) ReadDocument(ctx context.Context, orgID uuid.UUID, entity string, id uuid.UUID, query string) ([]byte, error) {
	var doc []byte
	found := false
	err := d.Read(ctx, orgID, func(b *Batch) {
		b.Row(func(r Row) error { found = true; return r.Scan(&doc) }, query, UUID(orgID), UUID(id))
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s document: %w", entity, err)
	case !found:
		return nil, apperr.Errorf(apperr.NotFound, "%s %s not found", entity, id)
	case doc == nil:
		return nil, apperr.Errorf(apperr.NotFound, "%s %s has no document", entity, id)
	}
	return doc, nil
}
