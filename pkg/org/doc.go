// Package org holds the tenants: creating an org with its default cron tasks, its API keys, its
// ideal customer profile (ICP, icp.go), the input of lead qualification, and its named settings
// documents (Setting, setting.go: one row of org_settings each, declared by the domain
// that owns it, as invoice.Invoicing is).
// A key is 32 random bytes shown once as "crm_<base64url>"; only its SHA-256 and a short prefix
// are stored, and it is bound to one org.
//
// It imports core packages only (db, apperr, events); every other domain package may import it.
package org
