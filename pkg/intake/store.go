package intake

// The gorm queries on intake_sources and lead_intake_raw. Each takes the transaction it is given (a tenant
// transaction of db.Tx) and filters org_id itself, under row-level security as a second guard;
// the two lookups of the public routes go through the SECURITY DEFINER functions of migration
// 000006 instead, since they run before the org is known. Statements are plain parameterised SQL
// over explicit column lists.

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// sourceColumns are the columns of a sourceRow. allowed_origins is read as JSON (the row type
// scans it from there, as it writes it: see originsSQL); has_previous_secret is judged on the
// database clock.
const sourceColumns = `id, org_id, kind, name, public_token, redirect_url,
	to_jsonb(allowed_origins) AS allowed_origins, field_mapping, rate_limit_per_minute,
	signing_secret, previous_signing_secret, previous_secret_expires_at,
	(previous_signing_secret IS NOT NULL AND previous_secret_expires_at > now()) AS has_previous_secret,
	created_at, updated_at`

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

// originsSQL is the text[] value of allowed_origins from a JSON array bound as jsonb, so that
// the list goes both ways as JSON and needs no driver array support behind gorm.
const originsSQL = `ARRAY(SELECT jsonb_array_elements_text(?::jsonb))`

func notFound(id uuid.UUID) error {
	return apperr.Errorf(apperr.NotFound, "intake source %s not found", id)
}

// insertSource stores a new source with its checked settings and credentials.
func insertSource(tx *gorm.DB, orgID uuid.UUID, k Kind, st sourceSettings, secret, token *string) (sourceRow, error) {
	var out sourceRow
	err := tx.Raw(`INSERT INTO intake_sources (org_id, kind, name, signing_secret, public_token, redirect_url,
	allowed_origins, field_mapping, rate_limit_per_minute)
VALUES (?, ?, ?, ?, ?, ?, `+originsSQL+`, ?::jsonb, ?)
RETURNING `+sourceColumns,
		orgID, string(k), st.name, secret, token, st.redirectURL,
		db.JSONOf(st.allowedOrigins), db.JSONOf(st.fieldMapping), st.rateLimit).Scan(&out).Error
	if err != nil {
		return sourceRow{}, fmt.Errorf("insert intake source: %w", err)
	}
	return out, nil
}

