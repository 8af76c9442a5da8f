package main_test

// The whole intake pipeline with real processes (issue 4, "Tests"): signed webhooks posted to
// the gateway binary (connected as the app role) become leads that real worker processes
// enrich, qualify and route, once with the built-in scorer and once with the OpenAI scorer
// talking to aitest's fake server over the real wire format.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/ai/aitest"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/proctest"
)

// workerBuild is the worker binary, built on first use by workerBinary (only the pipeline tests
// need it) and removed by TestMain.
var workerBuild struct {
	once    sync.Once
	bin     string
	cleanup func()
	err     error
}

// workerBinary builds the worker binary once per test binary and returns its path.
func workerBinary(t *testing.T) string {
	t.Helper()
	workerBuild.once.Do(func() {
		workerBuild.bin, workerBuild.cleanup, workerBuild.err = proctest.Build("example.com/crm/services/worker")
	})
	require.NoError(t, workerBuild.err)
	return workerBuild.bin
}

// pipelineLead is one lead of the pipeline test: its webhook body and where it must end.
type pipelineLead struct {
	email string
	body  []byte
	// path is what qualification recommends (the built-in rules give it for this body; the fake
	// OpenAI server is told to answer it), stage where qualification moves the new lead.
	path  string
	stage string
	// events are the event types the lead must have when routed, each exactly this many times.
	events map[string]int
}

// What the worker writes, spelled out here rather than imported from pkg/pipeline, which would pull
// the scorers' dependencies (openai-go) into this module's tests.
const (
	pathBookCall          = "book_call"
	pathNurture           = "nurture"
	pathDisqualify        = "disqualify"
	bookCallSubject       = "Book a call"
	eventFollowUpSchedule = "lead.follow_up_scheduled"
)

// excludedDomain is on the org's ICP exclusion list, so the built-in scorer disqualifies it.
const excludedDomain = "blocked-e2e.io"

func pipelineLeads() []pipelineLead {
	return []pipelineLead{{
		// No ICP preference (40) + c_level (20) + business e-mail (15) + 5 complete fields (10) = 85.
		email: "ada@analytical-engines.io",
		body: []byte(`{"email":"Ada@Analytical-Engines.io","name":"Ada Lovelace","title":"CTO","company":"Analytical Engines",` +
			`"phone":"+44 20 7946 0000","website":"https://analytical-engines.io"}`),
		path: pathBookCall, stage: "qualified",
		events: map[string]int{
			"lead.created": 1, "lead.enriched": 1, "lead.qualified": 1, "lead.stage_changed": 1,
			// priority high; the "Book a call" task and the touchpoint of the resent delivery.
			"lead.updated": 1, "lead.activity_added": 2,
		},
	}, {
		// No ICP preference (40) + a name (2) = 42, free mail: nurture.
		email: "charles.babbage@gmail.com",
		body:  []byte(`{"email":"charles.babbage@gmail.com","name":"Charles Babbage"}`),
		path:  pathNurture, stage: "nurture",
		events: map[string]int{
			"lead.created": 1, "lead.enriched": 1, "lead.qualified": 1, "lead.stage_changed": 1,
			eventFollowUpSchedule: 1,
		},
	}, {
		email: "eve@" + excludedDomain,
		body:  []byte(`{"email":"eve@` + excludedDomain + `","name":"Eve Mallory","title":"Head of Growth"}`),
		path:  pathDisqualify, stage: "disqualified",
		events: map[string]int{
			"lead.created": 1, "lead.enriched": 1, "lead.qualified": 1, "lead.stage_changed": 1,
		},
	}}
}

// aiAnswer is what the fake OpenAI server answers for l.
func aiAnswer(l pipelineLead) map[string]any {
	return map[string]any{
		"score":   map[string]int{pathBookCall: 91, pathNurture: 55, pathDisqualify: 12}[l.path],
		"reasons": []string{"e2e answer for " + l.email}, "icpMatch": l.path == pathBookCall,
		"recommendedPath": l.path,
	}
}

// pipelineEnv is one run of the pipeline: the database, the org and its webhook source, the
// gateway process and its URL.
type pipelineEnv struct {
	super  *db.DB
	org    uuid.UUID
	hookID uuid.UUID
	secret string
	base   string
}

