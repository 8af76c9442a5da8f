package lead

import (
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
	"example.com/crm/pkg/events"
	"example.com/crm/pkg/jobs"
	"example.com/crm/pkg/page"
)

// TestReadsMatchTheGormPath proves the single-round-trip reads (pgx, leadScan) return exactly
// the leads the gorm statements return, null fields, documents and times included: Get for
// every lead, and List, page after page in every sort, with and without a search, through
// the service on the pool (db.DB.Read), as the app role.
func TestReadsMatchTheGormPath(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	app, err := db.Open(t.Context(), db.Options{URL: dbtest.AppURL(t, url), MaxConns: 4, AppName: "lead-read-test"})
	require.NoError(t, err)
	t.Cleanup(app.Close)
	ctx := t.Context()
	em := events.NewEmitter(jobs.New(owner, jobs.Config{}), nil)
	orgID, other := dbtest.NewOrg(t, owner, "acme"), dbtest.NewOrg(t, owner, "other")
	writer := NewService(owner, em)

	var ids []uuid.UUID
	for i := range 7 {
		in := Contact{Email: fmt.Sprintf("p%d@acme-%d.example", i, i%2), Company: fmt.Sprintf("Acme <%d> & Co", i%3)}
		if i%2 == 0 {
			in.Name, in.Phone, in.Notes = fmt.Sprintf("Ada \"%d\"", i), "+1 555 0100", "line\nbreak \u2028 é"
		}
		l, err := writer.Create(ctx, orgID, "test", NewLead{Contact: in})
		require.NoError(t, err)
		ids = append(ids, l.ID)
	}
	_, err = writer.Create(ctx, other, "test", NewLead{Contact: Contact{Email: "p0@acme-0.example"}})
	require.NoError(t, err)
	super := dbtest.SuperDB(t, url)
	_, err = super.Pool.Exec(ctx, `UPDATE leads SET score = CASE WHEN random() < 0.7 THEN (random() * 100)::int END,
	score_reasons = '["a", {"b": [1, 2.5]}]', icp_match = (random() < 0.5), recommended_path = 'nurture',
	revenue_band = '1M-10M', enrichment = '{"domain": "x.example", "n": null}', last_activity_at = now() - interval '1 day',
	stage_reason = 'because', extra = '{"k": "v <&>"}' WHERE org_id = $1 AND id = ANY($2)`, orgID, ids[:4])
	require.NoError(t, err)
	_, err = super.Pool.Exec(ctx, `UPDATE leads SET score = 50 WHERE org_id = $1 AND id = ANY($2)`, orgID, ids[4:6])
	require.NoError(t, err)

	gormGet := func(id uuid.UUID) Lead {
		var l Lead
		require.NoError(t, db.Tx(ctx, app.Gorm, orgID, func(tx *gorm.DB) error {
			var err error
			l, err = getLead(ctx, tx, orgID, id, false)
			return err
		}))
		return l
	}
	gormList := func(f ListFilter) []Lead {
		ks := keysets[f.Sort]
		where := ""
		if f.Q != "" {
			where = ` AND ` + searchCondition + `(@q)`
		}
		var out []Lead
		require.NoError(t, db.Tx(ctx, app.Gorm, orgID, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT `+leadColumns+` FROM lead_list WHERE org_id = @org`+where+` ORDER BY `+ks.Order(),
				map[string]any{"org": orgID, "q": f.Q}).Scan(&out).Error
		}))
		for i := range out {
			out[i].utc()
		}
		return out
	}

	for name, svc := range map[string]*Service{"pool": NewService(app, em)} {
		for _, id := range ids {
			got, err := svc.Get(ctx, orgID, id)
			require.NoError(t, err, name)
			require.Equal(t, gormGet(id), got, name)
		}
		_, err := svc.Get(ctx, other, ids[0])
		require.ErrorContains(t, err, "not found", "%s: another org's lead", name)

		for _, sort := range Sorts {
			for _, q := range []string{"", "acme-1", "<2>"} {
				f := ListFilter{Sort: sort, Q: q, Page: page.Request{Limit: 2}}
				var all []Lead
				for {
					p, err := svc.List(ctx, orgID, f)
					require.NoError(t, err, "%s %s %q", name, sort, q)
					all = append(all, p.Data...)
					if p.NextCursor == nil {
						break
					}
					f.Page.Cursor = *p.NextCursor
				}
				want := gormList(ListFilter{Sort: sort, Q: q})
				require.NotEmpty(t, want)
				require.Equal(t, want, all, "%s %s %q", name, sort, q)
			}
		}
	}
}
