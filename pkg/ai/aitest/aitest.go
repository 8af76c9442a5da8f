// Package aitest is a fake OpenAI-compatible server for tests: it speaks the real Chat
// Completions wire format (POST /chat/completions, the JSON shape of testdata/completion.json,
// errors as testdata/rate_limited.json), so the real openai-go client talks to it through its
// base URL option and never reaches the network. For tests only.
package aitest

import (
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

//go:embed testdata/completion.json
var completionJSON []byte

//go:embed testdata/rate_limited.json
var rateLimitedJSON []byte

// Reply is one answer of the server.
type Reply func(w http.ResponseWriter, r *http.Request)

// Server is a fake Chat Completions endpoint. Requests are answered by the replies given to
// NewServer in order; the last one answers every request after it.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	replies  []Reply
	requests []map[string]any
}

// NewServer starts a server answering with replies in order (at least one); it is closed when
// the test ends. Its URL is the base URL to give openai-go.
func NewServer(t testing.TB, replies ...Reply) *Server {
	t.Helper()
	if len(replies) == 0 {
		t.Fatal("aitest.NewServer: no replies")
	}
	s := &Server{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/chat/completions" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, req)
	reply := s.replies[min(n, len(s.replies)-1)]
	s.mu.Unlock()
	reply(w, r)
}

// Requests returns the decoded request bodies received so far.
func (s *Server) Requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.requests...)
}

// completion returns testdata/completion.json with message.content, message.refusal and
// finish_reason set.
func completion(content, refusal any, finish string) []byte {
	var doc map[string]any
	if err := json.Unmarshal(completionJSON, &doc); err != nil {
		panic(err)
	}
	choice := doc["choices"].([]any)[0].(map[string]any)
	msg := choice["message"].(map[string]any)
	msg["content"], msg["refusal"] = content, refusal
	choice["finish_reason"] = finish
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

func write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Content answers 200 with content as message.content (finish_reason "stop").
func Content(content string) Reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, completion(content, nil, "stop"))
	}
}

// JSON answers 200 with v marshalled as message.content.
func JSON(v any) Reply {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return Content(string(b))
}

// Truncated answers 200 with content cut off (finish_reason "length").
func Truncated(content string) Reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, completion(content, nil, "length"))
	}
}

// Refusal answers 200 with message.refusal set and content null.
func Refusal(text string) Reply {
	return func(w http.ResponseWriter, _ *http.Request) { write(w, http.StatusOK, completion(nil, text, "stop")) }
}

// RateLimited answers 429 with OpenAI's error body and Retry-After-Ms: 1, so openai-go retries
// at once.
func RateLimited() Reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After-Ms", "1")
		write(w, http.StatusTooManyRequests, rateLimitedJSON)
	}
}

// Status answers status with an OpenAI error body.
func Status(status int) Reply {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After-Ms", "1")
		write(w, status, []byte(`{"error":{"message":"test error","type":"invalid_request_error","param":null,"code":"test"}}`))
	}
}

// Hang never answers: it waits until the client gives up (or release is closed).
func Hang(release <-chan struct{}) Reply {
	return func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}
