// Package config loads the typed configuration of every binary from environment variables (the
// names of the seed's table, plus DATABASE_URL, HTTP_ADDR, LOG_LEVEL and LOG_FORMAT) and an
// optional file named by CONFIG_FILE, through viper. Only this package and the mains see viper;
// everything else receives the structs.
package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// Service names, which also pick each binary's default HTTP address.
const (
	API           = "api"
	IntakeGateway = "intake-gateway"
	Worker        = "worker"
	Scheduler     = "scheduler"
)

var defaultAddrs = map[string]string{
	API:           ":3000",
	IntakeGateway: ":3001",
	Worker:        ":3002",
	Scheduler:     ":3003",
}

// Config is the whole configuration. Each binary reads the parts it needs.
type Config struct {
	Service     string
	DatabaseURL string
	// DBMaxConns caps the binary's connection pool.
	DBMaxConns int32
	// HTTPAddr is where the binary serves its routes, health and metrics.
	HTTPAddr string
	// ShutdownDrain is how long an HTTP server goes on serving, with /readyz failing, after
	// SIGTERM before it stops (SHUTDOWN_DRAIN_MS), so that a load balancer takes it out of
	// rotation first.
	ShutdownDrain time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For the api and the intake-gateway
	// believe (TRUSTED_PROXIES, comma-separated CIDRs or addresses). Empty believes no one: the
	// client is the direct peer.
	TrustedProxies []*net.IPNet
	Log            Log
	API            APIConfig
	Jobs           Jobs
	Worker         WorkerConfig
	Scheduler      SchedulerConfig
	AI             AI
	Enrichment     Enrichment
	Rules          Rules
}

// APIConfig configures the HTTP API.
type APIConfig struct {
	// CORSOrigins are the browser origins allowed to call the API (API_CORS_ORIGINS, comma
	// separated; "*" allows any; empty allows none).
	CORSOrigins []string
	// BodyLimit caps a request body (API_BODY_LIMIT_BYTES).
	BodyLimit int64
	// KeyCacheTTL is how long the API remembers an API key it accepted (API_KEY_CACHE_TTL_MS; 0
	// asks the database on every request). A revoked key keeps working in a running api process
	// for up to this long.
	KeyCacheTTL time.Duration
}

// Log configures zap.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // json or console
}

// Jobs holds the retry rules that every enqueuer and worker shares.
type Jobs struct {
	BaseDelay   time.Duration // JOB_BASE_DELAY_MS
	MaxAttempts int           // JOB_MAX_ATTEMPTS
	Timeout     time.Duration // JOB_TIMEOUT_MS: one attempt's limit
	// Retention is how long completed jobs and their logs are kept before the pruner removes them.
	Retention time.Duration // JOB_RETENTION_HOURS
}

// WorkerConfig configures the worker runtime.
type WorkerConfig struct {
	Enabled        bool
	Concurrency    int           // WORKER_CONCURRENCY: jobs run at the same time by one process
	PollInterval   time.Duration // WORKER_POLL_INTERVAL_MS: fallback poll when no notification arrives
	LockTimeout    time.Duration // WORKER_LOCK_TIMEOUT_MINUTES: the reaper's horizon
	ShutdownGrace  time.Duration // WORKER_SHUTDOWN_GRACE_MS: how long running jobs may finish on SIGTERM
	ClaimBatch     int           // WORKER_CLAIM_BATCH: most jobs claimed by one query
	BatchSize      int           // WORKER_BATCH_SIZE: most jobs of one type and org run in one transaction
	ReaperInterval time.Duration // WORKER_REAPER_INTERVAL_MS
	// SweepBudget (SWEEP_CHUNK_BUDGET_MS) is the most a chunk of a scheduled sweep may take, and
	// so hold the row locks of its writes: a chunk over it is rolled back and retried smaller
	// (db.Pace.Budget).
	SweepBudget time.Duration
	// SweepRest (SWEEP_CHUNK_REST_PERCENT / 100) is the pause after a sweep's chunk per unit of
	// the chunk's time: the share of a core a sweep leaves to the api (db.Pace.Rest).
	SweepRest float64
	// SweepLongAfter (SWEEP_LONG_AFTER_S) is how long a sweep runs at SweepRest; a sweep still
	// running then (a backfill) rests SweepLongRest (SWEEP_LONG_REST_PERCENT / 100) from then on
	// (db.Pace.Long and LongRest).
	SweepLongAfter time.Duration
	SweepLongRest  float64
	// SweepTimeout (SWEEP_JOB_TIMEOUT_MS) is the time limit of an attempt of a scheduled sweep,
	// in place of JOB_TIMEOUT_MS (handler.DefaultSweepTimeout).
	SweepTimeout time.Duration
}

