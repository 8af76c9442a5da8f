package contract

// The reads and writes of the contracts (their statements are in queries.go), in the transaction
// they are given.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/document"
	"example.com/crm/pkg/org"
	"example.com/crm/pkg/page"
)

// contractRow is a row of contractColumns.
type contractRow struct {
	ID               uuid.UUID `gorm:"column:id"`
	DealID           uuid.UUID `gorm:"column:deal_id"`
	LeadID           uuid.UUID `gorm:"column:lead_id"`
	Status           string    `gorm:"column:status"`
	DocumentSHA256   *string   `gorm:"column:document_sha256"`
	GeneratedAt      time.Time `gorm:"column:generated_at"`
	CausationEventID *int64    `gorm:"column:causation_event_id"`
}

func (r contractRow) contract() Contract {
	return Contract{
		ID: r.ID, DealID: r.DealID, LeadID: r.LeadID, Status: Status(r.Status), DocumentSHA256: r.DocumentSHA256,
		GeneratedAt: r.GeneratedAt.UTC(), CausationEventID: r.CausationEventID,
	}
}

func selectContracts(ctx context.Context, tx *gorm.DB, q string, args ...any) ([]Contract, error) {
	rows, err := db.Select[contractRow](ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	out := make([]Contract, len(rows))
	for i, r := range rows {
		out[i] = r.contract()
	}
	return out, nil
}

// getContract reads the org's contract id (locked when lock is true); a missing one is NotFound.
func getContract(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, lock bool) (Contract, error) {
	q := getContractSQL
	if lock {
		q = lockContractSQL
	}
	rows, err := selectContracts(ctx, tx, q, orgID, id)
	if err != nil {
		return Contract{}, fmt.Errorf("read contract: %w", err)
	}
	if len(rows) == 0 {
		return Contract{}, notFound(id)
	}
	return rows[0], nil
}

// ContractTemplate is the org's contract template, "contract-template" in org_settings:
// DefaultTemplate until the org saves its own. A template that document.CheckTemplate refuses (an
// unknown or unclosed placeholder, an empty or too long title or body) is its apperr.Invalid and
// is not stored: a stored template always renders.
var ContractTemplate = org.Setting[Template]{Name: "contract-template", Default: DefaultTemplate, Check: checkTemplate}

// checkTemplate is ContractTemplate's check: the title trimmed, then document.CheckTemplate.
func checkTemplate(t Template) (Template, error) {
	t.Title = strings.TrimSpace(t.Title)
	return t, document.CheckTemplate(t.Title, t.Body)
}

// DefaultTemplate is the template of an org that has saved none: document.DefaultContractTemplate.
func DefaultTemplate() Template {
	return Template{Title: document.DefaultContractTemplate.Title, Body: document.DefaultContractTemplate.Body}
}

// keyset is the order of List: newest generated first, ties by id.
var keyset = page.Desc(
	page.Time("c.generated_at", "t", func(v Contract) time.Time { return v.GeneratedAt }),
	page.UUID("c.id", "i", func(v Contract) uuid.UUID { return v.ID }),
)
