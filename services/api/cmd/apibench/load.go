package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// request is one request of a scenario: the raw HTTP/1.1 bytes and what its 200 body must
// contain.
type request struct {
	raw  []byte
	want []byte
}

// requestFunc makes the next request of a scenario into buf (reused), drawing from rng.
type requestFunc func(rng *rand.Rand, buf []byte) request

// loadResult is one measured window of one scenario.
type loadResult struct {
	requests int
	errors   int
	firstErr string
	took     time.Duration
	lat      []time.Duration // sorted
	bytesIn  int64
	cpu      cpuUse
}

func (r loadResult) rate() float64 {
	if r.took <= 0 {
		return 0
	}
	return float64(r.requests) / r.took.Seconds()
}

// perRequest is d divided by the requests of the window.
func (r loadResult) perRequest(d time.Duration) time.Duration {
	return d / time.Duration(max(r.requests, 1))
}

// loadConfig is the shape of the load.
type loadConfig struct {
	addr  string
	conns int
	// rate, when positive, makes the load an open loop of rate requests a second over all the
	// connections (runLoad); zero is the closed loop.
	rate     float64
	warmup   time.Duration
	duration time.Duration
	next     requestFunc
	// sample takes the CPU counters at the start and the end of the measured window.
	sample func() cpuSnap
	// during, when set, is the measured window instead of duration: the load is measured for as
	// long as it runs, and its error ends the run.
	during func(ctx context.Context) error
}

// phases of a load run.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// runLoad drives a closed loop: cfg.conns connections, each sending its next request as soon as
// the previous answer is read, through a warm-up and then cfg.duration of measurement. Requests
// that complete inside the measured window count; a request fails on a network error, a status
// other than 200 or a body without the expected bytes (the connection is then dialled anew).
//
// With cfg.rate set it is an open loop instead: the requests are due one after the other on a
// fixed schedule of cfg.rate a second from the start, each connection sending the next due one
// when it is free, and a request's latency runs from the moment it was due, not from when it
// was sent. A request that waited for a connection held by a slow one counts its wait, as it
// would for a user who sent it then, where a closed loop would send it late and count only the
// answer (coordinated omission). The load never sends more than the schedule, whatever the
// answers' speed.
func runLoad(ctx context.Context, cfg loadConfig) (loadResult, error) {
	var phase atomic.Int32
	var ticket atomic.Int64
	began := time.Now()
	type workerOut struct {
		lat      []time.Duration
		errors   int
		firstErr string
		bytesIn  int64
	}
	outs := make([]workerOut, cfg.conns)
	var wg sync.WaitGroup
	var dialErr atomic.Value
	for i := range cfg.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &outs[i]
			out.lat = make([]time.Duration, 0, 1<<14)
			rng := rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano())))
			var c *client
			defer func() {
				if c != nil {
					c.close()
				}
			}()
			buf := make([]byte, 0, 512)
			for {
				ph := phase.Load()
				if ph == phaseStop || ctx.Err() != nil {
					return
				}
				if c == nil {
					var err error
					if c, err = dial(cfg.addr); err != nil {
						dialErr.Store(err)
						return
					}
				}
				var due time.Time
				if cfg.rate > 0 {
					if due = began.Add(time.Duration(float64(ticket.Add(1)-1) * float64(time.Second) / cfg.rate)); !waitUntil(due, &phase) {
						return
					}
				}
				req := cfg.next(rng, buf[:0])
				buf = req.raw[:0]
				t0 := time.Now()
				if cfg.rate > 0 {
					t0 = due
				}
				status, body, reuse, err := c.roundTrip(req.raw)
				d := time.Since(t0)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d: %.300s", status, body)
				}
				if err == nil && len(req.want) > 0 && !bytes.Contains(body, req.want) {
					err = fmt.Errorf("body without %q: %.300s", req.want, body)
				}
				if err != nil || !reuse {
					c.close()
					c = nil
				}
				if phase.Load() != phaseMeasure {
					continue
				}
				if err != nil {
					if out.errors == 0 {
						out.firstErr = err.Error()
					}
					out.errors++
					continue
				}
				out.lat = append(out.lat, d)
				out.bytesIn += int64(len(body))
			}
		}()
	}
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	stopAll := func() { phase.Store(phaseStop); wg.Wait() }
	if err := sleep(cfg.warmup); err != nil {
		stopAll()
		return loadResult{}, err
	}
	a := cfg.sample()
	start := time.Now()
	phase.Store(phaseMeasure)
	measure := sleep
	if cfg.during != nil {
		measure = func(time.Duration) error { return cfg.during(ctx) }
	}
	if err := measure(cfg.duration); err != nil {
		stopAll()
		return loadResult{}, err
	}
	phase.Store(phaseStop)
	took := time.Since(start)
	b := cfg.sample()
	wg.Wait()
	if err, ok := dialErr.Load().(error); ok {
		return loadResult{}, err
	}
	r := loadResult{took: took, cpu: cpuBetween(a, b)}
	for _, o := range outs {
		r.lat = append(r.lat, o.lat...)
		r.errors += o.errors
		r.bytesIn += o.bytesIn
		if r.firstErr == "" {
			r.firstErr = o.firstErr
		}
	}
	r.requests = len(r.lat)
	slices.Sort(r.lat)
	return r, nil
}

