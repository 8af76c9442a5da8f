// Package httpapi is the API's HTTP layer on echo v4: the conventions every route shares (request
// ids, access logs, recovery, CORS, strict JSON, validation, problem+json errors, API-key auth,
// Idempotency-Key, cursor pagination) and thin handlers that call the pkg domain packages.
// Nothing here holds business rules; nothing outside this package sees echo.
package httpapi

import (
	"net"
	"net/http"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"example.com/crm/pkg/config"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/httpx"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/org"
)

// Deps are what the handlers need.
type Deps struct {
	DB       *db.DB
	Queue    *jobs.Queue
	Emitter  *events.Emitter
	Log      *zap.Logger
	Config   config.APIConfig
	Registry *prometheus.Registry
	// Ready is /readyz's check; nil is DB.Ready. The binary passes one that also fails while the
	// server drains before shutdown (httpx.Draining).
	Ready httpx.ReadyFunc
	// TrustedProxies are the peers whose X-Forwarded-For is believed (TRUSTED_PROXIES).
	TrustedProxies []*net.IPNet
	// Rules are the configured defaults of the orgs' rules (/settings/rules, rules.For); zero
	// fields are the rules package's defaults.
	Rules config.Rules
}

// Server is the API's HTTP handler.
type Server struct {
	Deps
	echo     *echo.Echo
	validate *validator.Validate
	metrics  *httpMetrics
	// keys checks API keys, remembering accepted ones for Config.KeyCacheTTL.
	keys *org.KeyCache
}

// New builds the server with every route registered.
func New(d Deps) *Server {
	if d.DB == nil || d.Queue == nil || d.Emitter == nil || d.Log == nil || d.Registry == nil {
		panic("httpapi.New: nil dependency")
	}
	if d.Config.BodyLimit <= 0 {
		d.Config.BodyLimit = 1 << 20
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(d.TrustedProxies)
	if d.Ready == nil {
		d.Ready = d.DB.Ready
	}
	s := &Server{Deps: d, echo: e, validate: newValidator(), metrics: newHTTPMetrics(d.Registry),
		keys: org.NewKeyCache(d.DB, d.Config.KeyCacheTTL)}
	e.HTTPErrorHandler = s.handleError
	s.routes()
	return s
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
