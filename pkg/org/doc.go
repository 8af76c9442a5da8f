// Package org holds the tenants: creating an org with its default cron tasks, its API keys, and
// its ideal customer profile (ICP, icp.go), the input of lead qualification.
// A key is 32 random bytes shown once as "crm_<base64url>"; only its SHA-256 and a short prefix
// are stored, and it is bound to one org.
//
// It imports core packages only (db, apperr, events); every other domain package may import it.
package org
