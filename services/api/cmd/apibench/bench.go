package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"example.com/crm/pkg/catalog"
	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/jobs"
	"example.com/crm/services/api/internal/httpapi"
)

// apiAppName is the application_name of bin/api's connections (services/api/app.go).
const apiAppName = "crm-api"

// bench runs the scenarios.
type bench struct {
	opts options
	srv  *server
	seed *seed
	// floorBodies are the floor's answers for the first sampled leads, which the api's must
	// equal byte for byte.
	floorBodies map[int][]byte
	// deals is the deal seed (deals.go); nil when no deal scenario runs.
	deals *dealSeed
	// docs is the invoice seed (documents.go); nil when the document scenario does not run.
	docs *docSeed
}

// run is one measured scenario against one server.
type run struct {
	scenario string
	level    string // LOG_LEVEL of the api; "" for the floor
	res      loadResult
}

// apiRun is what one api process did besides the load.
type apiRun struct {
	level    string
	logLines int
	warnings int
	firstW   string
}

// report is everything measured.
type report struct {
	opts      options
	machine   machineInfo
	seed      *seed
	startLoad string
	endLoad   string
	runs      []run
	apiRuns   []apiRun
	checks    []string
	matches   float64 // average search hits of a word in one org
	took      time.Duration

	// The deal scenarios (deals.go): their seed and what their check proved.
	deals      *dealSeed
	dealChecks []string

	// The document scenario (documents.go): its seed and what its check proved.
	docs      *docSeed
	docChecks []string

	// The scheduled sweeps (sweeps.go): their data and their runs.
	sweepSeed *sweepSeed
	sweeps    []sweepRun

	// The analytics routes (analytics.go).
	analytics *analyticsReport
}

// all seeds, runs the floor and the api runs, and drops the database.
func (b *bench) all(ctx context.Context) (rep *report, err error) {
	start := time.Now()
	rep = &report{opts: b.opts, startLoad: loadAvg()}
	if b.srv, err = connectServer(ctx, b.opts.serverURL); err != nil {
		return nil, err
	}
	defer b.srv.close()
	if rep.machine, err = b.machine(ctx); err != nil {
		return nil, err
	}
	if b.seed, err = b.srv.seedDB(ctx, b.opts); err != nil {
		return nil, err
	}
	defer func() {
		if derr := b.srv.dropDB(context.Background(), b.seed.name, b.opts.keep); derr != nil && err == nil {
			err = derr
		}
	}()
	rep.seed = b.seed
	logf("seed: %s leads, %d orgs, %s, ready in %s", num(float64(b.seed.leads)), len(b.seed.orgs), b.seed.size,
		b.seed.took.Round(time.Second))
	if b.opts.sweepsOnly {
		if err := b.sweepRuns(ctx, rep); err != nil {
			return nil, fmt.Errorf("sweeps: %w", err)
		}
		rep.endLoad = loadAvg()
		rep.took = time.Since(start)
		return rep, nil
	}
	if b.opts.analyticsOnly {
		if err := b.analyticsRuns(ctx, rep); err != nil {
			return nil, fmt.Errorf("analytics: %w", err)
		}
		rep.endLoad = loadAvg()
		rep.took = time.Since(start)
		return rep, nil
	}
	if rep.matches, err = b.searchMatches(ctx); err != nil {
		return nil, err
	}
	if slices.ContainsFunc(b.opts.scenarios, isDealScenario) {
		if b.deals, err = b.seedDeals(ctx, b.opts.deals, 365*24*time.Hour); err != nil {
			return nil, err
		}
		rep.deals = b.deals
		logf("seed: %s deals in one org, %s, ready in %s", num(float64(b.deals.deals)), b.deals.size, b.deals.took.Round(time.Millisecond))
	}
	if slices.Contains(b.opts.scenarios, scDocument) {
		if b.docs, err = b.seedDocuments(ctx, b.opts.documents); err != nil {
			return nil, err
		}
		rep.docs = b.docs
		logf("seed: %s invoices with their PDFs in one org, %s, ready in %s", num(float64(len(b.docs.ids))), b.docs.size,
			b.docs.took.Round(time.Millisecond))
	}
	if b.opts.profile != "" {
		return rep, b.profileAPI(ctx)
	}

	if slices.Contains(b.opts.scenarios, scFloor) {
		if err := b.floorRuns(ctx, rep); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
	}
	var apiScen []string
	for _, s := range b.opts.scenarios {
		if s != scFloor {
			apiScen = append(apiScen, s)
		}
	}
	if len(apiScen) > 0 {
		for i, level := range b.opts.logLevels {
			if err := b.apiRuns(ctx, rep, level, apiScen, i == 0); err != nil {
				return nil, fmt.Errorf("api at LOG_LEVEL=%s: %w", level, err)
			}
		}
	}
	rep.endLoad = loadAvg()
	rep.took = time.Since(start)
	return rep, nil
}

