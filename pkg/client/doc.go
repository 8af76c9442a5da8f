// Package client is the client domain: the customers a paid invoice makes (create_client on
// invoice.paid), their onboarding checklist (start_onboarding on client.created, from the org's
// template in /settings/onboarding), and the client status machine. Every client and task stores
// the event whose job created it (causationEventId), so the chain deal -> invoice -> client ->
// onboarding can be walked back.
package client