func newPipelineEnv(t *testing.T, workers int, workerEnv ...string) *pipelineEnv {
	t.Helper()
	owner, url := dbtest.NewDB(t)
	e := &pipelineEnv{super: dbtest.SuperDB(t, url), org: dbtest.NewOrg(t, owner, "pipeline e2e")}
	_, err := e.super.Pool.Exec(t.Context(), `UPDATE orgs SET icp = $1::jsonb WHERE id = $2`,
		`{"excludedDomains":["`+excludedDomain+`"]}`, e.org)
	require.NoError(t, err)
	svc := intake.NewService(owner, events.NewEmitter(jobs.New(owner, jobs.Config{}), nil))
	hook, err := svc.Create(t.Context(), e.org, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "hook"})
	require.NoError(t, err)
	e.hookID, e.secret = hook.ID, hook.SigningSecret

	bin := workerBinary(t)
	gw := proctest.Start(t, gatewayBin, "intake-gateway", proctest.Env(dbtest.AppURL(t, url)), "serve")
	for i := range workers {
		// The worker connects as the owner, as in production (README, "Row-level security").
		w := proctest.Start(t, bin, fmt.Sprintf("worker-%d", i+1), proctest.Env(url, workerEnv...), "serve")
		w.LogLine(t, "worker starting", 20*time.Second)
	}
	e.base = gw.BaseURL(t)
	return e
}

// post sends body signed at ts and returns the intake id of the 202.
func (e *pipelineEnv) post(t *testing.T, body []byte, ts time.Time) string {
	t.Helper()
	status, out := post(t, e.base+"/intake/webhook/"+e.hookID.String(), map[string]string{
		"Content-Type": "application/json", "X-Signature": intake.Sign(e.secret, ts, body),
	}, body)
	require.Equal(t, http.StatusAccepted, status, string(out))
	var a struct {
		IntakeID string `json:"intakeId"`
	}
	require.NoError(t, json.Unmarshal(out, &a))
	require.NotEmpty(t, a.IntakeID)
	return a.IntakeID
}

func (e *pipelineEnv) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, e.super.Pool.QueryRow(t.Context(), query, args...).Scan(&n))
	return n
}

// waitRouted waits until n leads of the org have been routed: n route_outreach jobs completed
// and no job of the org left to run.
func (e *pipelineEnv) waitRouted(t *testing.T, n int) {
	t.Helper()
	proctest.Eventually(t, 60*time.Second, fmt.Sprintf("%d leads routed", n), func() bool {
		var routed, open int
		require.NoError(t, e.super.Pool.QueryRow(t.Context(), `SELECT
	count(*) FILTER (WHERE job_type = 'route_outreach' AND status = 'completed'),
	count(*) FILTER (WHERE status <> 'completed')
FROM jobs WHERE org_id = $1`, e.org).Scan(&routed, &open))
		require.LessOrEqual(t, routed, n, "more leads routed than sent")
		return routed == n && open == 0
	})
}

