package pipeline_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/enrichment"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/lead"
	"example.com/crm/pkg/pipeline"
	"example.com/crm/pkg/scoring"
)

// outcome is what the pipeline stored for a lead, without its ids and times: its fields, and the
// number and payloads of its pipeline events.
type outcome struct {
	Lead     string
	Events   map[string]int
	Payloads map[string]string
}

func (b *pipeBundle) outcomeOf(t *testing.T, id uuid.UUID) outcome {
	t.Helper()
	o := outcome{Events: map[string]int{}, Payloads: map[string]string{}}
	var row []byte
	require.NoError(t, b.super.Pool.QueryRow(t.Context(), `SELECT to_jsonb(x) FROM (
		SELECT stage, stage_reason, score, score_reasons, icp_match, recommended_path, scored_by, priority,
		       revenue_band, domain, enrichment, version, qualified_at IS NOT NULL AS qualified,
		       stage_changed_at IS NOT NULL AS stage_changed, deleted_at IS NOT NULL AS deleted
		FROM leads WHERE id = $1) x`, id).Scan(&row))
	o.Lead = string(row)
	for _, typ := range []string{lead.EventEnriched, lead.EventQualified, lead.EventStageChanged} {
		o.Events[typ] = b.events(t, typ, id)
		var p []byte
		err := b.super.Pool.QueryRow(t.Context(), `SELECT coalesce(jsonb_agg(payload ORDER BY id), '[]') FROM events
			WHERE type = $1 AND entity_id = $2 AND actor = $3`, typ, id, pipeline.Actor).Scan(&p)
		require.NoError(t, err)
		o.Payloads[typ] = string(p)
	}
	return o
}

// TestPipelineManyAgrees proves Enrich and Qualify over many leads (one statement per step for all
// the leads) store and emit exactly what they do lead by lead, for leads of
// every path (a CTO at a business domain, a free-mail address, a domain the ICP excludes, a lead
// a person moved on before qualification), in both orders of the two jobs, that their reruns
// change nothing, that they leave deleted, unknown and other orgs' leads alone and take a
// repeated id once, and that a pipeline that calls out (its calls before the transaction) does
// the same over many leads.
func TestPipelineManyAgrees(t *testing.T) {
	t.Parallel()
	b := setupPipeline(t, nil)
	em := events.NewEmitter(jobs.New(b.d, jobs.Config{}), catalog.New().EventJobs)
	p := pipeline.New(b.d, em, enrichment.LocalEnricher{}, scoring.Builtin{})
	_, err := b.super.Pool.Exec(t.Context(), `UPDATE orgs SET icp = '{"excludedDomains":["excluded.example"],"titles":["cto"]}' WHERE id = $1`, b.org)
	require.NoError(t, err)

	profiles := []struct {
		local, domain, name, title string
		movedOn                    bool
	}{
		{"ada", "acme.io", "Ada Lovelace", "CTO", false},
		{"grace", "gmail.com", "Grace Hopper", "", false},
		{"alan", "excluded.example", "Alan Turing", "Engineer", false},
		{"edsger", "beta.io", "Edsger Dijkstra", "VP Engineering", false},
		{"barbara", "acme.io", "Barbara Liskov", "CTO", true},
	}
	n := 0
	create := func() []uuid.UUID {
		t.Helper()
		var ids []uuid.UUID
		for _, pr := range profiles {
			n++
			l, err := b.svc.Create(t.Context(), b.org, "test", lead.NewLead{Contact: lead.Contact{
				Email: fmt.Sprintf("%s%d@%s", pr.local, n, pr.domain), Name: pr.name, Title: pr.title}})
			require.NoError(t, err)
			if pr.movedOn {
				_, err = b.svc.ChangeStage(t.Context(), b.org, "test", l.ID, lead.StageNurture, "met at a fair")
				require.NoError(t, err)
			}
			ids = append(ids, l.ID)
		}
		return ids
	}
	other := b.otherOrgLead(t)

	for _, qualifyFirst := range []bool{false, true} {
		one, many := create(), create()
		steps := []func(context.Context, uuid.UUID, []uuid.UUID, pipeline.Commit) error{p.Enrich, p.Qualify}
		batches := []func(context.Context, uuid.UUID, []uuid.UUID, pipeline.Commit) error{p.Enrich, p.Qualify}
		if qualifyFirst {
			steps[0], steps[1] = steps[1], steps[0]
			batches[0], batches[1] = batches[1], batches[0]
		}
		for _, id := range one {
			for _, step := range append(steps, steps...) { // the second round is a rerun
				require.NoError(t, step(t.Context(), b.org, []uuid.UUID{id}, b.commit))
			}
		}
		deleted := create()[0]
		require.NoError(t, b.svc.Delete(t.Context(), b.org, "test", deleted))
		list := append([]uuid.UUID{many[2], deleted, uuid.New(), other}, many...) // many[2] twice
		for _, batch := range append(batches, batches...) {
			require.NoError(t, batch(t.Context(), b.org, list, b.commit))
		}
		for i := range profiles {
			want := b.outcomeOf(t, one[i])
			require.Equal(t, want, b.outcomeOf(t, many[i]), "profile %d, qualify first: %v", i, qualifyFirst)
			require.Equal(t, 1, want.Events[lead.EventQualified])
		}
		require.Zero(t, b.events(t, lead.EventEnriched, deleted)+b.events(t, lead.EventQualified, deleted), "a deleted lead is left alone")
		require.Equal(t, 3, b.count(t, `SELECT count(DISTINCT recommended_path) FROM leads WHERE id = ANY($1)`, many),
			"the profiles take all three paths")
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND actor = $2`, other, pipeline.Actor),
		"another org's lead is left alone")

	// A pipeline that calls out does the same over many leads, its calls before the transaction.
	online := pipeline.New(b.d, em, localEnricher{}, scoring.Builtin{})
	require.False(t, online.Offline())
	for _, qualifyFirst := range []bool{false, true} {
		one, many := create(), create()
		steps := []func(context.Context, uuid.UUID, []uuid.UUID, pipeline.Commit) error{p.Enrich, p.Qualify}
		batches := []func(context.Context, uuid.UUID, []uuid.UUID, pipeline.Commit) error{online.Enrich, online.Qualify}
		if qualifyFirst {
			steps[0], steps[1] = steps[1], steps[0]
			batches[0], batches[1] = batches[1], batches[0]
		}
		for _, id := range one {
			for _, step := range append(steps, steps...) {
				require.NoError(t, step(t.Context(), b.org, []uuid.UUID{id}, b.commit))
			}
		}
		list := append([]uuid.UUID{many[2], uuid.New(), other}, many...)
		for _, batch := range append(batches, batches...) {
			require.NoError(t, batch(t.Context(), b.org, list, b.commit))
		}
		for i := range profiles {
			require.Equal(t, b.outcomeOf(t, one[i]), b.outcomeOf(t, many[i]), "online, profile %d, qualify first: %v", i, qualifyFirst)
		}
	}
}

// otherOrgLead creates a lead in a second org and returns its id.
func (b *pipeBundle) otherOrgLead(t *testing.T) uuid.UUID {
	t.Helper()
	l, err := b.svc.Create(t.Context(), dbtest.NewOrg(t, b.d, "other"), "test", lead.NewLead{Contact: lead.Contact{Email: "x@other.io"}})
	require.NoError(t, err)
	return l.ID
}
