package deal

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about a deal.
const EntityType = "deal"

// Deal is a deal as the API shows it (API.md field names). WeightedValue is computed on read
// (WeightedValue), never stored.
type Deal struct {
	ID                uuid.UUID   `json:"id"`
	LeadID            uuid.UUID   `json:"leadId"`
	Title             string      `json:"title"`
	DealValue         int64       `json:"dealValue"`
	Currency          string      `json:"currency"`
	Stage             Stage       `json:"stage"`
	Probability       Probability `json:"probability"`
	WeightedValue     int64       `json:"weightedValue"`
	ExpectedCloseDate *string     `json:"expectedCloseDate"`
	LostReason        *string     `json:"lostReason"`
	StageChangedAt    time.Time   `json:"stageChangedAt"`
	WonAt             *time.Time  `json:"wonAt"`
	LostAt            *time.Time  `json:"lostAt"`
	Version           int         `json:"version"`
	CreatedAt         time.Time   `json:"createdAt"`
	UpdatedAt         time.Time   `json:"updatedAt"`
}

// NewDeal is the input of Create. Stage "" is discovery; only open stages may be given (a deal
// is won or lost through ChangeStage). Probability nil is the stage's default.
// ExpectedCloseDate, when given, is a calendar date "YYYY-MM-DD".
type NewDeal struct {
	LeadID            uuid.UUID
	Title             string
	DealValue         int64
	Currency          string
	Stage             Stage
	Probability       *Probability
	ExpectedCloseDate *string
}

// Patch is the input of Update: a nil field is left as it is. ExpectedCloseDate set to "" clears
// the date. Version, when not nil, must equal the deal's current version.
type Patch struct {
	Title             *string
	DealValue         *int64
	Currency          *string
	Probability       *Probability
	ExpectedCloseDate *string
	Version           *int
}

// ListFilter selects and orders a page of deals.
type ListFilter struct {
	// Stage, when set, keeps deals in that stage.
	Stage Stage
	// LeadID, when set, keeps the deals of that lead.
	LeadID *uuid.UUID
	// MinValue, when set, keeps deals whose dealValue is at least this many minor units (of
	// whatever currency each deal has).
	MinValue *int64
	// Sort orders the list; "" is SortDefault.
	Sort Sort
	Page page.Request
}

// Sort is a list order: a field, ascending, or descending with a leading '-'. Ties are broken by
// id in the same direction, so the order is total and pages never skip or repeat.
type Sort string

// The list orders.
const (
	SortCreatedAsc  Sort = "createdAt"
	SortCreatedDesc Sort = "-createdAt"
	SortUpdatedAsc  Sort = "updatedAt"
	SortUpdatedDesc Sort = "-updatedAt"
	SortValueAsc    Sort = "dealValue"
	SortValueDesc   Sort = "-dealValue"
	// SortDefault is newest first.
	SortDefault = SortCreatedDesc
)

// Sorts lists the accepted orders.
var Sorts = []Sort{SortCreatedDesc, SortCreatedAsc, SortUpdatedDesc, SortUpdatedAsc, SortValueDesc, SortValueAsc}

// Limits of the inputs, shared with the API's request validation.
const (
	MaxTitleLen  = 300
	MaxReasonLen = 1000
)

// dateLayout is the form of expectedCloseDate.
const dateLayout = time.DateOnly

func invalid(fields ...apperr.FieldError) error {
	return apperr.Errorf(apperr.Invalid, "deal is invalid").WithFields(fields...)
}

func checkTitle(title string) []apperr.FieldError {
	n := utf8.RuneCountInString(title)
	switch {
	case strings.TrimSpace(title) == "":
		return []apperr.FieldError{{Field: "title", Message: "is required"}}
	case n > MaxTitleLen:
		return []apperr.FieldError{{Field: "title", Message: fmt.Sprintf("must have at most %d characters", MaxTitleLen)}}
	case hasControl(title):
		return []apperr.FieldError{{Field: "title", Message: "must not contain control characters"}}
	}
	return nil
}

func checkValue(v int64) []apperr.FieldError {
	if v < 0 || v > MaxValue {
		return []apperr.FieldError{{Field: "dealValue", Message: fmt.Sprintf("must be an integer number of minor units from 0 to %d", MaxValue)}}
	}
	return nil
}

func checkCurrency(c string) []apperr.FieldError {
	if !ValidCurrency(c) {
		return []apperr.FieldError{{Field: "currency", Message: "must be the upper-case ISO 4217 code of a current currency, such as USD or EUR"}}
	}
	return nil
}

func checkProbability(p *Probability) []apperr.FieldError {
	if p != nil && !p.Valid() {
		return []apperr.FieldError{{Field: "probability", Message: "must be a number from 0 to 1 with at most 4 decimal places"}}
	}
	return nil
}

// checkDate checks a "YYYY-MM-DD" date ("" is allowed only when clearing is).
func checkDate(d *string, clearable bool) []apperr.FieldError {
	if d == nil || (clearable && *d == "") {
		return nil
	}
	t, err := time.Parse(dateLayout, *d)
	if err != nil || t.Format(dateLayout) != *d || t.Year() < 1900 || t.Year() > 9999 {
		return []apperr.FieldError{{Field: "expectedCloseDate", Message: "must be a date YYYY-MM-DD"}}
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

func badParam(name, message string) error {
	return apperr.Errorf(apperr.BadRequest, "%s %s", name, message).WithFields(apperr.FieldError{Field: name, Message: message})
}

func checkFilter(f ListFilter) error {
	if err := f.Page.Check(); err != nil {
		return err
	}
	if f.Stage != "" && !f.Stage.Valid() {
		return badParam("stage", "must be a deal stage")
	}
	if _, ok := keysets[f.Sort]; !ok {
		return badParam("sort", "must be one of: createdAt, -createdAt, updatedAt, -updatedAt, dealValue, -dealValue")
	}
	if f.MinValue != nil && (*f.MinValue < 0 || *f.MinValue > MaxValue) {
		return badParam("minValue", fmt.Sprintf("must be an integer from 0 to %d", MaxValue))
	}
	return nil
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
