// Package org holds the tenants: creating an org with its default cron tasks, and its API keys.
// A key is 32 random bytes shown once as "crm_<base64url>"; only its SHA-256 and a short prefix
// are stored (R15), and it is bound to one org.
//
// It imports core packages only (db, apperr); every other domain package may import it.
package org
