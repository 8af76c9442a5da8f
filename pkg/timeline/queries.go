package timeline

import (
	"github.com/google/uuid"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/page"
)

// leadExistsSQL is true for a lead of the org, live or soft-deleted.
const leadExistsSQL = `SELECT EXISTS (SELECT 1 FROM leads WHERE org_id = $1 AND id = $2)`

// entitiesSQL lists the records of lead $2 of org $1 that the timeline shows, as (entity_type,
// entity_id): the lead; its calls, deals and client by their lead_id (the indexes
// calls_org_id_lead_id_scheduled_at_idx, deals_org_id_lead_id_idx, clients_org_id_lead_id_idx);
// the deals' invoices and contracts by their deal (one each, unique on (org_id, deal_id)); the
// client's onboarding tasks by their client (unique on (org_id, client_id, position)). Every
// read is a key range of the lead's own few rows.
const entitiesSQL = `
SELECT 'lead'::text AS entity_type, $2::uuid AS entity_id
UNION ALL SELECT 'call', c.id FROM calls c WHERE c.org_id = $1 AND c.lead_id = $2
UNION ALL SELECT 'deal', d.id FROM deals d WHERE d.org_id = $1 AND d.lead_id = $2
UNION ALL SELECT 'invoice', i.id FROM deals d JOIN invoices i ON i.org_id = d.org_id AND i.deal_id = d.id
    WHERE d.org_id = $1 AND d.lead_id = $2
UNION ALL SELECT 'contract', k.id FROM deals d JOIN contracts k ON k.org_id = d.org_id AND k.deal_id = d.id
    WHERE d.org_id = $1 AND d.lead_id = $2
UNION ALL SELECT 'client', c.id FROM clients c WHERE c.org_id = $1 AND c.lead_id = $2
UNION ALL SELECT 'onboarding_task', t.id FROM clients c JOIN onboarding_tasks t ON t.org_id = c.org_id AND t.client_id = c.id
    WHERE c.org_id = $1 AND c.lead_id = $2`

// eventColumns are an entry's columns; the causing event is the payload's causationEventId,
// which the events of records made by a job carry (invoice.created, contract.generated,
// client.created).
const eventColumns = `e.id, e.type, e.entity_type, e.entity_id, e.payload, e.actor, e.occurred_at,
    CASE WHEN jsonb_typeof(e.payload -> 'causationEventId') = 'number'
        THEN nullif((e.payload ->> 'causationEventId')::numeric, 0)::bigint END AS causation_event_id`

// pageSQL is the statement of a page of lead leadID's timeline in k's order after q's cursor: for
// each record of entitiesSQL, the range of its events in events_entity_time_idx after the cursor,
// at most a page long (LATERAL ... LIMIT), then the ranges merged by (occurred_at, id) and cut to
// the page. A bad cursor is page.BadCursor.
func pageSQL(orgID, leadID uuid.UUID, q Query, k page.Keyset[Entry]) (string, db.Args, error) {
	pos, err := k.Position(q.Page.Cursor)
	if err != nil {
		return "", nil, err
	}
	a := db.Args{db.UUID(orgID), db.UUID(leadID)}
	where := ""
	if len(q.Types) > 0 {
		where += " AND e.type = ANY(" + a.Add(q.Types) + "::text[])"
	}
	if after := pos.After(&a); after != "" {
		where += " AND " + after
	}
	query := `
WITH ents AS (` + entitiesSQL + `
)
SELECT e.* FROM ents CROSS JOIN LATERAL (
    SELECT ` + eventColumns + `
    FROM events e
    WHERE e.org_id = $1 AND e.entity_type = ents.entity_type AND e.entity_id = ents.entity_id` + where + `
    ` + k.OrderLimit(q.Page.Limit, &a) + `
) e
` + k.OrderLimit(q.Page.Limit, &a)
	return query, a, nil
}
