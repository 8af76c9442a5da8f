package lead

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// Lead is a lead as the API shows it (API.md field names). Nullable columns are pointers and
// show as null; JSON columns are Docs and show as the stored document.
type Lead struct {
	ID              uuid.UUID  `json:"id" gorm:"column:id"`
	FirstName       *string    `json:"firstName" gorm:"column:first_name"`
	LastName        *string    `json:"lastName" gorm:"column:last_name"`
	Name            *string    `json:"name" gorm:"column:name"`
	Email           *string    `json:"email" gorm:"column:email"`
	Phone           *string    `json:"phone" gorm:"column:phone"`
	Company         *string    `json:"company" gorm:"column:company"`
	Website         *string    `json:"website" gorm:"column:website"`
	Domain          *string    `json:"domain" gorm:"column:domain"`
	Title           *string    `json:"title" gorm:"column:title"`
	ProfileLink     *string    `json:"profileLink" gorm:"column:profile_link"`
	Source          *string    `json:"source" gorm:"column:source"`
	Notes           *string    `json:"notes" gorm:"column:notes"`
	Extra           Doc        `json:"extra" gorm:"column:extra"`
	Stage           Stage      `json:"stage" gorm:"column:stage"`
	StageReason     *string    `json:"stageReason" gorm:"column:stage_reason"`
	Score           *int       `json:"score" gorm:"column:score"`
	ScoreReasons    Doc        `json:"scoreReasons" gorm:"column:score_reasons"`
	ICPMatch        *bool      `json:"icpMatch" gorm:"column:icp_match"`
	RecommendedPath *string    `json:"recommendedPath" gorm:"column:recommended_path"`
	Priority        Priority   `json:"priority" gorm:"column:priority"`
	GhostRisk       int        `json:"ghostRisk" gorm:"column:ghost_risk"`
	RevenueBand     *string    `json:"revenueBand" gorm:"column:revenue_band"`
	Enrichment      Doc        `json:"enrichment" gorm:"column:enrichment"`
	Version         int        `json:"version" gorm:"column:version"`
	LastActivityAt  *time.Time `json:"lastActivityAt" gorm:"column:last_activity_at"`
	StageChangedAt  time.Time  `json:"stageChangedAt" gorm:"column:stage_changed_at"`
	CreatedAt       time.Time  `json:"createdAt" gorm:"column:created_at"`
	// UpdatedAt is when a person or a process last changed the lead's own data; the sweeps'
	// derived writes (ghost risk, the table's priority) leave it (migration 000032).
	UpdatedAt time.Time `json:"updatedAt" gorm:"column:updated_at"`
	// Fingerprint is the dedup key (FingerprintOf); internal, not shown.
	Fingerprint string `json:"-" gorm:"column:fingerprint"`
}

// contact returns the lead's contact data (domain as stored).
func (l Lead) contact() Contact {
	return Contact{
		FirstName: str(l.FirstName), LastName: str(l.LastName), Name: str(l.Name), Email: str(l.Email),
		Phone: str(l.Phone), Company: str(l.Company), Website: str(l.Website), Domain: str(l.Domain),
		Title: str(l.Title), ProfileLink: str(l.ProfileLink), Source: str(l.Source), Notes: str(l.Notes),
	}
}

// setContact stores a normalised contact on the lead; empty values become NULL.
func (l *Lead) setContact(c Contact) {
	l.FirstName, l.LastName, l.Name, l.Email = ptr(c.FirstName), ptr(c.LastName), ptr(c.Name), ptr(c.Email)
	l.Phone, l.Company, l.Website, l.Domain = ptr(c.Phone), ptr(c.Company), ptr(c.Website), ptr(c.Domain)
	l.Title, l.ProfileLink, l.Source, l.Notes = ptr(c.Title), ptr(c.ProfileLink), ptr(c.Source), ptr(c.Notes)
}

// Enriched reports whether the lead has a stored enrichment (anything but the default {}).
func (l Lead) Enriched() bool {
	return len(l.Enrichment) > 0 && !sameJSON(l.Enrichment, []byte("{}"))
}

// utc puts the lead's times in UTC, as the API shows them.
func (l *Lead) utc() {
	l.StageChangedAt, l.CreatedAt, l.UpdatedAt = l.StageChangedAt.UTC(), l.CreatedAt.UTC(), l.UpdatedAt.UTC()
	if l.LastActivityAt != nil {
		t := l.LastActivityAt.UTC()
		l.LastActivityAt = &t
	}
}

// Priority is a lead's priority.
type Priority string

// The priorities; a lead without one given is normal.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Valid reports whether p is a priority.
func (p Priority) Valid() bool {
	return p == PriorityLow || p == PriorityNormal || p == PriorityHigh || p == PriorityUrgent
}

// Doc is a JSON document kept as its bytes (a jsonb column). Empty is JSON null.
type Doc []byte

