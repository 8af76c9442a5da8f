// Package ai asks an OpenAI-compatible chat model (OPENAI_API_KEY, AI_MODEL, OPENAI_BASE_URL)
// for JSON answers against a JSON schema and validates them. It is the only importer of
// github.com/openai/openai-go/v3: everything else gets plain Go values and errors.
//
// Every call sends response_format {"type":"json_schema","json_schema":{"strict":true,...}}, then
// decodes message.content strictly (unknown fields, trailing data and type mismatches are errors)
// into the caller's value and, when that value has a Validate method, calls it for range checks.
//
// Errors, and what the job queue should do with them (IsPermanent):
//
//   - malformed JSON, a schema or range violation, a truncated answer (finish_reason "length"),
//     no choices: ErrMalformed, retryable. Sampling can give a good answer next time; a bad one is
//     never written anywhere.
//   - a refusal (message.refusal set): ErrRefused, permanent. The same lead sent again draws the
//     same refusal, so retrying only burns tokens; the dead-lettered job shows the refusal text to
//     an operator, who may retry it.
//   - 429, 408, 409 and 5xx: openai-go retries them itself (MaxRetries, default 2, honouring
//     Retry-After/Retry-After-Ms); when they persist the error is retryable through the queue.
//   - other 4xx (bad key, unknown model, bad request): permanent.
//   - the per-call timeout (Config.Timeout, default 60 s, spanning openai-go's retries) and
//     connection errors: retryable.
//
// It imports no domain package.
package ai
