package contract

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/deal"
	"example.com/crm/pkg/document"
	"example.com/crm/pkg/invoice"
)

// GenerateActor is the actor of what Generate writes.
const GenerateActor = "job:" + KindGenerateContract

// Won is a won deal to draw up a contract for: the deal and the deal.won event that reported it.
type Won = deal.Won

// GenerateResult is what Generate did for one Won.
type GenerateResult struct {
	// Contract is the contract generated (zero when none was).
	Contract Contract
	// Skipped says why no contract was generated: the deal has one already (a repeat), is gone,
	// or is not won. Retrying would change nothing, so these are outcomes, not errors.
	Skipped string
}

// Generate draws up the contract of each won deal inside the caller's tenant transaction tx (the
// generate_contract jobs' batch transaction) and returns the result of each in order. Each deal
// gets one contract (unique per org and deal: a deal with one already is skipped): the org's
// template filled with {{client.name}} and {{client.company}} (the deal's lead), {{deal.title}},
// {{deal.value}} (document.FormatAmount of the deal's value in its currency), {{date}} (today,
// UTC) and {{seller.name}} (the seller's name of the org's invoicing settings, empty when unset),
// rendered with document.Contract and stored with its hex SHA-256, its causation the deal.won
// event; each emits contract.generated carrying that event's id. The deals are locked shared
// (deal.LockShared), so the invoice of the same win (deal.LockAlone) is made beside it, not
// after it.
func (s *Service) Generate(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, wons []Won) ([]GenerateResult, error) {
	out := make([]GenerateResult, len(wons))
	deals, todo, err := deal.LockWon(ctx, tx, orgID, wons, deal.LockShared, contractedDealsSQL, "deal has a contract already", func(i int, why string) { out[i].Skipped = why })
	if err != nil || len(todo) == 0 {
		return out, err
	}
	tpl, err := ContractTemplate.Get(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	invoicing, err := invoice.Invoicing.Get(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	seller := invoicing.Seller.Name
	at := s.now().UTC().Truncate(time.Microsecond)
	n := len(todo)
	var (
		conIDs, dealIDs = make([]uuid.UUID, n), make([]uuid.UUID, n)
		docs            = make([][]byte, n)
		shas            = make([]string, n)
		causes          = make([]int64, n)
		contracts       = make([]Contract, n)
	)
	for j, i := range todo {
		d := deals[i]
		value, err := document.FormatAmount(d.DealValue, d.Currency)
		if err != nil {
			return nil, fmt.Errorf("format the value of deal %s: %w", d.ID, err)
		}
		doc, err := document.Contract(document.ContractInput{
			Title: tpl.Title, Body: tpl.Body, Date: at,
			Values: map[string]string{
				document.PlaceholderClientName:    d.Name,
				document.PlaceholderClientCompany: d.Company,
				document.PlaceholderDealTitle:     d.Title,
				document.PlaceholderDealValue:     value,
				document.PlaceholderSellerName:    seller,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("render the contract of deal %s: %w", d.ID, err)
		}
		sum := sha256.Sum256(doc)
		sha := hex.EncodeToString(sum[:])
		cause := wons[i].EventID
		contracts[j] = Contract{
			ID: uuid.New(), DealID: d.ID, LeadID: d.LeadID, Status: StatusGenerated, DocumentSHA256: &sha,
			GeneratedAt: at, CausationEventID: &cause,
		}
		conIDs[j], dealIDs[j], docs[j], shas[j], causes[j] = contracts[j].ID, d.ID, doc, sha, cause
	}
	if _, err := db.Exec(ctx, tx, insertContractsSQL, orgID, db.UUIDs(conIDs), db.UUIDs(dealIDs), docs, shas, causes, at); err != nil {
		return nil, fmt.Errorf("insert %d contracts: %w", n, err)
	}
	for j, i := range todo {
		c := contracts[j]
		if err := s.emit(ctx, tx, orgID, GenerateActor, EventGenerated, c.ID, "contract.generated:"+c.ID.String(),
			GeneratedPayload{Contract: c, CausationEventID: wons[i].EventID}); err != nil {
			return nil, fmt.Errorf("emit contract.generated: %w", err)
		}
		out[i].Contract = c
	}
	return out, nil
}