// MarshalJSON returns the document itself.
func (d Doc) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("null"), nil
	}
	return d, nil
}

// UnmarshalJSON keeps a copy of the document.
func (d *Doc) UnmarshalJSON(b []byte) error {
	*d = append((*d)[:0], b...)
	return nil
}

// Scan reads a jsonb value as its bytes.
func (d *Doc) Scan(src any) error {
	b, err := db.JSONBytes(src)
	if err != nil {
		return fmt.Errorf("scan into lead.Doc: %w", err)
	}
	*d = b
	return nil
}

// Value writes the document as JSON text.
func (d Doc) Value() (driver.Value, error) {
	if len(d) == 0 {
		return nil, nil
	}
	return string(d), nil
}

// sameJSON reports whether two documents say the same (key order, spacing and the spelling of
// numbers aside).
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if decodeNumbers(a, &x) != nil || decodeNumbers(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func decodeNumbers(b []byte, v *any) error {
	if len(b) == 0 {
		*v = nil
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// NewLead is the input of Create: contact data as submitted (Create normalises it), extra
// fields and a priority ("" is normal).
type NewLead struct {
	Contact
	Extra    map[string]json.RawMessage
	Priority Priority
}

// Patch is the input of Update. A nil field is left as it is; a field set to "" (after
// trimming) is cleared. Extra, when not nil, replaces the whole extra object ({} clears it).
// Version, when not nil, must equal the lead's current version.
type Patch struct {
	FirstName, LastName, Name       *string
	Email, Phone, ProfileLink       *string
	Company, Website, Domain, Title *string
	Source, Notes                   *string
	Extra                           map[string]json.RawMessage
	Priority                        *Priority
	Version                         *int
}

// ListFilter selects and orders a page of leads.
type ListFilter struct {
	// Stage, when set, keeps leads in that stage.
	Stage Stage
	// Q, when set, keeps leads whose name, email or company contains it, ignoring case.
	Q string
	// MinScore, when set, keeps scored leads with at least this score.
	MinScore *int
	// Sort orders the list; "" is SortDefault.
	Sort Sort
	Page page.Request
}

// Sort is a list order: a field, ascending, or descending with a leading '-'. Ties are broken
// by id in the same direction, so that the order is total and pages never skip or repeat.
type Sort string

// The list orders. Unscored leads sort as lower than any score: last under -score, first under
// score.
const (
	SortCreatedAsc  Sort = "createdAt"
	SortCreatedDesc Sort = "-createdAt"
	SortUpdatedAsc  Sort = "updatedAt"
	SortUpdatedDesc Sort = "-updatedAt"
	SortScoreAsc    Sort = "score"
	SortScoreDesc   Sort = "-score"
	// SortDefault is newest first.
	SortDefault = SortCreatedDesc
)

// Sorts lists the accepted orders.
var Sorts = []Sort{SortCreatedDesc, SortCreatedAsc, SortUpdatedDesc, SortUpdatedAsc, SortScoreDesc, SortScoreAsc}

// Limits of the inputs, shared with the API's request validation.
const (
	MaxQ          = 200 // characters of a search
	MaxExtraKeys  = 50
	MaxNameLen    = 200
	MaxTextLen    = 10000 // notes, activity body
	MaxReasonLen  = 1000
	MaxSubjectLen = 300
)

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func badParam(name, message string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", name, message).WithFields(apperr.FieldError{Field: name, Message: message})
}

func checkFilter(f ListFilter) error {
	if err := f.Page.Check(); err != nil {
		return err
	}
	if f.Stage != "" && !f.Stage.Valid() {
		return badParam("stage", "must be a lead stage")
	}
	if _, ok := keysets[f.Sort]; !ok {
		return badParam("sort", "must be one of: createdAt, -createdAt, updatedAt, -updatedAt, score, -score")
	}
	if f.MinScore != nil && (*f.MinScore < 0 || *f.MinScore > 100) {
		return badParam("minScore", "must be an integer from 0 to 100")
	}
	if !utf8.ValidString(f.Q) || utf8.RuneCountInString(f.Q) > MaxQ || hasControl(f.Q) {
		return badParam("q", fmt.Sprintf("must be at most %d characters of text", MaxQ))
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return true
		}
	}
	return false
}

// EncodeExtra encodes the extra fields as a JSON object ({} for none), at most MaxExtraKeys keys.
func EncodeExtra(extra map[string]json.RawMessage) (Doc, []apperr.FieldError) {
	if len(extra) > MaxExtraKeys {
		return nil, []apperr.FieldError{{Field: "extra", Message: fmt.Sprintf("must have at most %d keys", MaxExtraKeys)}}
	}
	if len(extra) == 0 {
		return Doc("{}"), nil
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return nil, []apperr.FieldError{{Field: "extra", Message: "must be a JSON object"}}
	}
	return Doc(b), nil
}
