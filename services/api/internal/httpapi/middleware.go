package httpapi

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// requestID is the request's id (X-Request-Id, echoed back).
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

type httpMetrics struct {
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "crm_http_request_duration_seconds",
		Help:    "API requests by route, method and status.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "method", "status"})}
	reg.MustRegister(m.duration)
	return m
}

// accessLog writes one line per request and observes its duration.
func (s *Server) accessLog() echo.MiddlewareFunc {
	log := s.Log.Named("http")
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogURIPath: true, LogRoutePath: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true, LogResponseSize: true, LogError: true,
		// The error handler writes the problem before the line is logged, so the status and
		// size are the ones the client got.
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			status := v.Status
			s.metrics.duration.WithLabelValues(v.RoutePath, v.Method, strconv.Itoa(status)).Observe(v.Latency.Seconds())
			log.Info("http request",
				zap.String("method", v.Method), zap.String("path", v.URIPath), zap.String("route", v.RoutePath),
				zap.Int("status", status), zap.Duration("latency", v.Latency), zap.String("request_id", v.RequestID),
				zap.String("remote_ip", v.RemoteIP), zap.Int64("bytes_out", v.ResponseSize))
			return nil
		},
	})
}

// recoverer turns a handler panic into a 500 problem (logged with its stack by the error
// handler) instead of a dropped connection.
func recoverer() echo.MiddlewareFunc {
	return middleware.RecoverWithConfig(middleware.RecoverConfig{
		StackSize:         8 << 10,
		DisablePrintStack: true,
	})
}

// timeout bounds the work of one request; the server's write timeout is the hard stop.
const requestTimeout = 30 * time.Second
