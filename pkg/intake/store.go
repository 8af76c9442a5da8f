package intake

// The store of intake_sources: each function runs its statement (queries.go) in the tenant
// transaction it is given; the two lookups of the public routes run outside one.

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// sourceRow is a row of intake_sources, secrets included. It never leaves the package: source()
// turns it into a Source, whose secrets are unexported.
type sourceRow struct {
	ID                      uuid.UUID             `gorm:"column:id"`
	OrgID                   uuid.UUID             `gorm:"column:org_id"`
	Kind                    string                `gorm:"column:kind"`
	Name                    string                `gorm:"column:name"`
	PublicToken             *string               `gorm:"column:public_token"`
	RedirectURL             *string               `gorm:"column:redirect_url"`
	AllowedOrigins          db.JSON[[]string]     `gorm:"column:allowed_origins"`
	FieldMapping            db.JSON[FieldMapping] `gorm:"column:field_mapping"`
	RateLimitPerMinute      int                   `gorm:"column:rate_limit_per_minute"`
	SigningSecret           *string               `gorm:"column:signing_secret"`
	PreviousSigningSecret   *string               `gorm:"column:previous_signing_secret"`
	PreviousSecretExpiresAt *time.Time            `gorm:"column:previous_secret_expires_at"`
	HasPreviousSecret       bool                  `gorm:"column:has_previous_secret"`
	CreatedAt               time.Time             `gorm:"column:created_at"`
	UpdatedAt               time.Time             `gorm:"column:updated_at"`
}