// waitUntil sleeps until t, or until the load stops (false).
func waitUntil(t time.Time, phase *atomic.Int32) bool {
	for {
		if phase.Load() == phaseStop {
			return false
		}
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		time.Sleep(min(d, 20*time.Millisecond))
	}
}

// client is one keep-alive HTTP/1.1 connection. Requests are written as prepared bytes and
// answers parsed with net/http's reader: much less CPU than http.Client's transport, which
// matters when the generator shares the cores with what it measures.
type client struct {
	conn net.Conn
	br   *bufio.Reader
	body bytes.Buffer
}

func dial(addr string) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &client{conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}, nil
}

func (c *client) close() { _ = c.conn.Close() }

// roundTrip sends raw and reads the answer. body is valid until the next call; reuse is false
// when the connection cannot carry another request.
func (c *client) roundTrip(raw []byte) (status int, body []byte, reuse bool, err error) {
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(raw); err != nil {
		return 0, nil, false, fmt.Errorf("write request: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, nil, false, fmt.Errorf("read response: %w", err)
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, false, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, c.body.Bytes(), !resp.Close, nil
}

// ------------------------------------------------------------------------------ scenarios --

// appendGet appends "GET path" with the headers of org (key "" sends no Authorization).
func appendGet(buf []byte, path, orgID, key string) []byte {
	buf = append(buf, "GET "...)
	buf = append(buf, path...)
	buf = append(buf, " HTTP/1.1\r\nHost: apibench\r\n"...)
	if key != "" {
		buf = append(buf, "Authorization: Bearer "...)
		buf = append(buf, key...)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "X-Org-Id: "...)
	buf = append(buf, orgID...)
	return append(buf, "\r\n\r\n"...)
}

// scenarioRequests returns the request maker of scenario sc over the seed.
func scenarioRequests(sc string, sd *seed) requestFunc {
	orgIDs := make([]string, len(sd.orgs))
	for i, t := range sd.orgs {
		orgIDs[i] = t.id.String()
	}
	ids := make([]string, len(sd.sample))
	wants := make([][]byte, len(sd.sample))
	for i, l := range sd.sample {
		ids[i] = l.id.String()
		wants[i] = []byte(`"id":"` + ids[i] + `"`)
	}
	lowerWords := make([][]byte, len(sd.words))
	for i, w := range sd.words {
		lowerWords[i] = bytes.ToLower([]byte(w))
	}
	dataStart := []byte(`{"data":[{"id":`)
	switch sc {
	case scFloor, scGet:
		return func(rng *rand.Rand, buf []byte) request {
			i := rng.IntN(len(sd.sample))
			o := sd.sample[i].org
			key := sd.orgs[o].key
			if sc == scFloor {
				key = ""
			}
			return request{raw: appendGet(buf, "/leads/"+ids[i], orgIDs[o], key), want: wants[i]}
		}
	case scList:
		return func(rng *rand.Rand, buf []byte) request {
			o := rng.IntN(len(sd.orgs))
			return request{raw: appendGet(buf, "/leads?limit=50", orgIDs[o], sd.orgs[o].key), want: dataStart}
		}
	case scSearch:
		return func(rng *rand.Rand, buf []byte) request {
			o, w := rng.IntN(len(sd.orgs)), rng.IntN(len(sd.words))
			return request{raw: appendGet(buf, "/leads?q="+sd.words[w]+"&limit=50", orgIDs[o], sd.orgs[o].key), want: lowerWords[w]}
		}
	}
	panic("unknown scenario " + sc)
}
