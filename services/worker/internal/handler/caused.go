package handler

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
)

// causedArgs are the arguments of a kind that an event about one entity enqueues: they embed
// the event (events.JobPayload), whose Check makes sure it names the entity.
type causedArgs interface {
	jobs.Args
	Payload() events.JobPayload
}

// caused describes a kind whose jobs an event about one entity caused, and whose work is one
// use case over the batch: a won deal's invoice and contract, a paid invoice's client, a new
// client's onboarding.
type caused[In, Out any] struct {
	// work names the use case in its error, with the batch's size: "create %d invoices".
	work string
	// entity is the log field of the entity's id: "deal_id".
	entity string
	// in is the use case's input of one job: the event's id and the entity's id.
	in func(eventID int64, entityID uuid.UUID) In
	// use runs the use case in the batch's transaction and returns one Out per In, in order.
	use func(ctx context.Context, tx *gorm.DB, orgID uuid.UUID, in []In) ([]Out, error)
	// outcome says of one Out why nothing was made (empty when something was) and the log
	// fields of what was made.
	outcome func(Out) (skipped string, made []zap.Field)
	// made and skipped are the log messages of the two outcomes.
	made, skipped string
}

// causedKind is the kind c describes: its jobs share a transaction (the work only reads and
// writes the database), and the batch's transaction, which also completes the jobs, runs c.use
// once for all of them, so what a job makes and its events exist exactly when the job is done.
// A job whose Out was skipped is logged at info and completed: retrying would change nothing.
func causedKind[A causedArgs, In, Out any](c caused[In, Out], log *zap.Logger) jobs.Kind {
	if c.in == nil || c.use == nil || c.outcome == nil || log == nil {
		panic("handler.causedKind: nil dependency")
	}
	return jobs.NewKind(jobs.Shared, func(ctx context.Context, tx *jobs.Batch, js []jobs.Attempt[A]) error {
		ins := make([]In, len(js))
		for i, j := range js {
			p := j.Args.Payload()
			ins[i] = c.in(p.EventID, *p.EntityID)
		}
		var res []Out
		err := tx.Exec(ctx, func(db *gorm.DB) error {
			var err error
			res, err = c.use(ctx, db, tx.Org(), ins)
			return err
		})
		if err != nil {
			return fmt.Errorf(c.work+": %w", len(ins), err)
		}
		for i, r := range res {
			p := js[i].Args.Payload()
			fields := []zap.Field{
				zap.Int64("job_id", js[i].ID), zap.String("org_id", js[i].OrgID.String()),
				zap.String(c.entity, p.EntityID.String()), zap.Int64("event_id", p.EventID),
			}
			skipped, made := c.outcome(r)
			if skipped != "" {
				log.Info(c.skipped, append(fields, zap.String("reason", skipped))...)
				continue
			}
			log.Debug(c.made, append(fields, made...)...)
		}
		return nil
	})
}