// SchedulerConfig configures the scheduler.
type SchedulerConfig struct {
	Enabled      bool
	PollInterval time.Duration // SCHEDULER_POLL_INTERVAL_MS
	// ClockSkew (SCHEDULER_CLOCK_SKEW_MS) shifts every local time the scheduler reads for its own
	// purposes (its tick timer, its log timestamps). It is for tests only: it stands in for a host
	// whose clock is off, which cannot be faked for a Go binary (Go reads the clock through the
	// vDSO, past libfaketime). Slots never depend on it: they come from the database clock.
	ClockSkew time.Duration
}

// AI configures the OpenAI-compatible model; with no key the built-in scorers run.
type AI struct {
	APIKey  string
	Model   string
	BaseURL string
}

// Enrichment configures the optional external enrichment API.
type Enrichment struct {
	URL    string
	APIKey string
}

// Rules are the business thresholds of the seed.
type Rules struct {
	BuyingSignalThreshold int
	// DealDecayDays is how long a deal may stay in an open stage without a stage change or an
	// activity before it is reported stalled (DEAL_DECAY_THRESHOLD_DAYS): the default of every
	// open stage in an org's rules (/settings/rules) until the org sets its own.
	DealDecayDays int
	// GhostRiskSilenceDays is how long a contacted or booked lead may stay silent before its
	// ghost risk rises (GHOST_RISK_SILENCE_DAYS): the default of the org's rules.
	GhostRiskSilenceDays int
}

// MaxRuleDays bounds the day counts of Rules (and of an org's rules): a year.
const MaxRuleDays = 365

// defaults holds every key with its default; a key's name is its environment variable.
var defaults = map[string]any{
	"DATABASE_URL":                "",
	"DB_MAX_CONNS":                20,
	"HTTP_ADDR":                   "",
	"SHUTDOWN_DRAIN_MS":           5000,
	"TRUSTED_PROXIES":             "",
	"LOG_LEVEL":                   "info",
	"LOG_FORMAT":                  "json",
	"API_CORS_ORIGINS":            "",
	"API_BODY_LIMIT_BYTES":        1 << 20,
	"API_KEY_CACHE_TTL_MS":        5000,
	"OPENAI_API_KEY":              "",
	"AI_MODEL":                    "gpt-4o",
	"OPENAI_BASE_URL":             "",
	"WORKER_ENABLED":              true,
	"WORKER_CONCURRENCY":          2,
	"WORKER_POLL_INTERVAL_MS":     1000,
	"WORKER_LOCK_TIMEOUT_MINUTES": 10.0,
	"WORKER_SHUTDOWN_GRACE_MS":    25000,
	"WORKER_CLAIM_BATCH":          100,
	"WORKER_BATCH_SIZE":           64,
	"WORKER_REAPER_INTERVAL_MS":   60000,
	"SWEEP_CHUNK_BUDGET_MS":       100,
	"SWEEP_CHUNK_REST_PERCENT":    25,
	"SWEEP_LONG_AFTER_S":          30,
	"SWEEP_LONG_REST_PERCENT":     100,
	"SWEEP_JOB_TIMEOUT_MS":        3600000,
	"JOB_BASE_DELAY_MS":           5000,
	"JOB_MAX_ATTEMPTS":            3,
	"JOB_TIMEOUT_MS":              300000,
	"JOB_RETENTION_HOURS":         168,
	"SCHEDULER_ENABLED":           true,
	"SCHEDULER_POLL_INTERVAL_MS":  1000,
	"SCHEDULER_CLOCK_SKEW_MS":     0,
	"ENRICHMENT_API_URL":          "",
	"ENRICHMENT_API_KEY":          "",
	"BUYING_SIGNAL_THRESHOLD":     75,
	"DEAL_DECAY_THRESHOLD_DAYS":   14,
	"GHOST_RISK_SILENCE_DAYS":     7,
}

