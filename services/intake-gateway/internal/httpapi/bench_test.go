package httpapi_test

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"example.com/crm/pkg/intake"
	"example.com/crm/services/intake-gateway/internal/httpapi"
)

// BenchmarkWebhook posts distinct signed webhooks to an in-process gateway, 8 at a time per
// core (go test -bench Webhook -cpuprofile ... to see where a request's time goes).
func BenchmarkWebhook(b *testing.B) {
	bb := setupB(b)
	src, err := bb.svc.Create(b.Context(), bb.org, "apikey:test", intake.NewSource{Kind: intake.KindWebhook, Name: "bench", RateLimitPerMinute: intake.MaxRateLimit})
	if err != nil {
		b.Fatal(err)
	}
	url := bb.srv.URL + "/intake/webhook/" + src.ID.String()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := []byte(`{"email":"b` + strconv.FormatInt(i, 10) + strconv.FormatInt(time.Now().UnixNano(), 10) + `@example.com"}`)
			req, _ := http.NewRequestWithContext(b.Context(), http.MethodPost, url, bytesReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(httpapi.SignatureHeader, intake.Sign(src.SigningSecret, time.Now(), body))
			res, err := bb.client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_ = res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