// source is the row as a Source: times in UTC, the previous secret's expiry shown only while it
// is still accepted, the secrets kept out of sight.
func (r sourceRow) source() Source {
	s := Source{
		ID: r.ID, OrgID: r.OrgID, Kind: Kind(r.Kind), Name: r.Name, PublicToken: r.PublicToken,
		RedirectURL: r.RedirectURL, AllowedOrigins: r.AllowedOrigins.V, FieldMapping: r.FieldMapping.V,
		RateLimitPerMinute: r.RateLimitPerMinute, HasPreviousSecret: r.HasPreviousSecret,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if s.AllowedOrigins == nil {
		s.AllowedOrigins = []string{}
	}
	if s.FieldMapping == nil {
		s.FieldMapping = FieldMapping{}
	}
	if r.HasPreviousSecret && r.PreviousSecretExpiresAt != nil {
		t := r.PreviousSecretExpiresAt.UTC()
		s.PreviousSecretExpiresAt = &t
	}
	if r.SigningSecret != nil && *r.SigningSecret != "" {
		s.secrets = append(s.secrets, Secret{Value: *r.SigningSecret})
	}
	if r.PreviousSigningSecret != nil && *r.PreviousSigningSecret != "" && r.PreviousSecretExpiresAt != nil {
		t := r.PreviousSecretExpiresAt.UTC()
		s.secrets = append(s.secrets, Secret{Value: *r.PreviousSigningSecret, ExpiresAt: &t})
	}
	return s
}

func notFound(id uuid.UUID) error {
	return apperr.Errorf(apperr.NotFound, "intake source %s not found", id)
}

// insertSource stores a new source with its checked settings and credentials.
func insertSource(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, k Kind, st sourceSettings, secret, token *string) (sourceRow, error) {
	out, _, err := db.Get[sourceRow](ctx, tx, insertSourceSQL, orgID, string(k), st.name, secret, token, st.redirectURL,
		db.JSONOf(st.allowedOrigins), db.JSONOf(st.fieldMapping), st.rateLimit)
	if err != nil {
		return sourceRow{}, fmt.Errorf("insert intake source: %w", err)
	}
	return out, nil
}

// getSource returns the org's live source id; forUpdate locks its row until the transaction
// ends, so that changes of one source serialise. A missing or deleted source is
// apperr.NotFound.
func getSource(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (sourceRow, error) {
	q := getSourceSQL
	if forUpdate {
		q = getSourceForUpdateSQL
	}
	return oneSource(ctx, tx, "get intake source", id, q, orgID, id)
}

// oneSource runs a statement of at most one source row; no row is apperr.NotFound for id.
func oneSource(ctx context.Context, tx *gorm.DB, what string, id uuid.UUID, q string, args ...any) (sourceRow, error) {
	out, ok, err := db.Get[sourceRow](ctx, tx, q, args...)
	if err != nil {
		return sourceRow{}, fmt.Errorf("%s: %w", what, err)
	}
	if !ok {
		return sourceRow{}, notFound(id)
	}
	return out, nil
}

// sourceKeyset is the order of List: newest first.
var sourceKeyset = page.Desc(
	page.Time("created_at", "t", func(s Source) time.Time { return s.CreatedAt }),
	page.UUID("id", "i", func(s Source) uuid.UUID { return s.ID }))

// listSources returns up to p.Limit+1 live sources of the org (of kind k when not ""), newest
// first, after the cursor.
func listSources(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, k Kind, p page.Request) ([]sourceRow, error) {
	args := db.Args{orgID}
	q := listSourcesHead
	if k != "" {
		q += ` AND kind = ` + args.Add(string(k))
	}
	tail, err := sourceKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	out, err := db.Select[sourceRow](ctx, tx, q+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list intake sources: %w", err)
	}
	return out, nil
}

// updateSettings writes the editable settings of the live source id.
func updateSettings(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, st sourceSettings) (sourceRow, error) {
	return oneSource(ctx, tx, "update intake source", id, updateSettingsSQL, orgID, id,
		st.name, st.redirectURL, db.JSONOf(st.allowedOrigins), db.JSONOf(st.fieldMapping), st.rateLimit)
}

// softDeleteSource marks the live source id deleted and forgets its signing secrets, which
// nothing may verify with any more. Its name is free again; its rows stay for the intake rows
// and leads that name it. A missing or deleted source is apperr.NotFound.
func softDeleteSource(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID) (sourceRow, error) {
	return oneSource(ctx, tx, "delete intake source", id, softDeleteSourceSQL, orgID, id)
}

// rotateSecret makes secret the live webhook source's signing secret. With a grace period the
// secret it replaces stays accepted until now() + grace on the database clock (replacing any
// earlier previous secret); with none it is dropped at once.
func rotateSecret(ctx context.Context, tx *gorm.DB, orgID, id uuid.UUID, secret string, grace time.Duration) (sourceRow, error) {
	return oneSource(ctx, tx, "rotate intake source secret", id, rotateSecretSQL, orgID, id, int64(grace/time.Second), secret)
}

// webhookSourceOrg asks intake_webhook_source_org (migration 000006) for the org of the live
// webhook source id. It needs no tenant transaction.
func webhookSourceOrg(ctx context.Context, d *db.DB, id uuid.UUID) (uuid.UUID, bool, error) {
	org, _, err := db.Get[uuid.NullUUID](ctx, d.Gorm, webhookSourceOrgSQL, id)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("look up webhook source: %w", err)
	}
	return org.UUID, org.Valid, nil
}

// formSourceIDs asks intake_form_source (migration 000006) for the org and id of the live form
// source with token. It needs no tenant transaction.
func formSourceIDs(ctx context.Context, d *db.DB, token string) (orgID, id uuid.UUID, found bool, err error) {
	type row struct {
		OrgID uuid.UUID `gorm:"column:org_id"`
		ID    uuid.UUID `gorm:"column:id"`
	}
	rows, err := db.Select[row](ctx, d.Gorm, formSourceSQL, token)
	if err != nil {
		return uuid.Nil, uuid.Nil, false, fmt.Errorf("look up form source: %w", err)
	}
	if len(rows) != 1 {
		return uuid.Nil, uuid.Nil, false, nil
	}
	return rows[0].OrgID, rows[0].ID, true, nil
}
