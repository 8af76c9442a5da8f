package intake

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/page"
)

// EntityType is the events.entity_type of every event about an intake source.
const EntityType = "intake_source"

// The payloads of the events the source use cases emit. None holds a secret. Idempotency keys:
//
//	intake_source.created        "intake_source.created:<source id>"
//	intake_source.updated        "intake_source.updated:<source id>:<random>"
//	intake_source.deleted        "intake_source.deleted:<source id>"
//	intake_source.secret_rotated "intake_source.secret_rotated:<source id>:<random>"
//
// A source has no version counter, so the repeatable changes carry a random part: each call is
// one change, and a retried transaction rolls its event back with it.

// CreatedPayload is the payload of intake_source.created: the source as created.
type CreatedPayload struct {
	Source Source `json:"source"`
}

// UpdatedPayload is the payload of intake_source.updated: the settings that changed, by their
// API names.
type UpdatedPayload struct {
	Changes map[string]Change `json:"changes"`
}

// Change is one setting's old and new value.
type Change struct {
	From any `json:"from"`
	To   any `json:"to"`
}

// DeletedPayload is the payload of intake_source.deleted.
type DeletedPayload struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

// SecretRotatedPayload is the payload of intake_source.secret_rotated: until when the replaced
// secret is still accepted (null: not at all).
type SecretRotatedPayload struct {
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
}

// Service holds the intake source use cases of the API. Each runs in one tenant transaction of
// the org it is given and emits its event there, with actor as the event's actor.
type Service struct {
	db   *db.DB
	emit events.EmitFunc
}

// NewService returns the use cases on d, emitting through emitter.
func NewService(d *db.DB, emitter *events.Emitter) *Service {
	if d == nil || emitter == nil {
		panic("intake.NewService: nil dependency")
	}
	return &Service{db: d, emit: emitter.About(EntityType)}
}

func nameTaken(name string) error {
	return apperr.Errorf(apperr.Conflict, "a live intake source named %q already exists", name).
		WithFields(apperr.FieldError{Field: "name", Message: "is already the name of another intake source"})
}

// Create stores a new source and emits intake_source.created. A webhook source gets a signing
// secret and a form source a public token, both random; the secret is in the answer this once
// and never again. Settings that break a rule are apperr.Invalid (field errors with API names);
// a name that a live source of the org has is apperr.Conflict (the partial unique index
// intake_sources_org_id_name_key decides).
func (s *Service) Create(ctx context.Context, orgID uuid.UUID, actor string, in NewSource) (Created, error) {
	if in.RateLimitPerMinute == 0 {
		in.RateLimitPerMinute = DefaultRateLimit
	}
	var fields []apperr.FieldError
	if !in.Kind.Valid() {
		fields = append(fields, apperr.FieldError{Field: "kind", Message: "must be one of: webhook, form, csv"})
	}
	st, more := checkSettings(in.Kind, sourceSettings{
		name: in.Name, redirectURL: &in.RedirectURL, allowedOrigins: in.AllowedOrigins,
		fieldMapping: in.FieldMapping, rateLimit: in.RateLimitPerMinute,
	})
	if fields = append(fields, more...); len(fields) > 0 {
		return Created{}, invalid(fields)
	}
	var secret, token *string
	switch in.Kind {
	case KindWebhook:
		v, err := newSecret()
		if err != nil {
			return Created{}, err
		}
		secret = &v
	case KindForm:
		v, err := newPublicToken()
		if err != nil {
			return Created{}, err
		}
		token = &v
	}
	var out Created
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := insertSource(ctx, tx, orgID, in.Kind, st, secret, token)
		if db.IsUniqueViolation(err) {
			return nameTaken(st.name)
		}
		if err != nil {
			return err
		}
		out.Source = row.source()
		return s.emit(ctx, tx, orgID, actor, EventSourceCreated, row.ID,
			"intake_source.created:"+row.ID.String(), CreatedPayload{Source: out.Source})
	})
	if err != nil {
		return Created{}, fmt.Errorf("create intake source: %w", err)
	}
	if secret != nil {
		out.SigningSecret = *secret
	}
	return out, nil
}

