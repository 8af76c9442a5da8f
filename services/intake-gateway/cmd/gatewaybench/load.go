package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"example.com/crm/pkg/intake"
)

// webhookResult are the figures of the webhook scenario.
type webhookResult struct {
	sent, accepted, errors int
	firstError             string
	window                 time.Duration
	lat                    []time.Duration // sorted
	rows                   int
	// cpuGateway and cpuServer are the CPU time of the gateway process and of the PostgreSQL
	// backends serving it during the measured window (cpuServer -1 when not measurable).
	cpuGateway, cpuServer time.Duration
}

// webhookScenario sends signed webhooks at o.rate per second: o.warmup, then o.duration measured.
func webhookScenario(ctx context.Context, o options, e *benchEnv) (webhookResult, error) {
	p, err := startGateway(ctx, o, e)
	if err != nil {
		return webhookResult{}, err
	}
	defer p.stop()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: time.Minute,
	}}
	url := p.base + "/intake/webhook/" + e.hook.ID.String()
	send := func(i int, at time.Time) (time.Duration, int, error) {
		body := []byte(`{"email":"lead` + strconv.Itoa(i) + `@bench.example","firstName":"Lead","lastName":"` +
			strconv.Itoa(i) + `","company":"Bench Co","website":"https://bench.example"}`)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytesReader(body))
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Signature", intake.Sign(e.hook.SigningSecret, time.Now(), body))
		res, err := client.Do(req)
		if err != nil {
			return time.Since(at), 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return time.Since(at), res.StatusCode, nil
	}
	interval := time.Second / time.Duration(o.rate)
	warm := int(o.warmup / interval)
	total := int(o.duration / interval)
	var mu sync.Mutex
	var r webhookResult
	r.lat = make([]time.Duration, 0, total)
	var wg sync.WaitGroup
	var before cpuSnap
	start := time.Now()
	for i := range warm + total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if i == warm {
			before = p.cpu(ctx, e)
		}
		if ctx.Err() != nil {
			return webhookResult{}, ctx.Err()
		}
		measured := i >= warm
		wg.Go(func() {
			d, status, err := send(i, at)
			if !measured {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			r.sent++
			r.lat = append(r.lat, d)
			switch {
			case err != nil:
				r.errors++
				if r.firstError == "" {
					r.firstError = err.Error()
				}
			case status == http.StatusAccepted:
				r.accepted++
			default:
				r.errors++
				if r.firstError == "" {
					r.firstError = "status " + strconv.Itoa(status)
				}
			}
		})
	}
	wg.Wait()
	r.window = time.Since(start.Add(time.Duration(warm) * interval))
	r.cpuGateway, r.cpuServer = cpuBetween(before, p.cpu(ctx, e))
	slices.Sort(r.lat)
	r.rows, err = e.count(ctx, `SELECT count(*) FROM lead_intake_raw WHERE source_id = $1`, e.hook.ID)
	return r, err
}

// csvResult are the figures of the CSV scenario.
type csvResult struct {
	rows, accepted, stored int
	fileBytes              int64
	took                   time.Duration
	peakRSS                int64
	idleRSS                int64
	status                 int
	answer                 string
}

// csvScenario uploads one generated file of o.csvRows rows to a fresh gateway process.
func csvScenario(ctx context.Context, o options, e *benchEnv) (csvResult, error) {
	f, err := os.CreateTemp("", "gatewaybench-*.csv")
	if err != nil {
		return csvResult{}, err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	defer func() { _ = f.Close() }()
	w := newBufWriter(f)
	w.str("email,firstName,lastName,company,title,phone,website,notes\r\n")
	for i := range o.csvRows {
		w.str(fmt.Sprintf("user%d@example%d.com,First%d,Last%d,\"Company %d, Inc\",Head of Things,+1555%07d,https://example%d.com,imported row %d\r\n",
			i, i%5000, i, i, i%5000, i, i%5000, i))
	}
	if err := w.flush(); err != nil {
		return csvResult{}, err
	}
	st, err := f.Stat()
	if err != nil {
		return csvResult{}, err
	}
	r := csvResult{rows: o.csvRows, fileBytes: st.Size()}
	p, err := startGateway(ctx, o, e, "INTAKE_CSV_LIMIT_BYTES="+strconv.FormatInt(st.Size()+1<<20, 10))
	if err != nil {
		return csvResult{}, err
	}
	defer p.stop()
	if r.idleRSS, err = p.peakRSS(); err != nil {
		return csvResult{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return csvResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/intake/csv?sourceId="+e.csv.ID.String(), f)
	if err != nil {
		return csvResult{}, err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+e.created.APIKey)
	req.Header.Set("X-Org-Id", e.created.OrgID.String())
	began := time.Now()
	res, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return csvResult{}, err
	}
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	_ = res.Body.Close()
	r.took = time.Since(began)
	r.status, r.answer = res.StatusCode, string(answer)
	if r.peakRSS, err = p.peakRSS(); err != nil {
		return csvResult{}, err
	}
	var a struct {
		Accepted int `json:"accepted"`
	}
	_ = jsonUnmarshal(answer, &a)
	r.accepted = a.Accepted
	r.stored, err = e.count(ctx, `SELECT count(*) FROM lead_intake_raw WHERE source_id = $1`, e.csv.ID)
	return r, err
}
