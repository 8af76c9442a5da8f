package org

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/apperr"
	"example.com/crm/pkg/db"
	"example.com/crm/pkg/events"
)

// ICP is an org's ideal customer profile (orgs.icp), the input of lead qualification: the
// built-in scorer and the AI prompt read it through GetICP. Every list is optional; an empty ICP
// ({}) means "no preference" and matches every lead on that criterion. Lists compare
// case-insensitively; Normalize trims, lower-cases and de-duplicates them.
//
// The validate tags are the API's rules (PUT /settings/icp); Validate checks the same limits for
// callers outside the API.
type ICP struct {
	// Industries the org sells to ("saas", "fintech"), matched against the lead's company
	// industry when enrichment knows it and against company name/notes keywords otherwise.
	Industries []string `json:"industries" validate:"max=50,dive,min=1,max=100,nocontrol"`
	// MinEmployees and MaxEmployees bound the company size (inclusive); null is unbounded.
	MinEmployees *int `json:"minEmployees" validate:"omitnil,min=1,max=10000000"`
	MaxEmployees *int `json:"maxEmployees" validate:"omitnil,min=1,max=10000000,gtefield=MinEmployees"`
	// Titles are words or phrases of the buyer's job title ("head of sales", "cto").
	Titles []string `json:"titles" validate:"max=50,dive,min=1,max=100,nocontrol"`
	// Seniorities are the buyer's seniority levels (see Seniorities for the allowed values).
	Seniorities []string `json:"seniorities" validate:"max=10,dive,oneof=owner founder c_level vp head director manager senior entry"`
	// Countries are ISO 3166-1 alpha-2 codes ("DE", "US"), stored upper-case.
	Countries []string `json:"countries" validate:"max=250,dive,len=2,alpha"`
	// Keywords are words whose presence in the lead (company, title, notes) counts as a fit.
	Keywords []string `json:"keywords" validate:"max=100,dive,min=1,max=100,nocontrol"`
	// ExcludedDomains are company domains ("competitor.com") that never match the ICP.
	ExcludedDomains []string `json:"excludedDomains" validate:"max=500,dive,fqdn,max=253"`
}

// EntityType is the events.entity_type of events about an org.
const EntityType = "org"

// EventICPUpdated is the event of a changed ICP (PUT /settings/icp); its payload is
// ICPUpdatedPayload and its idempotency key "org.icp_updated:<org id>:<transaction id>".
const EventICPUpdated = "org.icp_updated"

// ICPUpdatedPayload is the payload of org.icp_updated: the ICP before and after the change.
type ICPUpdatedPayload struct {
	Previous ICP `json:"previous"`
	ICP      ICP `json:"icp"`
}

// Seniorities are the allowed values of ICP.Seniorities, from most to least senior.
var Seniorities = []string{"owner", "founder", "c_level", "vp", "head", "director", "manager", "senior", "entry"}

// Limits of an ICP, the same as its validate tags.
const (
	maxICPListItem = 100
	maxDomainLen   = 253
	maxEmployees   = 10_000_000
)

// Normalize returns the ICP with every list trimmed, lower-cased (countries upper-cased), empty
// items dropped, duplicates removed and nil lists made empty, so that it serialises as arrays.
func (p ICP) Normalize() ICP {
	out := p
	out.Industries = normList(p.Industries, strings.ToLower)
	out.Titles = normList(p.Titles, strings.ToLower)
	out.Seniorities = normList(p.Seniorities, strings.ToLower)
	out.Countries = normList(p.Countries, strings.ToUpper)
	out.Keywords = normList(p.Keywords, strings.ToLower)
	out.ExcludedDomains = normList(p.ExcludedDomains, func(s string) string {
		return strings.TrimSuffix(strings.ToLower(s), ".")
	})
	return out
}

