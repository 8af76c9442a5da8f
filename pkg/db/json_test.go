package db_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/crm/pkg/db"
	"example.com/crm/pkg/dbtest"
)

// TestJSONColumn proves a db.JSON goes to a jsonb column and back through gorm: values as they
// were, a nil list or map written as [] or {}, and SQL NULL read as the zero value.
func TestJSONColumn(t *testing.T) {
	t.Parallel()
	d, _ := dbtest.NewDB(t)
	type row struct {
		List db.JSON[[]string]          `gorm:"column:list"`
		Map  db.JSON[map[string]string] `gorm:"column:map"`
		Text string                     `gorm:"column:text"`
	}
	read := func(list db.JSON[[]string], m db.JSON[map[string]string]) row {
		var r row
		require.NoError(t, d.Gorm.WithContext(t.Context()).
			Raw(`SELECT ?::jsonb AS list, ?::jsonb AS map, (?::jsonb)::text AS text`, list, m, list).Scan(&r).Error)
		return r
	}

	r := read(db.JSONOf([]string{"a <b> & c", "é"}), db.JSONOf(map[string]string{"k": "v"}))
	require.Equal(t, []string{"a <b> & c", "é"}, r.List.V)
	require.Equal(t, map[string]string{"k": "v"}, r.Map.V)

	r = read(db.JSON[[]string]{}, db.JSON[map[string]string]{})
	require.Equal(t, []string{}, r.List.V)
	require.Equal(t, map[string]string{}, r.Map.V)
	require.Equal(t, "[]", r.Text)

	var null row
	require.NoError(t, d.Gorm.WithContext(t.Context()).Raw(`SELECT NULL::jsonb AS list, NULL::jsonb AS map`).Scan(&null).Error)
	require.Nil(t, null.List.V)
	require.Nil(t, null.Map.V)
}

// TestJSONEncoding proves a db.JSON is V's encoding in an answer, escaped as the answer's encoder
// escapes the rest, and reads back from it.
func TestJSONEncoding(t *testing.T) {
	t.Parallel()
	type answer struct {
		L db.JSON[[]string] `json:"l"`
		S []string          `json:"s"`
	}
	in := answer{L: db.JSONOf([]string{"<a&b>"}), S: []string{"<a&b>"}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"l":["<a&b>"],"s":["<a&b>"]}`, string(b))
	require.Equal(t, `{"l":["\u003ca\u0026b\u003e"],"s":["\u003ca\u0026b\u003e"]}`, string(b))

	b, err = json.Marshal(answer{})
	require.NoError(t, err)
	require.Equal(t, `{"l":[],"s":null}`, string(b))

	var out answer
	require.NoError(t, json.Unmarshal([]byte(`{"l":["x"]}`), &out))
	require.Equal(t, []string{"x"}, out.L.V)
}
