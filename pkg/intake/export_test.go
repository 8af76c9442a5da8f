package intake

import (
	"context"

	"github.com/google/uuid"
)

// AcceptGroup runs the group transaction of Acceptor.Accept on ds, all of org, checked as Accept
// checks them: each delivery's answer, and whether it would go on alone instead (the group
// failed, or its key was stored before).
func (a *Acceptor) AcceptGroup(ctx context.Context, org uuid.UUID, ds []Delivery) ([]Accepted, []bool, error) {
	group := make([]*waiting, len(ds))
	for i := range ds {
		headers, err := checkDelivery(&ds[i])
		if err != nil {
			return nil, nil, err
		}
		group[i] = &waiting{d: ds[i], headers: headers}
	}
	out := a.acceptGroup(ctx, org, group)
	acc, alone := make([]Accepted, len(out)), make([]bool, len(out))
	for i, o := range out {
		acc[i], alone[i] = o.acc, o.alone
	}
	return acc, alone, nil
}

// QueuedOrgs is the number of orgs with deliveries waiting or a writer at work.
func (a *Acceptor) QueuedOrgs() int {
	a.groups.mu.Lock()
	defer a.groups.mu.Unlock()
	return len(a.groups.orgs)
}
