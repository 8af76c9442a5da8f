package intake

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
)

// maxTokenLen bounds a form token looked up from a public route; real ones are 36 characters.
const maxTokenLen = 128

// sourceNotFound is the answer of the public lookups for any source that cannot be used: it
// names neither the id nor the token, and says nothing of why.
func sourceNotFound() error { return apperr.Errorf(apperr.NotFound, "intake source not found") }

// SourceForWebhook returns the live webhook source sourceID with its secrets (Source.Secrets),
// for the gateway's /intake/webhook/{sourceId}. d is the gateway's handle (crm_app): the org is
// found through the SECURITY DEFINER function intake_webhook_source_org (migration 000006),
// outside any tenant transaction, then the source is read in a tenant transaction of that org,
// under row-level security. A missing, deleted or non-webhook source, or one of several with
// the id, is apperr.NotFound.
func SourceForWebhook(ctx context.Context, d *db.DB, sourceID uuid.UUID) (Source, error) {
	if sourceID == uuid.Nil {
		return Source{}, sourceNotFound()
	}
	orgID, ok, err := webhookSourceOrg(ctx, d, sourceID)
	if err != nil {
		return Source{}, err
	}
	if !ok {
		return Source{}, sourceNotFound()
	}
	return loadForGateway(ctx, d, orgID, sourceID, KindWebhook)
}

// SourceForForm returns the live form source whose public token is token, for the gateway's
// /intake/form/{formToken}, found as SourceForWebhook finds a webhook source (through
// intake_form_source). A missing, deleted or non-form source is apperr.NotFound.
func SourceForForm(ctx context.Context, d *db.DB, token string) (Source, error) {
	if token == "" || len(token) > maxTokenLen {
		return Source{}, sourceNotFound()
	}
	orgID, id, ok, err := formSourceIDs(ctx, d, token)
	if err != nil {
		return Source{}, err
	}
	if !ok {
		return Source{}, sourceNotFound()
	}
	return loadForGateway(ctx, d, orgID, id, KindForm)
}

// SourceForCSV returns the live csv source sourceID of orgID, for a CSV upload that names its
// source (POST /intake/csv authenticates with an API key, so the org is known and no lookup
// function is needed). A missing, deleted or non-csv source, or one of another org, is
// apperr.NotFound.
func SourceForCSV(ctx context.Context, d *db.DB, orgID, sourceID uuid.UUID) (Source, error) {
	if orgID == uuid.Nil || sourceID == uuid.Nil {
		return Source{}, sourceNotFound()
	}
	return loadForGateway(ctx, d, orgID, sourceID, KindCSV)
}

// loadForGateway reads the live source id of kind k in a tenant transaction of orgID. The
// source may have been deleted since the lookup: then it is apperr.NotFound too.
func loadForGateway(ctx context.Context, d *db.DB, orgID, id uuid.UUID, k Kind) (Source, error) {
	var out Source
	err := d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := getSource(ctx, tx, orgID, id, false)
		if apperr.Is(err, apperr.NotFound) || (err == nil && Kind(row.Kind) != k) {
			return sourceNotFound()
		}
		if err != nil {
			return err
		}
		out = row.source()
		return nil
	})
	if err != nil {
		return Source{}, fmt.Errorf("load intake source: %w", err)
	}
	return out, nil
}
