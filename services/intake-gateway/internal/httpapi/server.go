package httpapi

import (
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/intake"
	"example.com/crm/pkg/jobs"
)

// Config holds the gateway's limits. Zero values take the defaults below.
type Config struct {
	// BodyLimit caps a webhook or form body (INTAKE_BODY_LIMIT_BYTES, default 64 KiB).
	BodyLimit int64
	// CSVLimit caps a CSV upload (INTAKE_CSV_LIMIT_BYTES, default 50 MiB).
	CSVLimit int64
	// CSVBatchRows is how many CSV rows go into one transaction (INTAKE_CSV_BATCH_ROWS, default
	// 1,000).
	CSVBatchRows int
	// CSVTimeout bounds the reading of one CSV upload (INTAKE_CSV_TIMEOUT_MS, default 15 min);
	// it replaces the server's read and write timeouts for that request.
	CSVTimeout time.Duration
	// SourceCacheTTL is how long a looked-up source is remembered (INTAKE_SOURCE_CACHE_TTL_MS,
	// default 5 s). A changed setting, a secret dropped by a rotation or a deleted source takes
	// up to this long to reach a running gateway; a new secret is picked up by the first
	// signature that the cached secrets refuse (sourceCache.refresh).
	SourceCacheTTL time.Duration
	// DisableSourceCache looks every request's source up (INTAKE_SOURCE_CACHE_TTL_MS=0).
	DisableSourceCache bool
	// MaxInFlight bounds the webhook and form deliveries worked on at once
	// (INTAKE_MAX_IN_FLIGHT, default 128); past it they are shed with 503 (shed.go).
	MaxInFlight int
}

// Defaults of Config.
const (
	DefaultBodyLimit      = 64 << 10
	DefaultCSVLimit       = 50 << 20
	DefaultCSVBatchRows   = 1000
	DefaultCSVTimeout     = 15 * time.Minute
	DefaultSourceCacheTTL = 5 * time.Second
	DefaultMaxInFlight    = 128
	// MaxRejectedListed caps the rejected lines listed in a CSV answer; the count covers all.
	MaxRejectedListed = 1000
)

// Deps are what the handlers need.
type Deps struct {
	DB *db.DB
	// Queue enqueues the process_intake jobs of CSV rows.
	Queue *jobs.Queue
	// Acceptor stores webhook and form deliveries in one round trip; nil builds one on DB with
	// the jobs defaults. Give it the queue's jobs.Config, so that its jobs get the same attempts.
	Acceptor *intake.Acceptor
	Log      *zap.Logger
	Registry *prometheus.Registry
	Config   Config
	// Now is the clock of signature checks and rate limits; nil is time.Now.
	Now func() time.Time
	// Ready is /readyz's check; nil is DB.Ready. The binary passes one that also fails while the
	// server drains before shutdown (httpx.Draining).
	Ready httpx.ReadyFunc
	// TrustedProxies are the peers whose X-Forwarded-For is believed (TRUSTED_PROXIES): it
	// decides the logged client address and the remote-addr stored with each delivery.
	TrustedProxies []*net.IPNet
}

// Server is the gateway's HTTP handler.
type Server struct {
	Deps
	echo    *echo.Echo
	metrics *metrics
	sources *sourceCache
	limits  *limiters
	// inFlight holds a token per delivery being worked on (shed).
	inFlight chan struct{}
}

// New builds the server with every route registered. It panics on a nil dependency.
func New(d Deps) *Server {
	if d.DB == nil || d.Queue == nil || d.Log == nil || d.Registry == nil {
		panic("httpapi.New: nil dependency")
	}
	d.Config = d.Config.withDefaults()
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Acceptor == nil {
		d.Acceptor = intake.NewAcceptor(d.DB, jobs.Config{})
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	if d.Ready == nil {
		d.Ready = d.DB.Ready
	}
	ttl := d.Config.SourceCacheTTL
	if d.Config.DisableSourceCache {
		ttl = 0
	}
	s := &Server{
		Deps: d, echo: e, metrics: newMetrics(d.Registry),
		sources: newSourceCache(ttl, d.Now), limits: newLimiters(d.Now),
		inFlight: make(chan struct{}, d.Config.MaxInFlight),
	}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
}

func (c Config) withDefaults() Config {
	if c.BodyLimit <= 0 {
		c.BodyLimit = DefaultBodyLimit
	}
	if c.CSVLimit <= 0 {
		c.CSVLimit = DefaultCSVLimit
	}
	if c.CSVBatchRows <= 0 {
		c.CSVBatchRows = DefaultCSVBatchRows
	}
	if c.CSVTimeout <= 0 {
		c.CSVTimeout = DefaultCSVTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.SourceCacheTTL <= 0 {
		c.SourceCacheTTL = DefaultSourceCacheTTL
	}
	return c
}

// ipExtractor is how echo finds the client's address (c.RealIP: the access log, stored
// addresses): X-Forwarded-For is believed only from a peer inside trusted (TRUSTED_PROXIES),
// and then only up to the nearest address that is not itself a trusted proxy; with no trusted
// proxies the client is the direct peer.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }
