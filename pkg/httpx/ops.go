package httpx

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"example.com/crm/pkg/apperr"
)

// ReadyFunc reports whether the service can do its work (database reachable, schema current).
// Its error's apperr message is shown to the caller of /readyz; anything else about it (a
// connection string in a driver's error) goes to the log only.
type ReadyFunc func(ctx context.Context) error

// notReadyDetail is the /readyz detail of a ReadyFunc error that carries no apperr message.
const notReadyDetail = "not ready"

// OpsHandler serves GET /healthz (the process is alive), GET /readyz (ready answers nil) and
// GET /metrics (Prometheus text from gatherer). Every binary mounts it. A failed readiness
// check answers 503 with the error's client-safe message and logs the whole error on log.
func OpsHandler(ready ReadyFunc, gatherer prometheus.Gatherer, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			detail := notReadyDetail
			if ae, ok := apperr.As(err); ok {
				detail = ae.Message
			}
			log.Warn("not ready", zap.String("detail", detail), zap.Error(err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": detail})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// A collector that cannot answer (the queue depth while the database is down) must not take
	// every other series of the scrape down with it.
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NewRegistry returns a Prometheus registry with the Go and process collectors, for one binary.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
