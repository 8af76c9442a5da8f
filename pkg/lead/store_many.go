package lead

// The set-based use cases of the lead store: they lock, read and change many leads of one org at
// once in the caller's transaction (the statements are in queries.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/org"
)

// Snapshot is a lead as a use case that changes it reads it: the lead, and scored_by (who scored
// it, nil while unscored), which the API does not show. Found is false for a lead that is
// missing or deleted.
type Snapshot struct {
	Lead     Lead
	ScoredBy *string
	Found    bool
}

// QueueReadLive queues the read of the org's lead id with its scored_by into out, on a tenant
// read (db.DB.Read): the read of a use case before it calls out of the database. A
// missing or deleted lead leaves out.Found false.
func QueueReadLive(b *db.Batch, orgID, id uuid.UUID, out *Snapshot) {
	b.Row(func(row db.Row) error {
		var scoredBy db.Text
		var deleted bool
		l, err := newLeadScan().scan(row, &scoredBy, &deleted)
		if err != nil {
			return fmt.Errorf("read lead: %w", err)
		}
		if deleted {
			return nil
		}
		*out = Snapshot{Lead: l, Found: true}
		if scoredBy.Valid {
			out.ScoredBy = &scoredBy.String
		}
		return nil
	}, liveLeadSQL, db.UUID(orgID), db.UUID(id))
}

// LockLive locks and reads the org's live leads among ids in the caller's transaction, in the
// order of the primary key (so that two transactions over the same leads cannot deadlock), each
// once; missing and deleted ones are left out. When icp is not nil it also reads the org's ICP
// into it, in the same statement (the org's row is not locked), so that qualification takes one
// round trip for its leads and the ICP it scores them against.
func LockLive(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID, icp *org.ICP) ([]Snapshot, error) {
	type lockedRow struct {
		Lead
		ScoredBy *string `gorm:"column:scored_by"`
		Deleted  bool    `gorm:"column:deleted"`
		ICP      []byte  `gorm:"column:icp"`
	}
	got, err := db.Select[lockedRow](ctx, tx, lockLiveSQL, orgID.String(), keyOrder(ids), icp != nil)
	if err != nil {
		return nil, fmt.Errorf("lock leads: %w", err)
	}
	out := make([]Snapshot, 0, len(got))
	for i, row := range got {
		if icp != nil && i == 0 {
			if *icp, err = org.DecodeICP(orgID, row.ICP); err != nil {
				return nil, fmt.Errorf("lock leads: %w", err)
			}
		}
		if row.Deleted {
			continue
		}
		row.utc()
		out = append(out, Snapshot{Lead: row.Lead, ScoredBy: row.ScoredBy, Found: true})
	}
	return out, nil
}

// lockLive locks the org's live leads among ids (LockLive) and returns them by id.
func lockLive(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Lead, error) {
	locked, err := LockLive(ctx, tx, orgID, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]Lead, len(locked))
	for _, s := range locked {
		out[s.Lead.ID] = s.Lead
	}
	return out, nil
}

// keyOrder returns ids as text, each once, in PostgreSQL's order of uuids (their bytes, which is
// the order of their lower-case text form).
func keyOrder(ids []uuid.UUID) []string {
	text := make([]string, len(ids))
	for i, id := range ids {
		text[i] = id.String()
	}
	slices.Sort(text)
	return slices.Compact(text)
}

// Enrichment is what a Write stores of an enrichment: the document, the revenue band ("" when
// unknown) and the domain it found, which is stored only where the lead has none (the stored
// domain is part of the dedup fingerprint, so a domain the lead came with is never rewritten).
type Enrichment struct {
	Doc         Doc
	RevenueBand string
	Domain      string
}

// Score is what a Write stores of a qualification.
type Score struct {
	Score           int
	Reasons         []string
	ICPMatch        bool
	RecommendedPath string
	// ScoredBy is "builtin" or the model that scored.
	ScoredBy string
}

// Write is one change of a lead that the transaction has locked and seen live: an enrichment, a
// score, a stage move (with its reason) and a priority, each when not nil. A stage move or a
// priority moves the version on by one; an enrichment or a score does not (derived data, not an
// edit a client could conflict with).
type Write struct {
	ID         uuid.UUID
	Enrichment *Enrichment
	Score      *Score
	Stage      *Stage
	Reason     *string // with Stage
	Priority   *Priority
}

// Written is what a Write left on its lead: its version and times, and the whole lead as it
// now is (Lead).
type Written struct {
	ID             uuid.UUID
	Version        int
	StageChangedAt time.Time
	UpdatedAt      time.Time
	Lead           Lead
}

