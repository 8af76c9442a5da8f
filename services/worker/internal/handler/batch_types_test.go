package handler_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/services/worker/internal/handler"
)

// TestBatchTypes proves which job types may share a transaction: the database-only steps of the
// intake pipeline always, enrich_lead and qualify_lead only while neither the enrichment API nor
// a model is configured (a batch's transaction must never wait on the network), and every type
// named has a handler that is not the "not implemented" one; and that those two then have batch
// handlers (BatchRegistry), and no type has one otherwise.
func TestBatchTypes(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	q := jobs.New(d, jobs.Config{})
	em := events.NewEmitter(q)
	always := []string{jobs.TypeProcessIntake, jobs.TypeRouteOutreach, jobs.TypeFollowUpLead}
	for name, tc := range map[string]struct {
		ai   config.AI
		enr  config.Enrichment
		want []string
	}{
		"offline":        {want: append(always[:3:3], jobs.TypeEnrichLead, jobs.TypeQualifyLead)},
		"model":          {ai: config.AI{APIKey: "sk", Model: "m", BaseURL: "http://127.0.0.1:1"}, want: always},
		"enrichment API": {enr: config.Enrichment{URL: "http://127.0.0.1:1/company"}, want: always},
	} {
		pipe, err := handler.NewLeadPipeline(d.Gorm, em, tc.ai, tc.enr)
		require.NoError(t, err, name)
		deps := handler.Deps{Gorm: d.Gorm, Queue: q, Emitter: em, Log: zap.NewNop(), Pipeline: pipe}
		got := handler.BatchTypes(deps)
		require.ElementsMatch(t, tc.want, got, name)
		var withBatchHandler []string
		for typ := range handler.BatchRegistry(deps) {
			withBatchHandler = append(withBatchHandler, typ)
		}
		if name == "offline" {
			require.ElementsMatch(t, []string{jobs.TypeEnrichLead, jobs.TypeQualifyLead}, withBatchHandler, "the set-based pipeline")
		} else {
			require.Empty(t, withBatchHandler, name)
		}
		reg := handler.Registry(deps)
		for _, typ := range got {
			err := reg[typ](t.Context(), q.NewRun(&jobs.Job{OrgID: [16]byte{1}, Type: typ, Payload: []byte(`"not an object"`)}))
			require.NotErrorIs(t, err, jobs.ErrNotImplemented, "%s: %s", name, typ)
		}
	}
	require.ElementsMatch(t, always, handler.BatchTypes(handler.Deps{Gorm: d.Gorm, Queue: q, Emitter: em}), "no pipeline")
}