// Load reads the configuration of service from the environment (and CONFIG_FILE, if set) and
// validates it.
func Load(service string) (Config, error) {
	v := viper.New()
	for k, d := range defaults {
		v.SetDefault(k, d)
		if err := v.BindEnv(k); err != nil {
			return Config{}, fmt.Errorf("bind %s: %w", k, err)
		}
	}
	if err := v.BindEnv("CONFIG_FILE"); err != nil {
		return Config{}, fmt.Errorf("bind CONFIG_FILE: %w", err)
	}
	if file := v.GetString("CONFIG_FILE"); file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config file %s: %w", file, err)
		}
	}
	ms := func(key string) time.Duration { return time.Duration(v.GetInt64(key)) * time.Millisecond }
	proxies, err := parseNetworks(v.GetString("TRUSTED_PROXIES"))
	if err != nil {
		return Config{}, fmt.Errorf("invalid configuration: TRUSTED_PROXIES: %w", err)
	}

	cfg := Config{
		Service:        service,
		DatabaseURL:    v.GetString("DATABASE_URL"),
		DBMaxConns:     v.GetInt32("DB_MAX_CONNS"),
		HTTPAddr:       v.GetString("HTTP_ADDR"),
		ShutdownDrain:  ms("SHUTDOWN_DRAIN_MS"),
		TrustedProxies: proxies,
		Log:            Log{Level: strings.ToLower(v.GetString("LOG_LEVEL")), Format: strings.ToLower(v.GetString("LOG_FORMAT"))},
		API: APIConfig{
			CORSOrigins: splitList(v.GetString("API_CORS_ORIGINS")),
			BodyLimit:   v.GetInt64("API_BODY_LIMIT_BYTES"),
			KeyCacheTTL: ms("API_KEY_CACHE_TTL_MS"),
		},
		Jobs: Jobs{
			BaseDelay:   ms("JOB_BASE_DELAY_MS"),
			MaxAttempts: v.GetInt("JOB_MAX_ATTEMPTS"),
			Timeout:     ms("JOB_TIMEOUT_MS"),
			Retention:   time.Duration(v.GetInt64("JOB_RETENTION_HOURS")) * time.Hour,
		},
		Worker: WorkerConfig{
			Enabled:        v.GetBool("WORKER_ENABLED"),
			Concurrency:    v.GetInt("WORKER_CONCURRENCY"),
			PollInterval:   ms("WORKER_POLL_INTERVAL_MS"),
			LockTimeout:    time.Duration(v.GetFloat64("WORKER_LOCK_TIMEOUT_MINUTES") * float64(time.Minute)),
			ShutdownGrace:  ms("WORKER_SHUTDOWN_GRACE_MS"),
			ClaimBatch:     v.GetInt("WORKER_CLAIM_BATCH"),
			BatchSize:      v.GetInt("WORKER_BATCH_SIZE"),
			ReaperInterval: ms("WORKER_REAPER_INTERVAL_MS"),
			SweepBudget:    ms("SWEEP_CHUNK_BUDGET_MS"),
			SweepRest:      float64(v.GetInt("SWEEP_CHUNK_REST_PERCENT")) / 100,
			SweepLongAfter: time.Duration(v.GetInt("SWEEP_LONG_AFTER_S")) * time.Second,
			SweepLongRest:  float64(v.GetInt("SWEEP_LONG_REST_PERCENT")) / 100,
			SweepTimeout:   ms("SWEEP_JOB_TIMEOUT_MS"),
		},
		Scheduler: SchedulerConfig{
			Enabled:      v.GetBool("SCHEDULER_ENABLED"),
			PollInterval: ms("SCHEDULER_POLL_INTERVAL_MS"),
			ClockSkew:    ms("SCHEDULER_CLOCK_SKEW_MS"),
		},
		AI:         AI{APIKey: v.GetString("OPENAI_API_KEY"), Model: v.GetString("AI_MODEL"), BaseURL: v.GetString("OPENAI_BASE_URL")},
		Enrichment: Enrichment{URL: v.GetString("ENRICHMENT_API_URL"), APIKey: v.GetString("ENRICHMENT_API_KEY")},
		Rules: Rules{
			BuyingSignalThreshold: v.GetInt("BUYING_SIGNAL_THRESHOLD"),
			DealDecayDays:         v.GetInt("DEAL_DECAY_THRESHOLD_DAYS"),
			GhostRiskSilenceDays:  v.GetInt("GHOST_RISK_SILENCE_DAYS"),
		},
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = defaultAddrs[service]
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// maxKeyCacheTTL bounds API_KEY_CACHE_TTL_MS: it is also how long a revoked key may go on working.
const maxKeyCacheTTL = time.Minute

// maxShutdownDrain bounds SHUTDOWN_DRAIN_MS: orchestrators kill a process that takes much longer
// to stop (Kubernetes' default grace is 30 s).
const maxShutdownDrain = time.Minute

// maxClockSkew bounds SCHEDULER_CLOCK_SKEW_MS: a day is more than any clock a test stands in for.
const maxClockSkew = 24 * time.Hour

// Validate reports every setting that is out of range, all at once.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.DatabaseURL != "", "DATABASE_URL is required")
	check(c.DBMaxConns >= 2, "DB_MAX_CONNS must be at least 2, got %d", c.DBMaxConns)
	check(c.HTTPAddr != "", "HTTP_ADDR is required for service %q", c.Service)
	check(c.ShutdownDrain >= 0 && c.ShutdownDrain <= maxShutdownDrain, "SHUTDOWN_DRAIN_MS must be 0..%d, got %d",
		maxShutdownDrain.Milliseconds(), c.ShutdownDrain.Milliseconds())
	check(oneOf(c.Log.Level, "debug", "info", "warn", "error"), "LOG_LEVEL must be debug, info, warn or error, got %q", c.Log.Level)
	check(oneOf(c.Log.Format, "json", "console"), "LOG_FORMAT must be json or console, got %q", c.Log.Format)
	check(c.API.BodyLimit >= 1024 && c.API.BodyLimit <= 64<<20, "API_BODY_LIMIT_BYTES must be 1024..67108864, got %d", c.API.BodyLimit)
	check(c.API.KeyCacheTTL >= 0 && c.API.KeyCacheTTL <= maxKeyCacheTTL, "API_KEY_CACHE_TTL_MS must be 0..%d, got %d",
		maxKeyCacheTTL.Milliseconds(), c.API.KeyCacheTTL.Milliseconds())
	check(c.Jobs.BaseDelay > 0, "JOB_BASE_DELAY_MS must be positive")
	check(c.Jobs.MaxAttempts >= 1 && c.Jobs.MaxAttempts <= 100, "JOB_MAX_ATTEMPTS must be 1..100, got %d", c.Jobs.MaxAttempts)
	check(c.Jobs.Timeout > 0, "JOB_TIMEOUT_MS must be positive")
	check(c.Jobs.Retention > 0, "JOB_RETENTION_HOURS must be positive")
	check(c.Worker.Concurrency >= 1 && c.Worker.Concurrency <= 10000, "WORKER_CONCURRENCY must be 1..10000, got %d", c.Worker.Concurrency)
	check(c.Worker.PollInterval > 0, "WORKER_POLL_INTERVAL_MS must be positive")
	check(c.Worker.LockTimeout >= time.Second, "WORKER_LOCK_TIMEOUT_MINUTES must be at least one second")
	check(c.Worker.ShutdownGrace >= 0, "WORKER_SHUTDOWN_GRACE_MS must not be negative")
	check(c.Worker.ClaimBatch >= 1 && c.Worker.ClaimBatch <= 10000, "WORKER_CLAIM_BATCH must be 1..10000, got %d", c.Worker.ClaimBatch)
	check(c.Worker.BatchSize >= 1 && c.Worker.BatchSize <= 1000, "WORKER_BATCH_SIZE must be 1..1000, got %d", c.Worker.BatchSize)
	check(c.Worker.ReaperInterval > 0, "WORKER_REAPER_INTERVAL_MS must be positive")
	check(c.Worker.SweepBudget >= 10*time.Millisecond && c.Worker.SweepBudget <= 10*time.Second,
		"SWEEP_CHUNK_BUDGET_MS must be 10..10000, got %d", c.Worker.SweepBudget.Milliseconds())
	check(c.Worker.SweepRest >= 0 && c.Worker.SweepRest <= 10,
		"SWEEP_CHUNK_REST_PERCENT must be 0..1000, got %.0f", c.Worker.SweepRest*100)
	check(c.Worker.SweepLongAfter >= time.Second && c.Worker.SweepLongAfter <= 24*time.Hour,
		"SWEEP_LONG_AFTER_S must be 1..86400, got %.0f", c.Worker.SweepLongAfter.Seconds())
	check(c.Worker.SweepLongRest >= 0 && c.Worker.SweepLongRest <= 10,
		"SWEEP_LONG_REST_PERCENT must be 0..1000, got %.0f", c.Worker.SweepLongRest*100)
	check(c.Worker.SweepTimeout >= time.Second && c.Worker.SweepTimeout <= 24*time.Hour,
		"SWEEP_JOB_TIMEOUT_MS must be 1000..86400000, got %d", c.Worker.SweepTimeout.Milliseconds())
	check(c.Scheduler.PollInterval > 0, "SCHEDULER_POLL_INTERVAL_MS must be positive")
	check(c.Scheduler.ClockSkew.Abs() <= maxClockSkew, "SCHEDULER_CLOCK_SKEW_MS must be within ±%d, got %d",
		maxClockSkew.Milliseconds(), c.Scheduler.ClockSkew.Milliseconds())
	check(c.Rules.BuyingSignalThreshold >= 0 && c.Rules.BuyingSignalThreshold <= 100, "BUYING_SIGNAL_THRESHOLD must be 0..100")
	check(c.Rules.DealDecayDays >= 1 && c.Rules.DealDecayDays <= MaxRuleDays, "DEAL_DECAY_THRESHOLD_DAYS must be 1..%d, got %d", MaxRuleDays, c.Rules.DealDecayDays)
	check(c.Rules.GhostRiskSilenceDays >= 1 && c.Rules.GhostRiskSilenceDays <= MaxRuleDays, "GHOST_RISK_SILENCE_DAYS must be 1..%d, got %d", MaxRuleDays, c.Rules.GhostRiskSilenceDays)
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseNetworks parses a comma-separated list of CIDRs; a bare address is a network of one.
func parseNetworks(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, item := range splitList(s) {
		if !strings.Contains(item, "/") {
			ip := net.ParseIP(item)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", item)
			}
			bits := 8 * net.IPv6len
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 8*net.IPv4len
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", item)
		}
		out = append(out, n)
	}
	return out, nil
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}
