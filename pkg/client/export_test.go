package client

import "example.com/crm/pkg/db"

// SetRenewalChunk sets how many clients one chunk of s.RemindRenewals reads, so that a test's
// few clients span several chunks.
func SetRenewalChunk(s *Service, n int) { s.renewalChunk = db.Fixed(n) }
