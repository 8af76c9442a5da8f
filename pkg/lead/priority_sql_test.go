package lead_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

// priorityCase is one lead of the grid of TestAutoPrioritySQLAgreesWithGo: the table's inputs,
// the deals behind its open deal value, and the priority and row Go's table gives it.
type priorityCase struct {
	in    lead.PriorityInputs
	deals []gridDeal
	want  lead.Priority
	rule  string
	start lead.Priority
}

// gridDeal is a deal of a grid lead.
type gridDeal struct {
	stage string
	value int64
}

// priorityGrid is every combination of the table's inputs at the boundaries of rules: each stage;
// the score unscored, at 0 and 100, and one below, at and one above each score threshold; the
// ghost risk from 0 to one above ColdGhostRisk; and no open deal (none, or only a won and a lost
// one above LargeDealValue) or an open deal below, at or above LargeDealValue (beside a smaller
// open deal or a larger closed one, so that the largest open deal counts). Each lead starts at a
// priority other than Go's answer, so that the sweep changes every lead and reports its row.
func priorityGrid(rules lead.PriorityRules) []priorityCase {
	stages := []lead.Stage{lead.StageNew, lead.StageQualified, lead.StageNurture, lead.StageContacted, lead.StageCallBooked,
		lead.StageConverted, lead.StageLost, lead.StageDisqualified}
	var scores []*int
	for _, s := range []int{0, 100, rules.WarmScore - 1, rules.WarmScore, rules.WarmScore + 1,
		rules.HotScore - 1, rules.HotScore, rules.HotScore + 1} {
		if s >= 0 && s <= 100 && !slices.ContainsFunc(scores, func(p *int) bool { return *p == s }) {
			scores = append(scores, intp(s))
		}
	}
	scores = append(scores, nil)
	large := rules.LargeDealValue
	deals := []struct {
		open  *int64
		deals []gridDeal
	}{
		{nil, nil},
		{nil, []gridDeal{{"won", large + 1}, {"lost", large + 1}}},
		{int64p(large - 1), []gridDeal{{"discovery", large - 1}, {"proposal", 1}}},
		{int64p(large), []gridDeal{{"negotiation", large}, {"won", 10 * large}}},
		{int64p(large + 1), []gridDeal{{"proposal", large + 1}}},
	}
	var out []priorityCase
	for _, stage := range stages {
		for _, score := range scores {
			for risk := 0; risk <= rules.ColdGhostRisk+1; risk++ {
				for _, d := range deals {
					in := lead.PriorityInputs{Stage: stage, Score: score, GhostRisk: risk, OpenDealValue: d.open}
					want, rule := rules.AutoPriority(in)
					start := lead.PriorityLow
					if want == lead.PriorityLow {
						start = lead.PriorityUrgent
					}
					out = append(out, priorityCase{in: in, deals: d.deals, want: want, rule: rule, start: start})
				}
			}
		}
	}
	return out
}

