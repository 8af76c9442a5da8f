// Package httpapi is the intake gateway's HTTP layer on echo v4: the three public intake routes
// of API.md (signed webhooks, public forms, CSV uploads) and the ops routes. Each route checks
// only the envelope of a delivery (signature or credentials, size, content type, UTF-8 and
// NUL bytes, JSON or CSV framing, rate limit) and hands what passes to pkg/intake, which stores
// it in lead_intake_raw with its process_intake job in one transaction; the 202 is written only
// after that commit. A refused request writes nothing. Business rules run later, in the worker.
//
// Files, by noun: routes.go registers every route; webhook.go, form.go and csv.go (with
// csvparse.go, the streaming parser) are the three intake routes; envelope.go holds the checks
// they share (content type, body size, UTF-8 and NUL, strict JSON); sources.go caches source
// lookups; ratelimit.go the per-source token buckets; errors.go and middleware.go the problem
// answers, access log and metrics.
package httpapi
