package integrity

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Severities of an alert.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Severities lists every severity, least severe first.
var Severities = []string{SeverityInfo, SeverityWarning, SeverityCritical}

// Alert is one violation of an invariant, as integrity_alerts holds it.
type Alert struct {
	OrgID uuid.UUID
	ID    uuid.UUID
	// CheckName names the invariant check that found it.
	CheckName string
	Severity  string
	// EntityType and EntityID name the entity concerned; both are nil for an org-wide finding.
	EntityType *string
	EntityID   *uuid.UUID
	// Detail is what was found (a JSON object).
	Detail     json.RawMessage
	DetectedAt time.Time
	// ResolvedAt is nil while the alert is open.
	ResolvedAt *time.Time
}

// Open reports whether the alert is not resolved yet.
func (a Alert) Open() bool { return a.ResolvedAt == nil }

// Filter narrows List; zero fields do not filter.
type Filter struct {
	// Open, when set, keeps only the open alerts (true) or only the resolved ones (false).
	Open *bool
	// Severity keeps only the alerts of one severity.
	Severity string
	// CheckName keeps only the alerts of one check.
	CheckName string
}
