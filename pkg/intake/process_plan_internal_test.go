package intake

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/dbtest"
)

// TestProcessStatementsProbeByKey proves the set-based statements of processing reach the
// batch's raw rows by key alone: locking and reading them (lockRawIntakesSQL) and marking their
// outcomes (markRawsSQL). The org has 5,000 raw rows and the table no statistics yet, as in a new
// install's first minute of intake. Each statement, for 8 rows, must stay within a few buffers
// per row, in both the custom and the generic plan, run as the worker's role (the owner, under
// the row-level security of lead_intake_raw) in a tenant transaction.
func TestProcessStatementsProbeByKey(t *testing.T) {
	t.Parallel()
	owner, url := dbtest.NewDB(t)
	orgID := dbtest.NewOrg(t, owner, "acme")
	super := dbtest.SuperDB(t, url)
	ctx := t.Context()
	_, err := super.Pool.Exec(ctx, `INSERT INTO lead_intake_raw (org_id, delivery_key, content_type, body, status)
SELECT $1, 'd' || g, 'application/json', convert_to('{"email": "r' || g || '@acme.example", "notes": "' || repeat('n', 1000) || '"}', 'UTF8'),
    CASE WHEN g <= 8 THEN 'pending' ELSE 'processed' END
FROM generate_series(1, 5000) g`, orgID)
	require.NoError(t, err)
	rows, err := super.Pool.Query(ctx, `SELECT id FROM lead_intake_raw WHERE org_id = $1 AND status = 'pending'`, orgID)
	require.NoError(t, err)
	rawIDs, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	require.NoError(t, err)
	require.Len(t, rawIDs, 8)
	keys := make([]string, len(rawIDs))
	marks := make([]mark, len(rawIDs))
	for i, id := range rawIDs {
		reason := "rejected by the test"
		keys[i], marks[i] = id.String(), mark{id: id, status: SubmissionRejected, reason: &reason}
	}

	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			tx, err := owner.Pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(ctx)) }()
			_, err = tx.Exec(ctx, "SELECT set_config('app.org_id', $1, true), set_config('plan_cache_mode', $2, true)", orgID.String(), mode)
			require.NoError(t, err)

			// For each of the 8 rows a primary-key probe and its heap page, and the org's row for
			// the policy; marking writes the index entries of 8 new row versions too. Reading the
			// org's rows takes hundreds.
			for _, st := range []struct {
				name  string
				sql   string
				args  []any
				limit int
			}{
				{"lock raw rows", lockRawIntakesSQL, []any{orgID.String(), keys}, 8 * 10},
				{"mark raw rows", markRawsSQL, markRawsArgs(orgID, marks), 8 * 6 * 10},
			} {
				_, err := tx.Exec(ctx, "PREPARE batch_statement AS "+st.sql)
				require.NoError(t, err, st.name)
				var plan []struct {
					Plan struct {
						SharedHit  int `json:"Shared Hit Blocks"`
						SharedRead int `json:"Shared Read Blocks"`
					} `json:"Plan"`
				}
				var doc []byte
				require.NoError(t, tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE batch_statement"+
					executeArgs(t, st.args)).Scan(&doc), st.name)
				require.NoError(t, json.Unmarshal(doc, &plan), st.name)
				require.Len(t, plan, 1)
				buffers := plan[0].Plan.SharedHit + plan[0].Plan.SharedRead
				t.Logf("%s: %d buffers for 8 rows", st.name, buffers)
				require.LessOrEqual(t, buffers, st.limit, "%s read %d buffers for 8 rows:\n%s", st.name, buffers, doc)
				_, err = tx.Exec(ctx, "DEALLOCATE batch_statement")
				require.NoError(t, err, st.name)
			}
		})
	}
}

// executeArgs is the argument list of an EXECUTE of args, as SQL literals (EXECUTE takes no
// bind parameters): strings, booleans, int32s and arrays of them (nil pointers are NULL).
func executeArgs(t *testing.T, args []any) string {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	element := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	array := func(n int, at func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = at(i)
		}
		return quote("{" + strings.Join(parts, ",") + "}")
	}
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = quote(v)
		case bool:
			out[i] = fmt.Sprint(v)
		case []string:
			out[i] = array(len(v), func(i int) string { return element(v[i]) })
		case []bool:
			out[i] = array(len(v), func(i int) string { return fmt.Sprint(v[i]) })
		case []int32:
			out[i] = array(len(v), func(i int) string { return fmt.Sprint(v[i]) })
		case []*string:
			out[i] = array(len(v), func(i int) string {
				if v[i] == nil {
					return "NULL"
				}
				return element(*v[i])
			})
		default:
			t.Fatalf("executeArgs: no literal for %T", a)
		}
	}
	return "(" + strings.Join(out, ", ") + ")"
}
