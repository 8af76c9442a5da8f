// Package enrichment derives firmographic facts about a lead's company: always, offline, the
// registrable domain (public-suffix aware, golang.org/x/net/publicsuffix) and whether the e-mail
// is a free-mail address (embedded list freemail.txt); and, when ENRICHMENT_API_URL is set, the
// company record of an external enrichment API, with a revenue band derived from it.
//
// The external API contract (also in the README):
//
//	GET {ENRICHMENT_API_URL}?domain=<registrable domain>
//	Authorization: Bearer {ENRICHMENT_API_KEY}   (sent only when a key is set)
//	Accept: application/json
//
//	200 application/json, an object (at most 64 KiB); every field optional, unknown fields ignored:
//	  {"company": string (1..200 chars), "employees": int (0..10000000), "industry": string (1..100),
//	   "country": ISO 3166-1 alpha-2 string, "revenueUsd": int (0..10^13)}
//	404 the API does not know the domain: not an error, the result has no company data
//	other 4xx: a permanent error (bad key, bad request): retrying cannot help
//	5xx, 429, timeouts, connection errors: a retryable error, returned for the job queue to retry
//	a 200 whose body is not such an object (wrong types, out of range, too large): permanent
//
// The API is asked only for business domains: a lead without a domain, or whose only domain is
// a free-mail provider's, is not looked up.
//
// Revenue band (Result.RevenueBand), from revenueUsd when the API gives it, else estimated from
// employees at USD 150,000 per employee (RevenueEstimated is then true):
//
//	"<1M"  "1M-10M"  "10M-50M"  "50M-250M"  "250M+"
//
// It is a capability package: it takes plain inputs, returns plain results, and imports no
// domain package. Errors say whether retrying can help through IsPermanent.
package enrichment