// TestAutoPrioritySQLAgreesWithGo proves the auto-priority sweep, which computes the table in SQL,
// gives every lead of an exhaustive grid at the table's boundaries (priorityGrid) the priority
// and the row that Go's PriorityRules.AutoPriority gives it, and records the inputs it saw, for
// the default thresholds and for another set, in both walks of the sweep (by id, by page): a
// change of a row on either side fails it.
func TestAutoPrioritySQLAgreesWithGo(t *testing.T) {
	t.Parallel()
	b := setupSweep(t)
	ctx := t.Context()
	other := lead.PriorityRules{HotScore: 65, WarmScore: 30, ColdGhostRisk: 5, LargeDealValue: 25_000, Hold: time.Hour}
	for _, c := range []struct {
		org   uuid.UUID
		rules lead.PriorityRules
	}{{b.org, lead.DefaultPriorityRules()}, {b.other, other}} {
		grid := priorityGrid(c.rules)
		var (
			stages, starts []string
			scores         []*int32
			risks          []int32
			dealLeads      []int32
			dealStages     []string
			dealValues     []int64
		)
		for i, g := range grid {
			var score *int32
			if g.in.Score != nil {
				s := int32(*g.in.Score)
				score = &s
			}
			stages, starts, scores, risks = append(stages, string(g.in.Stage)), append(starts, string(g.start)),
				append(scores, score), append(risks, int32(g.in.GhostRisk))
			for _, d := range g.deals {
				dealLeads, dealStages, dealValues = append(dealLeads, int32(i)), append(dealStages, d.stage), append(dealValues, d.value)
			}
		}
		rows, err := b.super.Pool.Query(ctx, `INSERT INTO leads (org_id, email, fingerprint, stage, score, ghost_risk, priority)
SELECT $1, 'grid' || g.i || '@example.com', 'grid:' || g.i, g.stage, g.score, g.risk, g.priority
FROM unnest($2::text[], $3::int[], $4::int[], $5::text[]) WITH ORDINALITY AS g(stage, score, risk, priority, i)
ORDER BY g.i
RETURNING id`, c.org, stages, scores, risks, starts)
		require.NoError(t, err)
		var ids []uuid.UUID
		for rows.Next() {
			var id uuid.UUID
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		require.NoError(t, rows.Err())
		require.Len(t, ids, len(grid))
		_, err = b.super.Pool.Exec(ctx, `INSERT INTO deals (org_id, lead_id, title, deal_value, currency, stage, won_at, lost_at)
SELECT $1, ($2::uuid[])[d.i + 1], 'Licence', d.value, 'EUR', d.stage,
    CASE WHEN d.stage = 'won' THEN now() END, CASE WHEN d.stage = 'lost' THEN now() END
FROM unnest($3::int[], $4::text[], $5::bigint[]) AS d(i, stage, value)`, c.org, ids, dealLeads, dealStages, dealValues)
		require.NoError(t, err)
		byID := map[uuid.UUID]priorityCase{}
		for i, id := range ids {
			byID[id] = grid[i]
		}

		// Both walks of the sweep, each from the grid's start priorities: the org's leads in id
		// order, then the table's pages in order (chunks of 20 pages). Resetting a lead's priority
		// moves its version on by one, so the first walk makes version 2, the second version 4.
		for _, walk := range []struct {
			name    string
			from    int
			chunk   int
			version int
		}{{"by id", -1, 500, 2}, {"by page", 1, 20, 4}} {
			if walk.version > 2 {
				_, err := b.super.Pool.Exec(ctx, `UPDATE leads SET priority = s.priority, version = version + 1
FROM unnest($2::uuid[], $3::text[]) AS s(id, priority) WHERE leads.org_id = $1 AND leads.id = s.id`, c.org, ids, starts)
				require.NoError(t, err)
			}
			b.svc.HeapWalkLeads, b.svc.SweepChunk = walk.from, walk.chunk
			res, err := b.svc.RecalcAutoPriority(ctx, c.org, time.Now().UTC(), c.rules)
			require.NoError(t, err)
			rows, err = b.super.Pool.Query(ctx, `SELECT l.id, l.priority, e.payload FROM leads l
LEFT JOIN events e ON e.org_id = l.org_id AND e.entity_id = l.id AND e.type = 'lead.priority_changed'
    AND e.idempotency_key = 'lead.priority_changed:' || l.id || ':' || $2::int
WHERE l.org_id = $1`, c.org, walk.version)
			require.NoError(t, err)
			var wrong []string
			seen := 0
			for rows.Next() {
				var id uuid.UUID
				var p string
				var payload []byte
				require.NoError(t, rows.Scan(&id, &p, &payload))
				g := byID[id]
				seen++
				var got lead.PriorityChangedPayload
				if payload != nil {
					require.NoError(t, json.Unmarshal(payload, &got))
				}
				want := lead.PriorityChangedPayload{From: g.start, To: g.want, Version: walk.version, Rule: g.rule, Inputs: g.in}
				if lead.Priority(p) != g.want || !reflect.DeepEqual(got, want) {
					wrong = append(wrong, fmt.Sprintf("%s: priority %s, event %s -> %s by %s of %s; Go: %s by %s",
						describe(g.in), p, got.From, got.To, got.Rule, describe(got.Inputs), g.want, g.rule))
				}
			}
			require.NoError(t, rows.Err())
			require.Equal(t, len(grid), seen)
			require.Empty(t, wrong, "%s: %d of %d leads disagree with Go (thresholds %+v):\n%s", walk.name, len(wrong), len(grid),
				c.rules, strings.Join(wrong, "\n"))
			require.Equal(t, len(grid), res.Changed, walk.name)
			if walk.from > 0 {
				require.Greater(t, res.Chunks, 1, "the table's pages in several chunks")
			}
		}
	}
}

// describe prints in for a failure message.
func describe(in lead.PriorityInputs) string {
	score, deal := "nil", "nil"
	if in.Score != nil {
		score = fmt.Sprint(*in.Score)
	}
	if in.OpenDealValue != nil {
		deal = fmt.Sprint(*in.OpenDealValue)
	}
	return fmt.Sprintf("{stage %s, score %s, ghost risk %d, open deal %s}", in.Stage, score, in.GhostRisk, deal)
}