// getSource returns the org's live source id; forUpdate locks its row until the transaction
// ends, so that changes of one source serialise. A missing or deleted source is
// apperr.NotFound.
func getSource(tx *gorm.DB, orgID, id uuid.UUID, forUpdate bool) (sourceRow, error) {
	q := `SELECT ` + sourceColumns + ` FROM intake_sources WHERE org_id = ? AND id = ? AND deleted_at IS NULL`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var out sourceRow
	res := tx.Raw(q, orgID, id).Scan(&out)
	if res.Error != nil {
		return sourceRow{}, fmt.Errorf("get intake source: %w", res.Error)
	}
	if res.RowsAffected == 0 {
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
func listSources(tx *gorm.DB, orgID uuid.UUID, k Kind, p page.Request) ([]sourceRow, error) {
	args := db.Marks{orgID}
	q := `SELECT ` + sourceColumns + ` FROM intake_sources WHERE org_id = ? AND deleted_at IS NULL`
	if k != "" {
		q += ` AND kind = ` + args.Add(string(k))
	}
	tail, err := sourceKeyset.Tail(p.Cursor, p.Limit, &args)
	if err != nil {
		return nil, err
	}
	q += tail
	var out []sourceRow
	if err := tx.Raw(q, args...).Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("list intake sources: %w", err)
	}
	return out, nil
}

// updateSettings writes the editable settings of the live source id.
func updateSettings(tx *gorm.DB, orgID, id uuid.UUID, st sourceSettings) (sourceRow, error) {
	var out sourceRow
	res := tx.Raw(`UPDATE intake_sources SET name = ?, redirect_url = ?, allowed_origins = `+originsSQL+`,
	field_mapping = ?::jsonb, rate_limit_per_minute = ?
WHERE org_id = ? AND id = ? AND deleted_at IS NULL
RETURNING `+sourceColumns,
		st.name, st.redirectURL, db.JSONOf(st.allowedOrigins), db.JSONOf(st.fieldMapping), st.rateLimit, orgID, id).Scan(&out)
	if res.Error != nil {
		return sourceRow{}, fmt.Errorf("update intake source: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return sourceRow{}, notFound(id)
	}
	return out, nil
}

// softDeleteSource marks the live source id deleted and forgets its signing secrets, which
// nothing may verify with any more. Its name is free again; its rows stay for the intake rows
// and leads that name it. A missing or deleted source is apperr.NotFound.
func softDeleteSource(tx *gorm.DB, orgID, id uuid.UUID) (sourceRow, error) {
	var out sourceRow
	res := tx.Raw(`UPDATE intake_sources SET deleted_at = now(), signing_secret = NULL, previous_signing_secret = NULL,
	previous_secret_expires_at = NULL
WHERE org_id = ? AND id = ? AND deleted_at IS NULL
RETURNING `+sourceColumns, orgID, id).Scan(&out)
	if res.Error != nil {
		return sourceRow{}, fmt.Errorf("delete intake source: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return sourceRow{}, notFound(id)
	}
	return out, nil
}

// rotateSecret makes secret the live webhook source's signing secret. With a grace period the
// secret it replaces stays accepted until now() + grace on the database clock (replacing any
// earlier previous secret); with none it is dropped at once.
func rotateSecret(tx *gorm.DB, orgID, id uuid.UUID, secret string, grace time.Duration) (sourceRow, error) {
	seconds := int64(grace / time.Second)
	var out sourceRow
	res := tx.Raw(`UPDATE intake_sources SET
	previous_signing_secret = CASE WHEN ?::bigint > 0 THEN signing_secret END,
	previous_secret_expires_at = CASE WHEN ?::bigint > 0 THEN now() + make_interval(secs => ?::bigint) END,
	signing_secret = ?
WHERE org_id = ? AND id = ? AND deleted_at IS NULL AND kind = 'webhook'
RETURNING `+sourceColumns, seconds, seconds, seconds, secret, orgID, id).Scan(&out)
	if res.Error != nil {
		return sourceRow{}, fmt.Errorf("rotate intake source secret: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return sourceRow{}, notFound(id)
	}
	return out, nil
}

// webhookSourceOrg asks intake_webhook_source_org (migration 000006) for the org of the live
// webhook source id. It needs no tenant transaction.
func webhookSourceOrg(g *gorm.DB, id uuid.UUID) (uuid.UUID, bool, error) {
	var org *uuid.UUID
	if err := g.Raw(`SELECT intake_webhook_source_org(?)`, id).Row().Scan(&org); err != nil {
		return uuid.Nil, false, fmt.Errorf("look up webhook source: %w", err)
	}
	if org == nil {
		return uuid.Nil, false, nil
	}
	return *org, true, nil
}

// formSourceIDs asks intake_form_source (migration 000006) for the org and id of the live form
// source with token. It needs no tenant transaction.
func formSourceIDs(g *gorm.DB, token string) (orgID, id uuid.UUID, found bool, err error) {
	var rows []struct {
		OrgID uuid.UUID `gorm:"column:org_id"`
		ID    uuid.UUID `gorm:"column:id"`
	}
	if err := g.Raw(`SELECT org_id, id FROM intake_form_source(?)`, token).Scan(&rows).Error; err != nil {
		return uuid.Nil, uuid.Nil, false, fmt.Errorf("look up form source: %w", err)
	}
	if len(rows) != 1 {
		return uuid.Nil, uuid.Nil, false, nil
	}
	return rows[0].OrgID, rows[0].ID, true, nil
}
