// Package intake is how lead submissions enter the system.
//
//   - source.go, store.go and service.go are the intake sources an org configures through the
//     API (webhook, form, csv): their settings, their signing secrets (shown once, rotated with
//     a grace period) and public form tokens, each change in one tenant transaction with its
//     event.
//   - resolve.go finds a source for the gateway: from the public routes, which know only its id
//     or form token, through the SECURITY DEFINER functions of migration 000006; for a CSV
//     upload, in the org of its API key.
//   - signature.go verifies and makes webhook signatures of the X-Signature scheme (API.md),
//     standardwebhooks.go those of Standard Webhooks, and VerifyDelivery picks the scheme
//     of a delivery and returns its delivery key.
//   - raw.go accepts a delivery: lead_intake_raw plus its process_intake job in one transaction,
//     idempotent on the delivery key; accept.go does the same in one round trip for the
//     gateway (Acceptor), group.go lets deliveries of one org that queue under load share
//     that transaction, and batch.go does it for the rows of a CSV upload (AcceptRows).
//   - process.go is process_intake (Processor.Process): a stored delivery's body is parsed, the
//     source's field mapping applied and the contact checked, and the result is admitted as a
//     lead (lead.Service.Admit: a new lead, or a touchpoint on the live lead it repeats) or
//     rejected with its reason. The normalisation and the fingerprint every entry path shares
//     are the lead's identity, in pkg/lead.
//
// It knows no transport: errors are apperr errors, which the services map to HTTP statuses.
package intake
