package enrichment

import (
	"context"
	"errors"
	"fmt"
)

// Input is what enrichment looks at: a lead's contact data as stored.
type Input struct {
	Email   string
	Website string
	// Domain is the domain intake derived; used when the website gives none.
	Domain string
}

// Company is the company record of the external API, validated.
type Company struct {
	Name       string `json:"name,omitempty"`
	Employees  *int   `json:"employees,omitempty"`
	Industry   string `json:"industry,omitempty"`
	Country    string `json:"country,omitempty"`
	RevenueUSD *int64 `json:"revenueUsd,omitempty"`
}

// Result is an enrichment, stored as the lead's enrichment document.
type Result struct {
	// Domain is the company's registrable domain: from the website, else the lead's domain, else
	// the e-mail's domain unless that is free-mail. "" when there is none.
	Domain string `json:"domain"`
	// EmailDomain is the registrable domain of the e-mail address ("" without one).
	EmailDomain string `json:"emailDomain"`
	// FreeMail reports whether the e-mail address is at a free-mail provider.
	FreeMail bool `json:"freeMail"`
	// Source is "local" (domain and free-mail only) or "api" (the external API was asked).
	Source string `json:"source"`
	// Found reports whether the external API knew the domain.
	Found bool `json:"found"`
	// Company is the API's record, nil when not asked or not found.
	Company *Company `json:"company,omitempty"`
	// RevenueBand is derived from the company record ("" when unknown); see the package doc.
	RevenueBand string `json:"revenueBand,omitempty"`
	// RevenueEstimated reports that RevenueBand was estimated from the employee count.
	RevenueEstimated bool `json:"revenueEstimated,omitempty"`
}

// The sources of a Result.
const (
	SourceLocal = "local"
	SourceAPI   = "api"
)

// Local computes the offline part of an enrichment: domain and free-mail flag. It is a pure
// function.
func Local(in Input) Result {
	r := Result{Source: SourceLocal, EmailDomain: emailDomain(in.Email)}
	r.FreeMail = r.EmailDomain != "" && IsFreeMail(r.EmailDomain)
	for _, cand := range []string{in.Website, in.Domain} {
		if d := Registrable(cand); d != "" && !IsFreeMail(d) {
			r.Domain = d
			break
		}
	}
	if r.Domain == "" && !r.FreeMail {
		r.Domain = r.EmailDomain
	}
	return r
}

// Enricher enriches a lead's contact data. Errors are retryable unless IsPermanent says
// otherwise.
type Enricher interface {
	Enrich(ctx context.Context, in Input) (Result, error)
}

// LocalEnricher is the Enricher used without ENRICHMENT_API_URL: Local, never an error.
type LocalEnricher struct{}

// Enrich returns Local(in).
func (LocalEnricher) Enrich(_ context.Context, in Input) (Result, error) { return Local(in), nil }

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanentf(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err (or anything it wraps) is an enrichment error that retrying
// cannot fix: a 4xx other than 404, or an answer that breaks the contract.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// The revenue bands, from the smallest.
const (
	BandUnder1M   = "<1M"
	Band1To10M    = "1M-10M"
	Band10To50M   = "10M-50M"
	Band50To250M  = "50M-250M"
	BandOver250M  = "250M+"
	revenuePerEmp = 150_000
)

// RevenueBand returns the band of a yearly revenue in USD.
func RevenueBand(usd int64) string {
	switch {
	case usd < 1_000_000:
		return BandUnder1M
	case usd < 10_000_000:
		return Band1To10M
	case usd < 50_000_000:
		return Band10To50M
	case usd < 250_000_000:
		return Band50To250M
	default:
		return BandOver250M
	}
}

// band sets the result's revenue band from its company record.
func (r *Result) band() {
	switch c := r.Company; {
	case c == nil:
	case c.RevenueUSD != nil:
		r.RevenueBand = RevenueBand(*c.RevenueUSD)
	case c.Employees != nil:
		r.RevenueBand, r.RevenueEstimated = RevenueBand(int64(*c.Employees)*revenuePerEmp), true
	}
}
