package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// The steps the money flow's tests share: a deal won through the API, the event that causes a
// worker's job, the emitter the worker's use cases write through, and reading a record back.

// winDeal wins a new deal of a convertible lead with email through the API and returns the
// deal's id and its deal.won event's id.
func winDeal(t *testing.T, a *apiTest, email string) (uuid.UUID, int64) {
	t.Helper()
	d := createDeal(t, a, convertibleLead(t, a, email), nil)
	r := a.do(http.MethodPost, "/deals/"+d.ID+"/stage", map[string]any{"stage": "won"})
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	return uuid.MustParse(d.ID), causingEvent(t, a, "deal.won", d.ID)
}

// causingEvent is the id of the event of type typ about the entity id: the cause of what its
// job makes.
func causingEvent(t *testing.T, a *apiTest, typ, id string) int64 {
	t.Helper()
	var eventID int64
	require.NoError(t, a.super.QueryRow(t.Context(), `SELECT id FROM events WHERE entity_id = $1 AND type = $2`, id, typ).Scan(&eventID))
	return eventID
}

// workerEmitter is an emitter on the owner's handle, as the worker's use cases write through.
func workerEmitter(a *apiTest) *events.Emitter {
	return events.NewEmitter(jobs.New(a.owner, jobs.Config{}), catalog.New().EventJobs)
}

// getOK reads path (200) into v.
func getOK(t *testing.T, a *apiTest, path string, v any) {
	t.Helper()
	r := a.do(http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.json(t, v)
}