// Get returns the org's live source id; a missing, deleted or other org's source is
// apperr.NotFound.
func (s *Service) Get(ctx context.Context, orgID, id uuid.UUID) (Source, error) {
	var out Source
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := getSource(ctx, tx, orgID, id, false)
		out = row.source()
		return err
	})
	if err != nil {
		return Source{}, fmt.Errorf("get intake source: %w", err)
	}
	return out, nil
}

// List returns a page of the org's live sources, newest first (by createdAt, then id), of kind
// k when k is not "". A bad kind, limit or cursor is apperr.BadRequest.
func (s *Service) List(ctx context.Context, orgID uuid.UUID, k Kind, p page.Request) (page.Page[Source], error) {
	if err := p.Check(); err != nil {
		return page.Page[Source]{}, err
	}
	if k != "" && !k.Valid() {
		return page.Page[Source]{}, apperr.Errorf(apperr.BadRequest, "kind must be one of webhook, form, csv").
			WithFields(apperr.FieldError{Field: "kind", Message: "must be one of: webhook, form, csv"})
	}
	var out page.Page[Source]
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		rows, err := listSources(ctx, tx, orgID, k, p)
		if err != nil {
			return err
		}
		sources := make([]Source, len(rows))
		for i, r := range rows {
			sources[i] = r.source()
		}
		out = sourceKeyset.Page(sources, p.Limit)
		return nil
	})
	if err != nil {
		return page.Page[Source]{}, fmt.Errorf("list intake sources: %w", err)
	}
	return out, nil
}

// Update applies p to the live source id (see Patch) and emits intake_source.updated with the
// changed settings; a patch that changes nothing writes nothing and returns the source as it is.
// The row is locked for the change. The settings are checked as Create checks them, against the
// source's kind, which cannot change (apperr.Invalid); a name another live source has is
// apperr.Conflict.
func (s *Service) Update(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, p Patch) (Source, error) {
	var out Source
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getSource(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if p.Kind != nil && *p.Kind != Kind(cur.Kind) {
			return invalid([]apperr.FieldError{{Field: "kind", Message: "cannot be changed; create a new source instead"}})
		}
		next := sourceSettings{
			name: cur.Name, redirectURL: cur.RedirectURL, allowedOrigins: cur.AllowedOrigins.V,
			fieldMapping: cur.FieldMapping.V, rateLimit: cur.RateLimitPerMinute,
		}
		if p.Name != nil {
			next.name = *p.Name
		}
		if p.RedirectURL != nil {
			next.redirectURL = p.RedirectURL
		}
		if p.AllowedOrigins != nil {
			next.allowedOrigins = *p.AllowedOrigins
		}
		if p.FieldMapping != nil {
			next.fieldMapping = p.FieldMapping
		}
		if p.RateLimitPerMinute != nil {
			next.rateLimit = *p.RateLimitPerMinute
		}
		next, fields := checkSettings(Kind(cur.Kind), next)
		if len(fields) > 0 {
			return invalid(fields)
		}
		changes := diffSettings(cur, next)
		if len(changes) == 0 {
			out = cur.source()
			return nil
		}
		row, err := updateSettings(ctx, tx, orgID, id, next)
		if db.IsUniqueViolation(err) {
			return nameTaken(next.name)
		}
		if err != nil {
			return err
		}
		out = row.source()
		return s.emit(ctx, tx, orgID, actor, EventSourceUpdated, id,
			"intake_source.updated:"+id.String()+":"+uuid.NewString(), UpdatedPayload{Changes: changes})
	})
	if err != nil {
		return Source{}, fmt.Errorf("update intake source: %w", err)
	}
	return out, nil
}

