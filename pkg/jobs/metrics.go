package jobs

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DepthCollector exports the queue depth by status as crm_jobs_queue_depth, read from the
// database at scrape time and cached for a second so that many scrapers cost one query.
type DepthCollector struct {
	q    *Queue
	desc *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	cached  map[Status]int64
	lastErr error
}

// NewDepthCollector returns a collector over q; register it on the service's registry.
func NewDepthCollector(q *Queue) *DepthCollector {
	return &DepthCollector{
		q:    q,
		desc: prometheus.NewDesc("crm_jobs_queue_depth", "Jobs by status (failed = open dead letters).", []string{"status"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DepthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *DepthCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		depth, err := c.q.Depth(ctx)
		cancel()
		c.at, c.lastErr = time.Now(), err
		if err == nil {
			c.cached = depth
		}
	}
	if c.lastErr != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, c.lastErr)
		return
	}
	for status, n := range c.cached {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(status))
	}
}