// measure runs scenario sc against p (at addr) opts.runs times and keeps the run with the most
// requests per second.
func (b *bench) measure(ctx context.Context, p *serverProc, appName, sc, level string) (run, error) {
	var best run
	for i := range b.opts.runs {
		res, err := runLoad(ctx, loadConfig{
			addr: p.addr, conns: b.opts.conns, warmup: b.opts.warmup, duration: b.opts.duration,
			next:   b.requests(sc),
			sample: func() cpuSnap { return takeCPU(ctx, b.srv.admin, p, appName, b.seed.name) },
		})
		if err != nil {
			return run{}, fmt.Errorf("%s: %w", sc, err)
		}
		if err := p.alive(); err != nil {
			return run{}, err
		}
		logf("%s%s: %s req/s, p50 %s, p99 %s, %d errors%s", sc, levelNote(level), num(res.rate()), ms(pct(res.lat, 50)),
			ms(pct(res.lat, 99)), res.errors, firstErr(res))
		if i == 0 || res.rate() > best.res.rate() {
			best = run{scenario: sc, level: level, res: res}
		}
	}
	return best, nil
}

func levelNote(level string) string {
	if level == "" {
		return ""
	}
	return " (LOG_LEVEL=" + level + ")"
}

func firstErr(r loadResult) string {
	if r.firstErr == "" {
		return ""
	}
	return " (first: " + r.firstErr + ")"
}

// floorRuns starts the floor, keeps its answers for the first leads and measures it.
func (b *bench) floorRuns(ctx context.Context, rep *report) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p, err := startProc("floor", self, []string{"floor", "-addr", addr, "-database-url", b.seed.superURL,
		"-max-conns", fmt.Sprint(b.opts.maxConns)}, nil, addr, floorAppName, b.opts.logDir)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(10 * time.Second) }()
	if err := p.waitReady(ctx, "/healthz", 30*time.Second); err != nil {
		return err
	}
	b.floorBodies = map[int][]byte{}
	for i := range min(20, len(b.seed.sample)) {
		l := b.seed.sample[i]
		status, body, err := get(ctx, p.addr, "/leads/"+l.id.String(), b.seed.orgs[l.org].id, "")
		if err != nil {
			return err
		}
		if status != http.StatusOK || !bytes.Contains(body, []byte(`"id":"`+l.id.String()+`"`)) {
			return fmt.Errorf("floor GET /leads/%s: %d %s", l.id, status, body)
		}
		b.floorBodies[i] = body
	}
	r, err := b.measure(ctx, p, floorAppName, scFloor, "")
	if err != nil {
		return err
	}
	rep.runs = append(rep.runs, r)
	return p.stop(10 * time.Second)
}

// apiEnv is the complete environment of the api process at a log level.
func (b *bench) apiEnv(addr, level string) []string {
	env := []string{"DATABASE_URL=" + b.seed.appURL, "HTTP_ADDR=" + addr, "LOG_LEVEL=" + level,
		fmt.Sprintf("DB_MAX_CONNS=%d", b.opts.maxConns)}
	return append(env, b.opts.apiEnv...)
}

// apiRuns starts bin/api at LOG_LEVEL=level, checks it (first: the correctness checks too) and
// measures the scenarios.
func (b *bench) apiRuns(ctx context.Context, rep *report, level string, scenarios []string, first bool) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	p, err := startProc("api-"+level, b.opts.apiBin, []string{"serve"}, b.apiEnv(addr, level), addr, apiAppName, b.opts.logDir)
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(15 * time.Second) }()
	if err := p.waitReady(ctx, "/readyz", 30*time.Second); err != nil {
		return err
	}
	if first {
		checks, err := b.check(ctx, p.addr)
		if err != nil {
			return fmt.Errorf("correctness check: %w", err)
		}
		rep.checks = checks
		if b.deals != nil {
			if rep.dealChecks, err = b.checkDeals(ctx, p.addr); err != nil {
				return fmt.Errorf("deal correctness check: %w", err)
			}
		}
		if b.docs != nil {
			if rep.docChecks, err = b.checkDocuments(ctx, p.addr); err != nil {
				return fmt.Errorf("document correctness check: %w", err)
			}
		}
	}
	for _, sc := range scenarios {
		r, err := b.measure(ctx, p, apiAppName, sc, level)
		if err != nil {
			return err
		}
		rep.runs = append(rep.runs, r)
	}
	if err := b.checkRole(ctx); err != nil {
		return err
	}
	if err := p.stop(15 * time.Second); err != nil {
		return err
	}
	ar := apiRun{level: level}
	ar.logLines, ar.warnings, ar.firstW = p.logLines()
	if ar.warnings > 0 {
		logf("api at LOG_LEVEL=%s logged %d warnings or errors; first: %s", level, ar.warnings, ar.firstW)
	}
	rep.apiRuns = append(rep.apiRuns, ar)
	return nil
}

