package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/lead"
)

// leadStageTable is API.md's lead stage machine, written out independently of pkg/lead: the
// stages each stage may move to, in pipeline order.
var leadStageTable = map[string][]string{
	"new":          {"qualified", "nurture", "lost", "disqualified"},
	"qualified":    {"contacted", "lost", "disqualified"},
	"nurture":      {"contacted", "lost", "disqualified"},
	"contacted":    {"call_booked", "lost", "disqualified"},
	"call_booked":  {"converted", "lost", "disqualified"},
	"converted":    {},
	"lost":         {},
	"disqualified": {},
}

// leadStagePath is a way from new to each stage through allowed moves.
var leadStagePath = map[string][]string{
	"new":          {},
	"qualified":    {"qualified"},
	"nurture":      {"nurture"},
	"contacted":    {"nurture", "contacted"},
	"call_booked":  {"qualified", "contacted", "call_booked"},
	"converted":    {"qualified", "contacted", "call_booked", "converted"},
	"lost":         {"qualified", "lost"},
	"disqualified": {"disqualified"},
}

// move posts a stage change and returns the response.
func (a leadsAPI) move(id uuid.UUID, stage, reason string) response {
	a.t.Helper()
	body := map[string]any{"stage": stage}
	if reason != "" {
		body["reason"] = reason
	}
	return a.do(http.MethodPost, "/leads/"+id.String()+"/stage", body)
}

// TestLeadStageMachineEveryPair drives, for every ordered pair of stages (from, to), a fresh
// lead from new to from along allowed moves and then asks for to: the answer is 200 with the
// lead in stage to, its reason, a new version and a fresh stageChangedAt exactly when the table
// allows the move, and otherwise 409 whose body carries the current stage and the allowed next
// stages while the lead stays as it was. Each successful move writes one lead.stage_changed
// event {from, to, reason}; a refused one writes none.
func TestLeadStageMachineEveryPair(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	pairs := 0
	for from, path := range leadStagePath {
		for to := range leadStageTable {
			pairs++
			name := fmt.Sprintf("%s -> %s", from, to)
			l := a.create(map[string]any{"email": fmt.Sprintf("%s.%s@example.com", from, to)})
			for _, step := range path {
				r := a.move(l.ID, step, "")
				require.Equal(t, http.StatusOK, r.Status, "%s: path step %s: %s", name, step, r.Body)
			}
			before := a.get(l.ID)
			require.Equal(t, lead.Stage(from), before.Stage)
			require.Equal(t, 1+len(path), before.Version)

			r := a.move(l.ID, to, "because "+name)
			allowed := leadStageTable[from]
			if contains(allowed, to) {
				require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Body)
				var got lead.Lead
				r.json(t, &got)
				require.Equal(t, lead.Stage(to), got.Stage, name)
				require.Equal(t, "because "+name, *got.StageReason, name)
				require.Equal(t, before.Version+1, got.Version, name)
				require.False(t, got.StageChangedAt.Before(before.StageChangedAt), name)
				require.Equal(t, got, a.get(l.ID), name)
				var payload []byte
				require.NoError(t, a.super.QueryRow(t.Context(), `SELECT payload FROM events WHERE entity_id = $1
					AND idempotency_key = $2`, l.ID, fmt.Sprintf("lead.stage_changed:%s:%d", l.ID, got.Version)).Scan(&payload))
				require.JSONEq(t, fmt.Sprintf(`{"from":%q,"to":%q,"reason":%q,"version":%d,
					"row":{"rev":1,"set":{"stage":%[2]q,"stageReason":%[3]q,"version":%[4]d},"at":["stageChangedAt"]}}`, from, to, "because "+name, got.Version),
					string(payload), name)
				require.Equal(t, len(path)+1, a.leadEvents(l.ID, "lead.stage_changed"), name)
				continue
			}
			require.Equal(t, http.StatusConflict, r.Status, "%s: %s", name, r.Body)
			p := r.leadProblem(t)
			require.Equal(t, "conflict", p.Code, name)
			require.Equal(t, from, p.CurrentStage, name)
			require.Equal(t, allowed, p.Allowed, name)
			require.Equal(t, before, a.get(l.ID), "%s: a refused move changes nothing", name)
			require.Equal(t, len(path), a.leadEvents(l.ID, "lead.stage_changed"), name)
		}
	}
	require.Equal(t, 64, pairs)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestLeadStageConcurrentChanges proves concurrent stage changes of one lead cannot both win:
// ten requests at once, half moving new -> qualified and half new -> nurture, give exactly one
// 200; the other nine see the winner's stage (409 naming it, or 409 because it is the stage they
// asked for), exactly one lead.stage_changed event is written, and the lead ends in the
// winner's stage at version 2.
func TestLeadStageConcurrentChanges(t *testing.T) {
	t.Parallel()
	a := newLeadsAPI(t)
	l := a.create(map[string]any{"email": "race@example.com"})
	path := "/leads/" + l.ID.String() + "/stage"

	const n = 10
	type result struct {
		want   string
		status int
		body   []byte
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		want := "qualified"
		if i%2 == 1 {
			want = "nurture"
		}
		wg.Go(func() {
			<-start
			status, body := a.send(http.MethodPost, path, fmt.Sprintf(`{"stage":%q}`, want))
			results[i] = result{want, status, body}
		})
	}
	close(start)
	wg.Wait()

	winner := ""
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			require.Empty(t, winner, "two stage changes won")
			winner = r.want
		case http.StatusConflict:
		default:
			require.Failf(t, "unexpected status", "%d: %s", r.status, r.body)
		}
	}
	require.NotEmpty(t, winner, "one stage change wins")
	for _, r := range results {
		if r.status != http.StatusConflict {
			continue
		}
		var p leadProblem
		require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
		require.Equal(t, winner, p.CurrentStage, "the loser saw the winner's stage")
		require.Equal(t, leadStageTable[winner], p.Allowed)
	}
	got := a.get(l.ID)
	require.Equal(t, lead.Stage(winner), got.Stage)
	require.Equal(t, 2, got.Version)
	require.Equal(t, 1, a.leadEvents(l.ID, "lead.stage_changed"))
	require.WithinDuration(t, time.Now(), got.StageChangedAt, time.Minute)
}