// TestPipelineEndToEnd posts signed webhooks to the real gateway and lets real worker processes
// take each lead through process_intake, enrich_lead, qualify_lead and route_outreach, with the
// built-in scorer (two workers) and with the OpenAI scorer against the fake server (one worker).
// Every lead ends qualified and routed as its path says (book_call: priority high and a "Book a
// call" task; nurture: a follow-up in scheduled_tasks; disqualify: stage disqualified), with each
// of its events exactly once; an exact replay adds nothing, and the same lead resent as a new
// delivery becomes a touchpoint, not a second lead.
func TestPipelineEndToEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ai   bool
	}{{"builtin scorer", false}, {"openai scorer", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			leads := pipelineLeads()
			workers, env, scoredBy := 2, []string{"WORKER_CONCURRENCY=4"}, "builtin"
			var ai *aitest.Server
			if tc.ai {
				replies := make([]aitest.Reply, len(leads))
				for i, l := range leads {
					replies[i] = aitest.JSON(aiAnswer(l))
				}
				ai = aitest.NewServer(t, replies...)
				workers, scoredBy = 1, "gpt-4o-2024-08-06" // the model of aitest's completion
				env = append(env, "OPENAI_API_KEY=sk-e2e", "AI_MODEL=gpt-e2e", "OPENAI_BASE_URL="+ai.URL)
			}
			e := newPipelineEnv(t, workers, env...)

			t0 := time.Now()
			first := e.post(t, leads[0].body, t0)
			require.Equal(t, first, e.post(t, leads[0].body, t0), "an exact replay is the same delivery")
			if tc.ai {
				// The fake server answers in order, so the leads go one at a time.
				e.waitRouted(t, 1)
				e.post(t, leads[1].body, t0)
				e.waitRouted(t, 2)
				e.post(t, leads[2].body, t0)
			} else {
				e.post(t, leads[1].body, t0)
				e.post(t, leads[2].body, t0)
			}
			// The same lead signed at another time is another delivery of a known lead.
			e.post(t, leads[0].body, t0.Add(-10*time.Second))
			e.waitRouted(t, len(leads))

			for _, l := range leads {
				var id uuid.UUID
				var stage, path, priority, by string
				require.NoError(t, e.super.Pool.QueryRow(t.Context(), `SELECT id, stage, recommended_path, priority, scored_by
FROM leads WHERE org_id = $1 AND email = $2`, e.org, l.email).Scan(&id, &stage, &path, &priority, &by), l.email)
				require.Equal(t, l.stage, stage, l.email)
				require.Equal(t, l.path, path, l.email)
				require.Equal(t, scoredBy, by, l.email)

				got := map[string]int{}
				rows, err := e.super.Pool.Query(t.Context(), `SELECT type FROM events WHERE org_id = $1 AND entity_id = $2`, e.org, id)
				require.NoError(t, err)
				for rows.Next() {
					var typ string
					require.NoError(t, rows.Scan(&typ))
					got[typ]++
				}
				require.NoError(t, rows.Err())
				require.Equal(t, l.events, got, "events of %s", l.email)
				require.Equal(t, 1, e.count(t, `SELECT count(*) FROM events WHERE entity_id = $1 AND type = 'lead.stage_changed'
	AND payload->>'from' = 'new' AND payload->>'to' = $2`, id, l.stage), l.email)

				switch l.path {
				case pathBookCall:
					require.Equal(t, "high", priority)
					require.Equal(t, 1, e.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'task' AND subject = $2`,
						id, bookCallSubject))
					require.Equal(t, 1, e.count(t, `SELECT count(*) FROM lead_activities WHERE lead_id = $1 AND kind = 'touchpoint'`, id))
					require.Equal(t, 1, e.count(t, `SELECT count(*) FROM lead_intake_raw WHERE lead_id = $1 AND status = 'duplicate'`, id))
				case pathNurture:
					require.Equal(t, "normal", priority)
					require.Equal(t, 1, e.count(t, `SELECT count(*) FROM scheduled_tasks WHERE entity_id = $1 AND job_type = $2`,
						id, "follow_up_lead"))
				default:
					require.Equal(t, "normal", priority)
				}
				require.Equal(t, 1, e.count(t, `SELECT count(*) FROM lead_intake_raw WHERE lead_id = $1 AND status = 'processed'`, id))
			}

			// Nothing doubled: one lead per person, four deliveries (the replay added none), one
			// job of each kind per delivery or lead, each completed on its first attempt with one
			// log row, nothing dead-lettered.
			require.Equal(t, len(leads), e.count(t, `SELECT count(*) FROM leads WHERE org_id = $1`, e.org))
			require.Equal(t, len(leads)+1, e.count(t, `SELECT count(*) FROM lead_intake_raw WHERE org_id = $1`, e.org))
			perType := map[string]int{}
			rows, err := e.super.Pool.Query(t.Context(), `SELECT job_type, count(*) FROM jobs WHERE org_id = $1 GROUP BY 1`, e.org)
			require.NoError(t, err)
			for rows.Next() {
				var typ string
				var n int
				require.NoError(t, rows.Scan(&typ, &n))
				perType[typ] = n
			}
			require.NoError(t, rows.Err())
			require.Equal(t, map[string]int{
				intake.KindProcessIntake: len(leads) + 1, "enrich_lead": len(leads),
				"qualify_lead": len(leads), "route_outreach": len(leads),
			}, perType)
			require.Zero(t, e.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1 AND (status <> 'completed' OR attempts <> 1)`, e.org))
			require.Equal(t, e.count(t, `SELECT count(*) FROM jobs WHERE org_id = $1`, e.org),
				e.count(t, `SELECT count(*) FROM job_logs WHERE org_id = $1 AND outcome = 'completed'`, e.org))
			require.Zero(t, e.count(t, `SELECT count(*) FROM job_logs WHERE org_id = $1 AND outcome <> 'completed'`, e.org))
			require.Zero(t, e.count(t, `SELECT count(*) FROM dead_letter_jobs`))

			if tc.ai {
				reqs := ai.Requests()
				require.Len(t, reqs, len(leads), "one scoring request per lead")
				for i, l := range leads {
					b, err := json.Marshal(reqs[i])
					require.NoError(t, err)
					require.Contains(t, string(b), l.email, "request %d is about %s", i, l.email)
					require.Equal(t, "gpt-e2e", reqs[i]["model"])
				}
			}
		})
	}
}
