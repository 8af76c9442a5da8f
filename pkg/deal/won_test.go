package deal_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"example.com/crm/pkg/deal"
)

// TestLockWon proves the read shared by the records a win makes: per won in order, the won deal
// with its lead, or why nothing is to be made (gone, not won, made already in this org, a repeat
// of an earlier won), with todo naming the rest; and that the deals stay locked until the
// transaction ends, in the mode asked.
func TestLockWon(t *testing.T) {
	t.Parallel()
	b := setup(t)
	won, lost, made, open := b.dealAt(t, deal.StageWon, 1200), b.dealAt(t, deal.StageLost, 1), b.dealAt(t, deal.StageWon, 2), b.dealAt(t, deal.StageProposal, 3)
	_, err := b.super.Pool.Exec(t.Context(), `UPDATE leads SET name = 'Ada', company = 'Buyer Ltd' WHERE id = (SELECT lead_id FROM deals WHERE id = $1)`, won)
	require.NoError(t, err)
	gone := uuid.New()
	ids := []uuid.UUID{won, lost, made, gone, won, open}
	wons := make([]deal.Won, len(ids))
	for i, id := range ids {
		wons[i] = deal.Won{EventID: int64(i), DealID: id}
	}
	_, err = b.super.Pool.Exec(t.Context(), `CREATE TABLE made (org_id uuid, deal_id uuid); GRANT SELECT ON made TO PUBLIC`)
	require.NoError(t, err)
	_, err = b.super.Pool.Exec(t.Context(), `INSERT INTO made VALUES ($1, $2), ($3, $4)`, b.org, made, uuid.New(), won)
	require.NoError(t, err)

	// Every mode keeps a deal from going (FOR UPDATE, a delete's lock, must wait); LockAlone also
	// keeps out a second LockAlone (FOR NO KEY UPDATE), while LockShared lets it in, so an invoice
	// and a contract of one win are made side by side.
	for _, mode := range []struct {
		lock    deal.Lock
		refused []string
		let     []string
	}{
		{deal.LockAlone, []string{"FOR UPDATE", "FOR NO KEY UPDATE"}, []string{"FOR KEY SHARE"}},
		{deal.LockShared, []string{"FOR UPDATE"}, []string{"FOR NO KEY UPDATE", "FOR KEY SHARE"}},
	} {
		require.NoError(t, b.d.Tx(t.Context(), b.org, func(tx *gorm.DB) error {
			skipped := make([]string, len(ids))
			deals, todo, err := deal.LockWon(t.Context(), tx, b.org, wons, mode.lock,
				`SELECT deal_id FROM made WHERE org_id = $1 AND deal_id = ANY($2::uuid[])`, "deal has one already",
				func(i int, why string) { skipped[i] = why })
			require.NoError(t, err)
			require.Equal(t, []int{0}, todo)
			require.Equal(t, []string{"", "deal is lost, not won", "deal has one already", "deal not found", "deal has one already", "deal is proposal, not won"}, skipped)
			d := deals[0]
			require.Equal(t, [4]any{won, int64(1200), "EUR", deal.StageWon}, [4]any{d.ID, d.DealValue, d.Currency, d.Stage})
			require.Equal(t, [3]string{"Deal", "Ada", "Buyer Ltd"}, [3]string{d.Title, d.Name, d.Company})
			require.Equal(t, d.LeadID.String()+"@example.com", d.Email)
			for _, other := range mode.refused {
				_, err = b.super.Pool.Exec(t.Context(), `SELECT 1 FROM deals WHERE id = $1 `+other+` NOWAIT`, lost)
				require.ErrorContains(t, err, "could not obtain lock", "%s keeps out %s until the transaction ends", mode.lock, other)
			}
			for _, other := range mode.let {
				_, err = b.super.Pool.Exec(t.Context(), `SELECT 1 FROM deals WHERE id = $1 `+other+` NOWAIT`, lost)
				require.NoError(t, err, "%s lets %s in", mode.lock, other)
			}
			return nil
		}))
	}
}