// checkRole proves the api's connections log in as the crm_app member, which row-level
// security binds.
func (b *bench) checkRole(ctx context.Context) error {
	rows, err := b.srv.admin.Query(ctx, `SELECT DISTINCT usename::text FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`,
		b.seed.name, apiAppName)
	if err != nil {
		return fmt.Errorf("api connections: %w", err)
	}
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return fmt.Errorf("api connections: %w", err)
		}
		users = append(users, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("api connections: %w", err)
	}
	if len(users) != 1 || users[0] != appRole {
		return fmt.Errorf("api connections log in as %v, want only %s", users, appRole)
	}
	return nil
}

// get sends one GET with net/http (checks, not load).
func get(ctx context.Context, addr, path string, orgID uuid.UUID, key string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("request: %w", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("X-Org-Id", orgID.String())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return res.StatusCode, body, nil
}

// pageBody is a list answer.
type pageBody struct {
	Data []struct {
		ID        uuid.UUID `json:"id"`
		Name      *string   `json:"name"`
		Email     *string   `json:"email"`
		Company   *string   `json:"company"`
		CreatedAt time.Time `json:"createdAt"`
	} `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

// check asks the api once per scenario and compares the answers with the database (read as
// the superuser, i.e. independently of the api): it returns what it proved.
func (b *bench) check(ctx context.Context, addr string) ([]string, error) {
	sd := b.seed
	var out []string
	// GET /leads/{id}: the very bytes the floor wrote for the same lead.
	for i, want := range b.floorBodies {
		l := sd.sample[i]
		status, body, err := get(ctx, addr, "/leads/"+l.id.String(), sd.orgs[l.org].id, sd.orgs[l.org].key)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(body), bytes.TrimSpace(want)) {
			return nil, fmt.Errorf("GET /leads/%s: %d\n%s\nthe floor answered\n%s", l.id, status, body, want)
		}
	}
	if len(b.floorBodies) > 0 {
		out = append(out, fmt.Sprintf("`GET /leads/{id}` answered %d sampled leads with exactly the bytes the floor wrote for them", len(b.floorBodies)))
	}
	// Another org's lead is not found, with a valid key of the asking org.
	l := sd.sample[0]
	other := (l.org + 1) % len(sd.orgs)
	status, body, err := get(ctx, addr, "/leads/"+l.id.String(), sd.orgs[other].id, sd.orgs[other].key)
	if err != nil {
		return nil, err
	}
	if status != http.StatusNotFound {
		return nil, fmt.Errorf("another org's lead: %d %s, want 404", status, body)
	}
	if status, _, err = get(ctx, addr, "/leads/"+l.id.String(), sd.orgs[l.org].id, sd.orgs[other].key); err != nil {
		return nil, err
	}
	if status != http.StatusForbidden {
		return nil, fmt.Errorf("another org's key: %d, want 403", status)
	}
	out = append(out, "another org's lead is 404 and another org's key 403")
	// The first page and a search page: exactly the rows the database has, in order.
	for _, c := range []struct{ name, path, where string }{
		{"`GET /leads?limit=50`", "/leads?limit=50", ""},
		{"`GET /leads?q=" + sd.words[7] + "&limit=50`", "/leads?q=" + sd.words[7] + "&limit=50",
			" AND (lower(name) LIKE '%" + strings.ToLower(sd.words[7]) + "%' OR lower(email) LIKE '%" + strings.ToLower(sd.words[7]) +
				"%' OR lower(company) LIKE '%" + strings.ToLower(sd.words[7]) + "%')"},
	} {
		t := sd.orgs[1]
		status, body, err := get(ctx, addr, c.path, t.id, t.key)
		if err != nil {
			return nil, err
		}
		var pg pageBody
		if status != http.StatusOK || json.Unmarshal(body, &pg) != nil {
			return nil, fmt.Errorf("%s: %d %.500s", c.name, status, body)
		}
		want, err := b.expectedIDs(ctx, t.id, c.where)
		if err != nil {
			return nil, err
		}
		got := make([]uuid.UUID, len(pg.Data))
		for i, d := range pg.Data {
			got[i] = d.ID
		}
		more := len(want) > 50
		want = want[:min(len(want), 50)]
		if !slices.Equal(got, want) || (pg.NextCursor != nil) != more || len(want) == 0 {
			return nil, fmt.Errorf("%s: %d leads %v (next cursor %v), the database has %v (more: %v)", c.name, len(got), got,
				pg.NextCursor != nil, want, more)
		}
		out = append(out, fmt.Sprintf("%s returned the %d leads of the org the database has, newest first (next cursor: %v)", c.name, len(got), more))
	}
	if status, _, err = get(ctx, addr, "/leads?limit=50", sd.orgs[0].id, ""); err != nil {
		return nil, err
	}
	if status != http.StatusUnauthorized {
		return nil, fmt.Errorf("no key: %d, want 401", status)
	}
	out = append(out, "no key is 401")
	return out, nil
}

// expectedIDs reads the first 51 of org's live leads matching where (a page and whether there
// is a next one), as the superuser.
func (b *bench) expectedIDs(ctx context.Context, orgID uuid.UUID, where string) ([]uuid.UUID, error) {
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	rows, err := d.Pool.Query(ctx, `SELECT id FROM leads WHERE org_id = $1 AND deleted_at IS NULL`+where+
		` ORDER BY created_at DESC, id DESC LIMIT 51`, orgID)
	if err != nil {
		return nil, fmt.Errorf("expected page: %w", err)
	}
	defer rows.Close()
	var out []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("expected page: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// searchMatches is how many leads of one org a company word finds (on average over a few).
func (b *bench) searchMatches(ctx context.Context) (float64, error) {
	d, err := db.Open(ctx, db.Options{URL: b.seed.superURL, MaxConns: 2, AppName: "apibench"})
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", b.seed.name, err)
	}
	defer d.Close()
	var n float64
	words := []string{b.seed.words[0], b.seed.words[333], b.seed.words[999]}
	for _, w := range words {
		var c int64
		p := "%" + strings.ToLower(w) + "%"
		if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM leads WHERE org_id = $1 AND deleted_at IS NULL
AND (lower(name) LIKE $2 OR lower(email) LIKE $2 OR lower(company) LIKE $2)`, b.seed.orgs[0].id, p).Scan(&c); err != nil {
			return 0, fmt.Errorf("count matches: %w", err)
		}
		n += float64(c)
	}
	return n / float64(len(words)), nil
}