func normList(in []string, caseFn func(string) string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = caseFn(strings.TrimSpace(s))
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks the ICP's limits (the same as its validate tags) and returns apperr.Invalid
// naming the first field that breaks one.
func (p ICP) Validate() error {
	lists := []struct {
		name  string
		items []string
		max   int
	}{
		{"industries", p.Industries, 50}, {"titles", p.Titles, 50}, {"seniorities", p.Seniorities, 10},
		{"countries", p.Countries, 250}, {"keywords", p.Keywords, 100}, {"excludedDomains", p.ExcludedDomains, 500},
	}
	for _, l := range lists {
		if len(l.items) > l.max {
			return invalidICP(l.name, fmt.Sprintf("must have at most %d items", l.max))
		}
		limit := maxICPListItem
		if l.name == "excludedDomains" {
			limit = maxDomainLen
		}
		for i, s := range l.items {
			if s == "" || utf8.RuneCountInString(s) > limit {
				return invalidICP(fmt.Sprintf("%s[%d]", l.name, i), fmt.Sprintf("must be 1..%d characters", limit))
			}
		}
	}
	for i, s := range p.Seniorities {
		if !slices.Contains(Seniorities, strings.ToLower(s)) {
			return invalidICP(fmt.Sprintf("seniorities[%d]", i), "must be one of "+strings.Join(Seniorities, " "))
		}
	}
	for i, s := range p.Countries {
		if len(s) != 2 {
			return invalidICP(fmt.Sprintf("countries[%d]", i), "must be an ISO 3166-1 alpha-2 code")
		}
	}
	for _, b := range []struct {
		name string
		v    *int
	}{{"minEmployees", p.MinEmployees}, {"maxEmployees", p.MaxEmployees}} {
		if b.v != nil && (*b.v < 1 || *b.v > maxEmployees) {
			return invalidICP(b.name, "must be 1..10000000")
		}
	}
	if p.MinEmployees != nil && p.MaxEmployees != nil && *p.MaxEmployees < *p.MinEmployees {
		return invalidICP("maxEmployees", "must be at least minEmployees")
	}
	return nil
}

func invalidICP(field, msg string) error {
	return apperr.Errorf(apperr.Invalid, "icp is invalid").WithFields(apperr.FieldError{Field: field, Message: msg})
}

// GetICP reads the ICP of orgID in a read-only tenant transaction. An org that never set one
// gets the empty, normalised ICP; an unknown org (or one hidden by row-level security) is
// apperr.NotFound. Keys of the stored JSON that ICP does not know are ignored.
func GetICP(ctx context.Context, d *db.DB, orgID uuid.UUID) (ICP, error) {
	var p ICP
	err := d.Read(ctx, orgID, func(b *db.Batch) { QueueGetICP(b, orgID, &p) })
	return p, err
}

// QueueGetICP queues the read of orgID's ICP into out on a tenant read (db.DB.Read), for
// callers that read it in the same round trip as other rows. An unknown org fails the batch
// with apperr.NotFound, as GetICP does.
func QueueGetICP(b *db.Batch, orgID uuid.UUID, out *ICP) {
	b.Row(func(r db.Row) error {
		var raw []byte
		var found bool
		if err := r.Scan(&raw, &found); err != nil {
			return fmt.Errorf("read icp: %w", err)
		}
		if !found {
			return orgNotFound()
		}
		p, err := DecodeICP(orgID, raw)
		*out = p
		return err
	}, getICPSQL, db.UUID(orgID))
}

func orgNotFound() error { return apperr.Errorf(apperr.NotFound, "org not found") }

// DecodeICP decodes orgID's stored ICP, the orgs.icp column (NULL or {} is the empty ICP),
// and normalises it.
func DecodeICP(orgID uuid.UUID, raw []byte) (ICP, error) {
	var p ICP
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return ICP{}, fmt.Errorf("decode icp of org %s: %w", orgID, err)
		}
	}
	return p.Normalize(), nil
}

// SetICP replaces the ICP of orgID with p (normalised) in one tenant transaction and, when that
// changes it, emits org.icp_updated through emitter in the same transaction, with actor as
// the event's actor. It returns the stored ICP. An ICP that breaks a limit is apperr.Invalid,
// an unknown org apperr.NotFound.
func SetICP(ctx context.Context, d *db.DB, emitter *events.Emitter, orgID uuid.UUID, actor string, p ICP) (ICP, error) {
	if emitter == nil {
		return ICP{}, fmt.Errorf("set icp: nil emitter")
	}
	var out ICP
	err := d.Tx(ctx, orgID, func(tx *gorm.DB) error {
		stored, previous, err := setICP(ctx, tx, orgID, p)
		if err != nil {
			return err
		}
		out = stored
		if reflect.DeepEqual(stored, previous) {
			return nil
		}
		// The transaction id names the change: a retried transaction is a new change.
		xid, _, err := db.Get[string](ctx, tx, currentXIDSQL)
		if err != nil {
			return fmt.Errorf("read transaction id: %w", err)
		}
		return emitter.About(EntityType)(ctx, tx, orgID, actor, EventICPUpdated, orgID,
			fmt.Sprintf("%s:%s:%s", EventICPUpdated, orgID, xid), ICPUpdatedPayload{Previous: previous, ICP: stored})
	})
	if err != nil {
		return ICP{}, fmt.Errorf("set icp: %w", err)
	}
	return out, nil
}

// setICP normalises and validates p and stores it as the ICP of orgID inside the caller's
// tenant transaction tx, returning the stored ICP and the one it replaced (normalised). It
// returns apperr.Invalid for an ICP that breaks a limit and apperr.NotFound for an unknown org.
func setICP(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, p ICP) (stored, previous ICP, err error) {
	p = p.Normalize()
	if err := p.Validate(); err != nil {
		return ICP{}, ICP{}, err
	}
	raw, found, err := db.Get[[]byte](ctx, tx, lockICPSQL, orgID)
	if err != nil {
		return ICP{}, ICP{}, fmt.Errorf("lock org: %w", err)
	}
	if !found {
		return ICP{}, ICP{}, orgNotFound()
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &previous); err != nil {
			return ICP{}, ICP{}, fmt.Errorf("decode icp of org %s: %w", orgID, err)
		}
	}
	previous = previous.Normalize()
	if reflect.DeepEqual(p, previous) {
		return p, previous, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return ICP{}, ICP{}, fmt.Errorf("encode icp: %w", err)
	}
	if _, err := db.Exec(ctx, tx, updateICPSQL, string(b), orgID); err != nil {
		return ICP{}, ICP{}, fmt.Errorf("store icp: %w", err)
	}
	return p, previous, nil
}
