package httpapi

import (
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// requestID is the request's id (X-Request-Id, echoed back).
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// metrics are the gateway's own series, next to the Go and process collectors of the registry.
type metrics struct {
	duration   *prometheus.HistogramVec
	deliveries *prometheus.CounterVec
	csvRows    *prometheus.CounterVec
	signatures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_intake_http_request_duration_seconds",
			Help:    "Intake gateway requests by route, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 30, 120},
		}, []string{"route", "method", "status"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_intake_deliveries_total",
			Help: "Webhook and form deliveries by kind and outcome (accepted, duplicate, honeypot).",
		}, []string{"kind", "outcome"}),
		csvRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_intake_csv_rows_total",
			Help: "CSV rows by outcome (accepted, duplicate, rejected).",
		}, []string{"outcome"}),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_intake_signature_failures_total",
			Help: "Webhook signatures refused, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.duration, m.deliveries, m.csvRows, m.signatures)
	return m
}

// accessLog observes every request's duration, and logs refused and failed requests (status 400
// and up) at info and the others at debug: at a thousand deliveries a second, a line per
// accepted delivery is the costliest thing the gateway would do. It hands a handler's error to
// the error handler itself (HandleError), so the status observed and logged is the one the
// problem document was sent with, not the 200 an unwritten response still holds.
func (s *Server) accessLog() echo.MiddlewareFunc {
	log := s.Log.Named("http")
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogRoutePath: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true, LogResponseSize: true,
		HandleError: true,
		LogValuesFunc: func(_ echo.Context, v middleware.RequestLoggerValues) error {
			s.metrics.duration.WithLabelValues(v.RoutePath, v.Method, strconv.Itoa(v.Status)).Observe(v.Latency.Seconds())
			level := zap.DebugLevel
			if v.Status >= 400 {
				level = zap.InfoLevel
			}
			if ce := log.Check(level, "http request"); ce != nil {
				ce.Write(zap.String("method", v.Method), zap.String("path", v.URIPath), zap.String("route", v.RoutePath),
					zap.Int("status", v.Status), zap.Duration("latency", v.Latency), zap.String("request_id", v.RequestID),
					zap.String("remote_ip", v.RemoteIP), zap.Int64("bytes_out", v.ResponseSize))
			}
			return nil
		},
	})
}

// recoverer turns a handler panic into a 500 problem instead of a dropped connection.
func recoverer() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{StackSize: 8 << 10, DisablePrintStack: true})
}
