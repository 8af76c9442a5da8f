package dbtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

// planModes are the plan cache modes a plan test checks a statement in: PostgreSQL may keep
// either plan for a prepared statement.
var planModes = []string{"force_custom_plan", "force_generic_plan"}

// RequireFewBuffers runs each check's statement with EXPLAIN (ANALYZE, BUFFERS) in a tenant
// transaction of orgID on d (as d's role, under row-level security), rolled back afterwards,
// once in the custom and once in the generic plan, and fails t when one touches more shared
// buffers than its Limit: the proof that a set-based statement reaches its rows by key, whatever
// plan PostgreSQL keeps.
func RequireFewBuffers(t *testing.T, d *db.DB, orgID uuid.UUID, checks []PlanCheck) {
	t.Helper()
	for _, mode := range planModes {
		t.Run(mode, func(t *testing.T) {
			tx := planTx(t, d, orgID, mode)
			defer func() { require.NoError(t, tx.Rollback(t.Context())) }()
			for _, st := range checks {
				var plan []struct {
					Plan struct {
						SharedHit  int `json:"Shared Hit Blocks"`
						SharedRead int `json:"Shared Read Blocks"`
					} `json:"Plan"`
				}
				doc := explainPrepared(t, tx, "ANALYZE, BUFFERS, FORMAT JSON", st.SQL, st.Args)
				require.NoError(t, json.Unmarshal([]byte(doc), &plan), st.Name)
				require.Len(t, plan, 1)
				buffers := plan[0].Plan.SharedHit + plan[0].Plan.SharedRead
				t.Logf("%s: %d buffers", st.Name, buffers)
				require.LessOrEqual(t, buffers, st.Limit, "%s read %d buffers:\n%s", st.Name, buffers, doc)
			}
		})
	}
}

// PlanTexts returns the EXPLAIN (VERBOSE) text of the statement sql with args (as ExecuteArgs
// writes them) in a tenant transaction of orgID on d, rolled back afterwards, in the custom and
// in the generic plan, keyed by plan_cache_mode: for a test that holds a plan to its shape.
func PlanTexts(t *testing.T, d *db.DB, orgID uuid.UUID, sql string, args []any) map[string]string {
	t.Helper()
	out := make(map[string]string, len(planModes))
	for _, mode := range planModes {
		tx := planTx(t, d, orgID, mode)
		out[mode] = explainPrepared(t, tx, "VERBOSE", sql, args)
		require.NoError(t, tx.Rollback(t.Context()))
	}
	return out
}

// planTx begins a tenant transaction of orgID on d whose prepared statements are planned in
// mode (plan_cache_mode). The caller rolls it back.
func planTx(t *testing.T, d *db.DB, orgID uuid.UUID, mode string) pgx.Tx {
	t.Helper()
	ctx := t.Context()
	tx, err := d.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT set_config('app.org_id', $1, true), set_config('plan_cache_mode', $2, true)", orgID.String(), mode)
	require.NoError(t, err)
	return tx
}

// explainPrepared prepares sql in tx, returns the output of EXPLAIN (options) of its EXECUTE
// with args (its lines joined by newlines) and deallocates it.
func explainPrepared(t *testing.T, tx pgx.Tx, options, sql string, args []any) string {
	t.Helper()
	ctx := t.Context()
	_, err := tx.Exec(ctx, "PREPARE plan_statement AS "+sql)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, "EXPLAIN ("+options+") EXECUTE plan_statement"+ExecuteArgs(t, args))
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "DEALLOCATE plan_statement")
	require.NoError(t, err)
	return strings.Join(lines, "\n")
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