// diffSettings returns the settings that differ between the stored row and next, by API name.
func diffSettings(cur sourceRow, next sourceSettings) map[string]Change {
	out := map[string]Change{}
	if cur.Name != next.name {
		out["name"] = Change{From: cur.Name, To: next.name}
	}
	if str(cur.RedirectURL) != str(next.redirectURL) {
		out["redirectUrl"] = Change{From: cur.RedirectURL, To: next.redirectURL}
	}
	origins := cur.AllowedOrigins.V
	if origins == nil {
		origins = []string{}
	}
	if !slices.Equal(origins, next.allowedOrigins) {
		out["allowedOrigins"] = Change{From: origins, To: next.allowedOrigins}
	}
	if !mapsEqual(cur.FieldMapping.V, next.fieldMapping) {
		out["fieldMapping"] = Change{From: cur.FieldMapping.V, To: next.fieldMapping}
	}
	if cur.RateLimitPerMinute != next.rateLimit {
		out["rateLimitPerMinute"] = Change{From: cur.RateLimitPerMinute, To: next.rateLimit}
	}
	return out
}

func mapsEqual(a, b FieldMapping) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Delete soft-deletes the live source id, forgets its signing secrets and emits
// intake_source.deleted. From then on the gateway finds it no more (its webhook and form routes
// answer 404) and its name is free. A missing or already deleted source is apperr.NotFound.
func (s *Service) Delete(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID) error {
	err := s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		row, err := softDeleteSource(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, orgID, actor, EventSourceDeleted, id, "intake_source.deleted:"+id.String(),
			DeletedPayload{Kind: Kind(row.Kind), Name: row.Name})
	})
	if err != nil {
		return fmt.Errorf("delete intake source: %w", err)
	}
	return nil
}

// RotateSecret gives the live webhook source id a new signing secret and emits
// intake_source.secret_rotated. The secret it replaces stays accepted for grace (nil is
// DefaultGracePeriod; 0 drops it at once; at most MaxGracePeriod, whole seconds), measured on
// the database clock; a previous secret still in its grace period from an earlier rotation is
// dropped, so at most two secrets are ever valid. The answer carries the new secret, shown this
// once. A source of another kind is apperr.Conflict (only webhooks sign); a bad grace period is
// apperr.Invalid on "graceSeconds".
func (s *Service) RotateSecret(ctx context.Context, orgID uuid.UUID, actor string, id uuid.UUID, grace *time.Duration) (Created, error) {
	g := DefaultGracePeriod
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > MaxGracePeriod || g%time.Second != 0 {
		return Created{}, invalid([]apperr.FieldError{{Field: "graceSeconds",
			Message: fmt.Sprintf("must be an integer from 0 to %d", int64(MaxGracePeriod/time.Second))}})
	}
	secret, err := newSecret()
	if err != nil {
		return Created{}, err
	}
	var out Created
	err = s.db.Tx(ctx, orgID, func(tx *gorm.DB) error {
		cur, err := getSource(ctx, tx, orgID, id, true)
		if err != nil {
			return err
		}
		if Kind(cur.Kind) != KindWebhook {
			return apperr.Errorf(apperr.Conflict, "intake source %s is a %s source; only webhook sources have a signing secret", id, cur.Kind)
		}
		row, err := rotateSecret(ctx, tx, orgID, id, secret, g)
		if err != nil {
			return err
		}
		out.Source = row.source()
		return s.emit(ctx, tx, orgID, actor, EventSourceSecretRotated, id,
			"intake_source.secret_rotated:"+id.String()+":"+uuid.NewString(),
			SecretRotatedPayload{PreviousSecretExpiresAt: out.PreviousSecretExpiresAt})
	})
	if err != nil {
		return Created{}, fmt.Errorf("rotate intake source secret: %w", err)
	}
	out.SigningSecret = secret
	return out, nil
}
