package enrichment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config configures the external API client.
type Config struct {
	// URL is ENRICHMENT_API_URL; empty means no external API (use LocalEnricher).
	URL string
	// APIKey is ENRICHMENT_API_KEY, sent as a bearer token when set.
	APIKey string
	// Timeout bounds one call (default 5 s).
	Timeout time.Duration
	// HTTPClient replaces the default client (its own Timeout is kept as it is).
	HTTPClient *http.Client
}

// Client calls the external enrichment API described in the package doc.
type Client struct {
	url     *url.URL
	key     string
	timeout time.Duration
	http    *http.Client
}

// maxBody is the largest answer accepted.
const maxBody = 64 << 10

// New returns a client of the API at cfg.URL, which must be an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("enrichment: ENRICHMENT_API_URL must be an absolute http(s) URL, got %q", cfg.URL)
	}
	c := &Client{url: u, key: cfg.APIKey, timeout: cfg.Timeout, http: cfg.HTTPClient}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: c.timeout}
	}
	return c, nil
}

// NewEnricher returns the Enricher for cfg: the API client when cfg.URL is set, else
// LocalEnricher.
func NewEnricher(cfg Config) (Enricher, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return LocalEnricher{}, nil
	}
	return New(cfg)
}

// Enrich computes Local(in) and, for a business domain, asks the API for its company record.
// It returns a retryable error for 5xx, 429, timeouts and connection failures, and a permanent
// one (IsPermanent) for other 4xx answers and answers that break the contract.
func (c *Client) Enrich(ctx context.Context, in Input) (Result, error) {
	r := Local(in)
	if r.Domain == "" {
		return r, nil
	}
	r.Source = SourceAPI
	company, found, err := c.lookup(ctx, r.Domain)
	if err != nil {
		return Result{}, fmt.Errorf("enrich %s: %w", r.Domain, err)
	}
	r.Found, r.Company = found, company
	r.band()
	return r, nil
}

func (c *Client) lookup(ctx context.Context, domain string) (*Company, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := *c.url
	q := u.Query()
	q.Set("domain", domain)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, permanentf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("call enrichment api: %w", err) // timeouts and network: retry
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("read enrichment answer: %w", err)
	}
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return nil, false, fmt.Errorf("enrichment api answered %d", res.StatusCode)
	case res.StatusCode >= 400:
		return nil, false, permanentf("enrichment api answered %d", res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return nil, false, permanentf("enrichment api answered unexpected status %d", res.StatusCode)
	}
	if len(body) > maxBody {
		return nil, false, permanentf("enrichment answer is larger than %d bytes", maxBody)
	}
	company, err := parseAnswer(body)
	if err != nil {
		return nil, false, permanentf("invalid enrichment answer: %w", err)
	}
	return company, true, nil
}

// answer is the wire form of a 200 answer; pointers tell absent fields from zero values.
type answer struct {
	Company    *string      `json:"company"`
	Employees  *json.Number `json:"employees"`
	Industry   *string      `json:"industry"`
	Country    *string      `json:"country"`
	RevenueUSD *json.Number `json:"revenueUsd"`
}

// parseAnswer decodes and validates a 200 answer (see the package doc for the limits).
func parseAnswer(body []byte) (*Company, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var a answer
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	c := &Company{}
	var err error
	if c.Name, err = text("company", a.Company, 200); err != nil {
		return nil, err
	}
	if c.Industry, err = text("industry", a.Industry, 100); err != nil {
		return nil, err
	}
	if a.Country != nil {
		cc := strings.ToUpper(strings.TrimSpace(*a.Country))
		if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
			return nil, fmt.Errorf("country must be an ISO 3166-1 alpha-2 code, got %q", *a.Country)
		}
		c.Country = cc
	}
	if a.Employees != nil {
		n, err := integer("employees", *a.Employees, 10_000_000)
		if err != nil {
			return nil, err
		}
		e := int(n)
		c.Employees = &e
	}
	if a.RevenueUSD != nil {
		n, err := integer("revenueUsd", *a.RevenueUSD, 10_000_000_000_000)
		if err != nil {
			return nil, err
		}
		c.RevenueUSD = &n
	}
	return c, nil
}

func text(field string, v *string, maxLen int) (string, error) {
	if v == nil {
		return "", nil
	}
	s := strings.TrimSpace(*v)
	if s == "" || utf8.RuneCountInString(s) > maxLen {
		return "", fmt.Errorf("%s must be 1..%d characters", field, maxLen)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", fmt.Errorf("%s must not contain control characters", field)
	}
	return s, nil
}

func integer(field string, n json.Number, maxValue int64) (int64, error) {
	v, err := n.Int64()
	if err != nil || v < 0 || v > maxValue {
		return 0, fmt.Errorf("%s must be an integer from 0 to %d, got %s", field, maxValue, n)
	}
	return v, nil
}
