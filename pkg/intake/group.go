package intake

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"example.com/crm/pkg/db"
)

// Group commit of deliveries.
//
// A transaction that stores one delivery costs PostgreSQL far more than the row: the round
// trip, the statement's start (its CHECK constraints, triggers and foreign-key checks are set up
// per statement), the commit and its WAL flush. Deliveries that share a transaction share those
// costs, so under load the server stores several times as many rows per second.
//
// So at most groupWriters transactions per org store deliveries at a time. A delivery that
// arrives while they are all busy waits for the next one to start, and that transaction takes
// every delivery of the org that waited, up to groupMaxRows rows and groupMaxBytes of bodies. At
// rest a delivery finds a writer free and goes alone at once; under load the groups
// grow with the wait, so the commits per second stay about level while the deliveries per
// commit rise. There are no background goroutines to start or stop: the request that finds a
// free slot writes the first group itself, and hands what queued behind it to a goroutine that
// ends when the org's queue is empty.
const (
	groupWriters  = 2
	groupMaxRows  = 64
	groupMaxBytes = 4 << 20
	// groupTimeout bounds one group's transaction; it does not end with the request of the
	// delivery that happened to start it.
	groupTimeout = 30 * time.Second
)

// waiting is a checked delivery (headers: its kept headers' JSON) waiting for its group.
type waiting struct {
	d       Delivery
	headers []byte
	done    chan outcome // buffered: the writer never blocks on a request that gave up
}

// outcome is what a group gives one of its deliveries: its answer, or alone, when the delivery
// must go through Acceptor.acceptOne itself (the group failed, or its key was stored before).
type outcome struct {
	acc   Accepted
	err   error
	alone bool
}

// groups holds, per org, the deliveries waiting for a writer and the writers at work.
type groups struct {
	mu   sync.Mutex
	orgs map[uuid.UUID]*orgGroups
}

type orgGroups struct {
	queue   []*waiting
	writers int
}

// enqueue queues p and, when the org has a writer slot free, writes the first group on the
// caller's goroutine and leaves the rest to a goroutine of its own. p's answer arrives on
// p.done.
func (a *Acceptor) enqueue(ctx context.Context, p *waiting) {
	g := &a.groups
	org := p.d.OrgID
	g.mu.Lock()
	q := g.orgs[org]
	if q == nil {
		q = &orgGroups{}
		g.orgs[org] = q
	}
	q.queue = append(q.queue, p)
	if q.writers == groupWriters {
		g.mu.Unlock()
		return
	}
	q.writers++
	g.mu.Unlock()

	wctx := context.WithoutCancel(ctx)
	if !a.writeNext(wctx, org, q) {
		go func() {
			for !a.writeNext(wctx, org, q) {
			}
		}()
	}
}

// writeNext writes the next group of org's queue q while holding one of its writer slots. It
// reports true, and gives the slot up, when the queue was empty.
func (a *Acceptor) writeNext(ctx context.Context, org uuid.UUID, q *orgGroups) (done bool) {
	g := &a.groups
	g.mu.Lock()
	n, size := 0, 0
	for n < len(q.queue) && n < groupMaxRows && (n == 0 || size+len(q.queue[n].d.Body) <= groupMaxBytes) {
		size += len(q.queue[n].d.Body)
		n++
	}
	if n == 0 {
		q.writers--
		if q.writers == 0 {
			delete(g.orgs, org)
		}
		g.mu.Unlock()
		return true
	}
	group := slices.Clone(q.queue[:n])
	clear(q.queue[:n])
	q.queue = q.queue[n:]
	g.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, groupTimeout)
	defer cancel()
	if len(group) == 1 {
		p := group[0]
		acc, err := a.acceptOne(ctx, p.d, p.headers)
		p.done <- outcome{acc: acc, err: err}
		return false
	}
	for i, o := range a.acceptGroup(ctx, org, group) {
		group[i].done <- o
	}
	return false
}

// acceptGroup stores the deliveries of one org in one transaction (acceptGroupSQL) and returns
// each one's outcome, in order. A delivery whose key the statement did not insert (stored
// before, or by a transaction that committed while this one waited for it) goes alone, to read
// the stored row; a second copy of a key within the group gets the first copy's row, as a
// duplicate. When the transaction fails, every delivery goes alone, so that an error (a source
// deleted meanwhile) is one delivery's own.
func (a *Acceptor) acceptGroup(ctx context.Context, org uuid.UUID, group []*waiting) []outcome {
	n := len(group)
	sources, keys, types, headers := make([]db.NullUUID, n), make([]string, n), make([]string, n), make([]string, n)
	bodies := make([][]byte, n)
	for i, p := range group {
		if p.d.SourceID != nil {
			sources[i] = db.UUID(*p.d.SourceID)
		}
		keys[i], types[i], bodies[i], headers[i] = p.d.DeliveryKey, p.d.ContentType, p.d.Body, string(p.headers)
	}
	type key struct {
		source db.NullUUID
		key    string
	}
	stored := map[key]uuid.UUID{}
	err := a.pipeline(ctx, org, func(b *db.Batch) {
		b.Rows(func(row db.Row) error {
			var id db.NullUUID
			var k key
			if err := row.Scan(&id, &k.source, &k.key); err != nil {
				return fmt.Errorf("scan intake id: %w", err)
			}
			stored[k] = uuid.UUID(id.Bytes)
			return nil
		}, acceptGroupSQL, db.UUID(org), sources, keys, types, bodies, headers, KindProcessIntake, a.maxAttempts)
	})
	out := make([]outcome, n)
	if err != nil {
		for i := range out {
			out[i].alone = true
		}
		return out
	}
	answered := map[key]bool{}
	for i := range group {
		k := key{sources[i], keys[i]}
		id, ok := stored[k]
		switch {
		case !ok:
			out[i].alone = true
		case answered[k]:
			out[i].acc = Accepted{IntakeID: id, Duplicate: true}
		default:
			answered[k] = true
			out[i].acc = Accepted{IntakeID: id}
		}
	}
	return out
}