// StoreWrites applies writes in one statement, each to a lead the caller's transaction has locked
// and seen live (LockLive), and returns what each left, in no particular order. It is the one
// path by which a lead's stage, priority, enrichment and score change.
func StoreWrites(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, writes []Write) ([]Written, error) {
	if len(writes) == 0 {
		return nil, nil
	}
	args, err := storeWritesArgs(orgID, writes)
	if err != nil {
		return nil, err
	}
	out := make([]Written, 0, len(writes))
	scan := newLeadScan()
	err = db.Each(ctx, tx, func(row db.Row) error {
		l, err := scan.scan(row)
		if err != nil {
			return err
		}
		out = append(out, Written{ID: l.ID, Version: l.Version, StageChangedAt: l.StageChangedAt, UpdatedAt: l.UpdatedAt, Lead: l})
		return nil
	}, storeWritesSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("store %d leads: %w", len(writes), err)
	}
	if len(out) != len(writes) {
		return nil, fmt.Errorf("store %d leads: %d rows changed", len(writes), len(out))
	}
	return out, nil
}

// storeOne applies w to the locked live lead cur (StoreWrites of one) and returns the lead as it
// now is with the row record of the change, for its event.
func storeOne(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, cur Lead, w Write) (Lead, Row, error) {
	w.ID = cur.ID
	written, err := StoreWrites(ctx, tx, orgID, []Write{w})
	if err != nil {
		return Lead{}, Row{}, err
	}
	r, err := written[0].RowOf(w)
	if err != nil {
		return Lead{}, Row{}, err
	}
	return written[0].Lead, r, nil
}

// storeWritesArgs returns the parameters of storeWritesSQL for writes of orgID.
func storeWritesArgs(orgID uuid.UUID, writes []Write) ([]any, error) {
	n := len(writes)
	ids, docs, bands, domains, reasons, paths, scoredBy := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hasEnr, hasScore, icpMatch := make([]bool, n), make([]bool, n), make([]bool, n)
	scores := make([]int32, n)
	toStage, stageReason, priority := make([]*string, n), make([]*string, n), make([]*string, n)
	for i, w := range writes {
		ids[i] = w.ID.String()
		if e := w.Enrichment; e != nil {
			hasEnr[i], docs[i], bands[i], domains[i] = true, string(e.Doc), e.RevenueBand, e.Domain
		}
		if r := w.Score; r != nil {
			rs, err := json.Marshal(r.Reasons)
			if err != nil {
				return nil, fmt.Errorf("encode score reasons: %w", err)
			}
			hasScore[i], scores[i], reasons[i], icpMatch[i], paths[i], scoredBy[i] = true, int32(r.Score), string(rs), r.ICPMatch, r.RecommendedPath, r.ScoredBy
		}
		if w.Stage != nil {
			s := string(*w.Stage)
			toStage[i], stageReason[i] = &s, w.Reason
		}
		if w.Priority != nil {
			p := string(*w.Priority)
			priority[i] = &p
		}
	}
	return []any{orgID.String(), ids, hasEnr, docs, bands, domains,
		hasScore, scores, reasons, icpMatch, paths, scoredBy, toStage, stageReason, priority}, nil
}

// SystemActivity is an activity the system adds to a lead once: DedupKey names it within the
// org, and a second add with the same key adds nothing.
type SystemActivity struct {
	LeadID     uuid.UUID
	Kind       ActivityKind
	Subject    string
	Body       string
	Payload    Doc // a JSON object; empty is {}
	OccurredAt time.Time
	CreatedBy  string
	DedupKey   string
}

// AddActivities adds system activities to the org's leads in one statement, each once per dedup
// key, and returns the added ones in the order of as (nil where the key existed: a rerun; of two
// with one key, the first is added).
func AddActivities(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, as []SystemActivity) ([]*Activity, error) {
	out := make([]*Activity, len(as))
	if len(as) == 0 {
		return out, nil
	}
	n := len(as)
	leads, kinds, keys, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	subjects, bodies, createdBy := make([]*string, n), make([]*string, n), make([]*string, n)
	at := make([]time.Time, n)
	index := make(map[string]int, n)
	for i, a := range as {
		if _, dup := index[a.DedupKey]; !dup {
			index[a.DedupKey] = i
		}
		payload := a.Payload
		if len(payload) == 0 {
			payload = Doc("{}")
		}
		leads[i], kinds[i], keys[i], payloads[i] = a.LeadID.String(), string(a.Kind), a.DedupKey, string(payload)
		subjects[i], bodies[i], createdBy[i], at[i] = ptr(a.Subject), ptr(a.Body), ptr(a.CreatedBy), a.OccurredAt
	}
	type addedRow struct {
		DedupKey string `gorm:"column:dedup_key"`
		Activity
	}
	added, err := db.Select[addedRow](ctx, tx, addActivitiesSQL, orgID.String(),
		leads, kinds, subjects, bodies, payloads, keys, at, createdBy)
	if err != nil {
		return nil, fmt.Errorf("add lead activities: %w", err)
	}
	for i := range added {
		a := added[i].Activity
		a.utc()
		out[index[added[i].DedupKey]] = &a
	}
	return out, nil
}
