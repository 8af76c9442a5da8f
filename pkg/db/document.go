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
	doc, err := ReadByID[[]byte](ctx, d, orgID, entity, id, query)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s document: %w", entity, err)
	case doc == nil:
		return nil, apperr.Errorf(apperr.NotFound, "%s %s has no document", entity, id)
	}
	return doc, nil
}
