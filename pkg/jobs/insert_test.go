package jobs_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/jobs"
)

// TestPayloadSQL proves a payload's SQL is built from its struct alone: each field by its json
// and col tags, a nil-able omitempty field left out when its column is NULL, and a field without
// both tags refused.
func TestPayloadSQL(t *testing.T) {
	t.Parallel()
	type payload struct {
		ID     int64      `json:"id" col:"id"`
		Entity *uuid.UUID `json:"entity,omitempty" col:"entity_id"`
		Kind   string     `json:"kind" col:"type"`
	}
	require.Equal(t,
		"jsonb_build_object('id', r.id, 'kind', r.type) || CASE WHEN r.entity_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('entity', r.entity_id) END",
		jobs.PayloadSQL(payload{}, "r"))
	type untagged struct {
		ID int64 `json:"id"`
	}
	require.Panics(t, func() { jobs.PayloadSQL(untagged{}, "r") })
	require.Panics(t, func() { jobs.PayloadSQL(42, "r") })
}

// TestKeys proves the key formats of the jobs other rows cause.
func TestKeys(t *testing.T) {
	t.Parallel()
	require.Equal(t, "event:42", jobs.EventKey(42))
	require.Equal(t, "'event:' || ev.id", jobs.EventKeySQL("ev.id"))
	require.Equal(t, "'intake:' || raw.id", jobs.IntakeKeySQL("raw.id"))
}
