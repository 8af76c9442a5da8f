package timeline

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/page"
)

// TestPageReadsIndexRanges proves a page of a timeline reads index ranges of its lead's records,
// not the org's events nor all of its lead's: an org of 2,000 leads with 30 events each, and one
// lead with 1,000 events of its own and a call, a deal with its invoice and contract, a client
// and its onboarding tasks, with 5 events each; the lead's events interleaved with the others'
// (so that each sits on a heap page of its own, as in a busy org), the tables vacuumed and
// analysed as autovacuum leaves them. Every page (the first, one deep in the list, newest first,
// 200 rows) must stay within the buffers of its rows and the few records' index probes, in the
// custom and the generic plan, as the app's role under row-level security. A types filter reads
// the lead's own events at most, never the org's.
func TestPageReadsIndexRanges(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := super.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	leadID, callID, dealID, invoiceID, contractID, clientID := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	exec(`INSERT INTO leads (org_id, id, email, fingerprint) VALUES ($1, $2, 'ada@example.com', 'ada')`, orgID, leadID)
	exec(`INSERT INTO leads (org_id, email, fingerprint) SELECT $1, 'p' || g || '@example.com', 'p' || g FROM generate_series(1, 2000) g`, orgID)
	exec(`INSERT INTO calls (org_id, id, lead_id, scheduled_at) VALUES ($1, $2, $3, now())`, orgID, callID, leadID)
	exec(`INSERT INTO deals (org_id, id, lead_id, title, deal_value, currency) VALUES ($1, $2, $3, 'Deal', 100, 'EUR')`, orgID, dealID, leadID)
	exec(`INSERT INTO invoices (org_id, id, deal_id, number, amount, currency) VALUES ($1, $2, $3, 'INV-1', 100, 'EUR')`, orgID, invoiceID, dealID)
	exec(`INSERT INTO contracts (org_id, id, deal_id) VALUES ($1, $2, $3)`, orgID, contractID, dealID)
	exec(`INSERT INTO clients (org_id, id, lead_id, deal_id, invoice_id) VALUES ($1, $2, $3, $4, $5)`, orgID, clientID, leadID, dealID, invoiceID)
	// The other leads have a call, a deal with its invoice and contract, a client and 5 onboarding
	// tasks each, so that every look-up must go by its key.
	exec(`INSERT INTO calls (org_id, lead_id, scheduled_at) SELECT $1, id, now() FROM leads WHERE org_id = $1 AND id <> $2`, orgID, leadID)
	exec(`INSERT INTO deals (org_id, lead_id, title, deal_value, currency) SELECT $1, id, 'Deal', 100, 'EUR' FROM leads WHERE org_id = $1 AND id <> $2`, orgID, leadID)
	exec(`INSERT INTO invoices (org_id, deal_id, number, amount, currency) SELECT $1, id, 'N-' || id, 100, 'EUR' FROM deals WHERE org_id = $1 AND id <> $2`, orgID, dealID)
	exec(`INSERT INTO contracts (org_id, deal_id) SELECT $1, id FROM deals WHERE org_id = $1 AND id <> $2`, orgID, dealID)
	exec(`INSERT INTO clients (org_id, lead_id, deal_id, invoice_id) SELECT $1, d.lead_id, d.id, i.id
FROM deals d JOIN invoices i ON i.org_id = d.org_id AND i.deal_id = d.id WHERE d.org_id = $1 AND d.lead_id <> $2`, orgID, leadID)
	exec(`INSERT INTO onboarding_tasks (org_id, client_id, position, title) SELECT $1, c.id, g, 'Task ' || g FROM clients c, generate_series(0, 4) g WHERE c.org_id = $1`, orgID)
	// 61,000 events in time order, every 61st the lead's, the rest the other leads'; then 5 for
	// each of the lead's call, deal, invoice, contract and client, each at the instant of one of
	// the lead's events.
	exec(`INSERT INTO events (org_id, type, entity_type, entity_id, payload, idempotency_key, occurred_at)
SELECT $1, 'lead.updated', 'lead', CASE WHEN g % 61 = 0 THEN $2 ELSE o.id END,
    jsonb_build_object('changes', jsonb_build_object('notes', repeat('n', 400))), 'k' || g,
    timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 61000) g
LEFT JOIN LATERAL (SELECT id FROM leads WHERE org_id = $1 AND email = 'p' || (1 + g % 2000) || '@example.com') o ON g % 61 <> 0`,
		orgID, leadID)
	exec(`INSERT INTO events (org_id, type, entity_type, entity_id, idempotency_key, occurred_at)
SELECT $1, r.type || '.changed', r.type, r.id, 'r' || r.type || g, timestamptz '2026-01-01' + (61 * (g * 37 + r.n)) * interval '1 second'
FROM generate_series(1, 5) g,
    unnest(ARRAY['call', 'deal', 'invoice', 'contract', 'client'], ARRAY[$2, $3, $4, $5, $6]::uuid[]) WITH ORDINALITY AS r(type, id, n)`,
		orgID, callID, dealID, invoiceID, contractID, clientID)
	exec(`VACUUM ANALYZE leads, calls, deals, invoices, contracts, clients, onboarding_tasks, events`)
	records := []uuid.UUID{leadID, callID, dealID, invoiceID, contractID, clientID}
	var own int
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE org_id = $1 AND entity_id = ANY($2::uuid[])`,
		orgID, records).Scan(&own))
	require.Equal(t, 1025, own)

	// A cursor deep in the list: the timeline's 500th entry.
	var deep Entry
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT occurred_at, id FROM events WHERE org_id = $1 AND entity_id = ANY($2::uuid[])
ORDER BY occurred_at, id OFFSET 499 LIMIT 1`, orgID, records).Scan(&deep.OccurredAt, &deep.EventID))
	cursor := func(order Order) string { return *keysets[order].Page([]Entry{deep, deep}, 1).NextCursor }

	check := func(name string, q Query, limit int) dbtest.PlanCheck {
		k, err := q.check()
		require.NoError(t, err)
		sql, args, err := pageSQL(orgID, leadID, q, k)
		require.NoError(t, err)
		return dbtest.PlanCheck{Name: name, SQL: sql, Args: literals(args), Limit: limit}
	}
	// A page of n rows reads at most n+1 events of each record after the cursor (here n+1 of
	// the lead's and the other records' 25), a heap page each, plus the index pages of 18 ranges
	// (the records' 7 look-ups and 11 event ranges, one per record, up to 4 levels deep) and the lead's
	// row. Reading all 1,025 of them would take over a thousand.
	const ranges = 18 * 4
	// A types filter may read every event of the lead's records (its type is no index column),
	// but never the org's: those fill more than twice as many pages.
	const typesLimit = 1025 + ranges + 100
	var eventPages int
	require.NoError(t, super.Pool.QueryRow(ctx, `SELECT relpages FROM pg_class WHERE relname = 'events'`).Scan(&eventPages))
	require.Greater(t, eventPages, 2*typesLimit)
	dbtest.RequireFewBuffers(t, owner, orgID, []dbtest.PlanCheck{
		check("first page", Query{Page: page.Request{Limit: 50}}, 51+25+ranges+5),
		check("deep page", Query{Page: page.Request{Limit: 50, Cursor: cursor(OrderAsc)}}, 51+25+ranges+5),
		check("newest first", Query{Page: page.Request{Limit: 50, Cursor: cursor(OrderDesc)}, Order: OrderDesc}, 51+25+ranges+5),
		check("largest page", Query{Page: page.Request{Limit: 200}}, 201+25+ranges+5),
		check("types filter", Query{Page: page.Request{Limit: 50}, Types: []string{"deal.won"}}, typesLimit),
	})
}

// literals turns a statement's arguments into the values dbtest.ExecuteArgs writes: text that
// PostgreSQL casts to each parameter's type.
func literals(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case pgtype.UUID:
			out[i] = v.String()
		case time.Time:
			out[i] = v.Format(time.RFC3339Nano)
		case int64:
			out[i] = strconv.FormatInt(v, 10)
		case int:
			out[i] = strconv.Itoa(v)
		default:
			out[i] = a
		}
	}
	return out
}
