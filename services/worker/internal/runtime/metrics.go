package runtime

import "github.com/prometheus/client_golang/prometheus"

// metrics are the runtime's Prometheus series.
type metrics struct {
	claimed   *prometheus.CounterVec
	completed *prometheus.CounterVec
	failed    *prometheus.CounterVec
	dead      *prometheus.CounterVec
	leaseLost *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	reaped    prometheus.Counter
	running   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		claimed:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crm_jobs_claimed_total", Help: "Job attempts claimed by this worker."}, []string{"job_type"}),
		completed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crm_jobs_completed_total", Help: "Jobs completed by this worker."}, []string{"job_type"}),
		failed:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crm_jobs_failed_total", Help: "Failed attempts that will be retried."}, []string{"job_type"}),
		dead:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crm_jobs_dead_lettered_total", Help: "Jobs moved to the dead letters."}, []string{"job_type"}),
		leaseLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "crm_jobs_lease_lost_total", Help: "Attempts dropped because their lease was reaped or released."}, []string{"job_type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_job_duration_seconds",
			Help:    "Handler run time per attempt.",
			Buckets: []float64{.0005, .001, .005, .01, .05, .1, .5, 1, 5, 30, 120, 600},
		}, []string{"job_type"}),
		reaped:  prometheus.NewCounter(prometheus.CounterOpts{Name: "crm_jobs_reaped_total", Help: "Expired leases freed by this worker's reaper."}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "crm_jobs_running", Help: "Attempts this worker holds now."}),
	}
	reg.MustRegister(m.claimed, m.completed, m.failed, m.dead, m.leaseLost, m.duration, m.reaped, m.running)
	return m
}
