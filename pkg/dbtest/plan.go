package dbtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
)

// PlanCheck is a statement whose plan RequireFewBuffers bounds: its text with $n placeholders,
// its arguments (strings, booleans, int32s, arrays of them and of *string, as ExecuteArgs
// writes them) and the shared buffers it may touch.
type PlanCheck struct {
	Name  string
	SQL   string
	Args  []any
	Limit int
}

// RequireFewBuffers runs each check's statement with EXPLAIN (ANALYZE, BUFFERS) in a tenant
// transaction of orgID on d (as d's role, under row-level security), rolled back afterwards,
// once in the custom and once in the generic plan, and fails t when one touches more shared
// buffers than its Limit: the proof that a set-based statement reaches its rows by key, whatever
// plan PostgreSQL keeps.
func RequireFewBuffers(t *testing.T, d *db.DB, orgID uuid.UUID, checks []PlanCheck) {
	t.Helper()
	ctx := t.Context()
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			tx, err := d.Pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { require.NoError(t, tx.Rollback(ctx)) }()
			_, err = tx.Exec(ctx, "SELECT set_config('app.org_id', $1, true), set_config('plan_cache_mode', $2, true)", orgID.String(), mode)
			require.NoError(t, err)
			for _, st := range checks {
				_, err := tx.Exec(ctx, "PREPARE batch_statement AS "+st.SQL)
				require.NoError(t, err, st.Name)
				var plan []struct {
					Plan struct {
						SharedHit  int `json:"Shared Hit Blocks"`
						SharedRead int `json:"Shared Read Blocks"`
					} `json:"Plan"`
				}
				var doc []byte
				require.NoError(t, tx.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE batch_statement"+
					ExecuteArgs(t, st.Args)).Scan(&doc), st.Name)
				require.NoError(t, json.Unmarshal(doc, &plan), st.Name)
				require.Len(t, plan, 1)
				buffers := plan[0].Plan.SharedHit + plan[0].Plan.SharedRead
				t.Logf("%s: %d buffers", st.Name, buffers)
				require.LessOrEqual(t, buffers, st.Limit, "%s read %d buffers:\n%s", st.Name, buffers, doc)
				_, err = tx.Exec(ctx, "DEALLOCATE batch_statement")
				require.NoError(t, err, st.Name)
			}
		})
	}
}

// ExecuteArgs is the argument list of an EXECUTE of args, as SQL literals (EXECUTE takes no
// bind parameters): strings, booleans, int32s and arrays of them (nil pointers are NULL).
func ExecuteArgs(t *testing.T, args []any) string {
	t.Helper()
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
			t.Fatalf("ExecuteArgs: no literal for %T", a)
		}
	}
	return "(" + strings.Join(out, ", ") + ")"
}