// profileAPI runs the api in this process, with the configuration bin/api would load from the
// same environment, and writes a CPU profile of the measured part of the first api scenario.
func (b *bench) profileAPI(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	for _, kv := range b.apiEnv(addr, b.opts.logLevels[0]) {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	cfg, err := config.Load(config.API)
	if err != nil {
		return fmt.Errorf("load api configuration: %w", err)
	}
	level, err := zapcore.ParseLevel(cfg.Log.Level)
	if err != nil {
		return fmt.Errorf("parse log level: %w", err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	zc.OutputPaths = []string{filepath.Join(b.opts.logDir, "api-inprocess.log")}
	log, err := zc.Build()
	if err != nil {
		return fmt.Errorf("build logger: %w", err)
	}
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, AppName: apiAppName, Logger: log})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer d.Close()
	queue := jobs.New(d, jobs.Config{BaseDelay: cfg.Jobs.BaseDelay, MaxAttempts: cfg.Jobs.MaxAttempts})
	h := httpapi.New(httpapi.Deps{DB: d, Queue: queue, Emitter: events.NewEmitter(queue, catalog.New().EventJobs), Log: log, Config: cfg.API,
		Registry: prometheus.NewRegistry()})
	hs := httpx.NewServer(addr, h)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(sctx, hs, httpx.Shutdown{Grace: 5 * time.Second}, zap.NewNop()) }()
	p := &serverProc{name: "api-inprocess", addr: addr, exited: make(chan struct{})}
	if err := p.waitReady(ctx, "/readyz", 30*time.Second); err != nil {
		return err
	}
	f, err := os.Create(b.opts.profile)
	if err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	defer func() { _ = f.Close() }()
	for _, sc := range b.opts.scenarios {
		if sc == scFloor {
			continue
		}
		res, err := runLoad(ctx, loadConfig{
			addr: addr, conns: b.opts.conns, warmup: b.opts.warmup, duration: b.opts.duration,
			next: b.requests(sc),
			sample: func() cpuSnap {
				// The profile covers the measured window of the first scenario only.
				if sc == firstAPIScenario(b.opts.scenarios) {
					if pprofOn {
						pprof.StopCPUProfile()
						pprofOn = false
					} else if err := pprof.StartCPUProfile(f); err == nil {
						pprofOn = true
					}
				}
				return cpuSnap{}
			},
		})
		if err != nil {
			return err
		}
		logf("in process %s: %s req/s, p50 %s, p99 %s, %d errors%s", sc, num(res.rate()), ms(pct(res.lat, 50)),
			ms(pct(res.lat, 99)), res.errors, firstErr(res))
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close profile: %w", err)
	}
	logf("wrote CPU profile %s", b.opts.profile)
	return nil
}

var pprofOn bool

func firstAPIScenario(scs []string) string {
	for _, s := range scs {
		if s != scFloor {
			return s
		}
	}
	return ""
}
