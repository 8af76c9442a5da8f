package httpapi

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"example.com/crm/pkg/apperr"
)

// sweepEvery is how often idle limiters are looked for.
const sweepEvery = time.Minute

// limiters are the per-source token buckets: a source's bucket holds rateLimitPerMinute
// tokens and refills at rateLimitPerMinute per minute, so a source may send a minute's
// allowance at once and then keeps to its rate. They live in this process's memory: with N
// gateway processes behind a balancer a source may send up to N times its limit. A bucket that
// has refilled completely is the same as a new one, so it is dropped then (at most every
// sweepEvery), and memory follows the sources that are active. Safe for concurrent use.
type limiters struct {
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim    *rate.Limiter
	perMin int
}

func newLimiters(now func() time.Time) *limiters {
	return &limiters{now: now, buckets: map[string]*bucket{}, lastSweep: now()}
}

// allow takes a token from key's bucket of perMin tokens a minute. When there is none it returns
// false and how long until there is one.
func (l *limiters) allow(key string, perMin int) (bool, time.Duration) {
	perMin = max(perMin, 1)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(perMin)/60), perMin), perMin: perMin}
		b.lim.SetBurstAt(now, perMin) // start the bucket full at the injected clock's now
		l.buckets[key] = b
	} else if b.perMin != perMin {
		b.lim.SetLimitAt(now, rate.Limit(float64(perMin)/60))
		b.lim.SetBurstAt(now, perMin)
		b.perMin = perMin
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops the buckets that are full again. Called with mu held.
func (l *limiters) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(b.perMin) {
			delete(l.buckets, k)
		}
	}
}

// rateLimit takes a token for key or refuses the request with 429 and Retry-After (whole
// seconds, rounded up).
func (s *Server) rateLimit(c echo.Context, key string, perMin int) error {
	ok, wait := s.limits.allow(key, perMin)
	if ok {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	secs = max(secs, 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return apperr.Errorf(apperr.RateLimited, "this source is over its limit of %d deliveries a minute; retry after %d s", perMin, secs).
		With("retryAfterSeconds", secs)
}
