package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// Listen holds a connection of pool that listens on channel for the rest of the test, and
// returns a function that waits up to within for the next notification on it: nil when one
// arrives, the context's error when none does.
func Listen(t testing.TB, pool *pgxpool.Pool, channel string) func(within time.Duration) error {
	t.Helper()
	listener, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	t.Cleanup(listener.Release)
	_, err = listener.Exec(t.Context(), "LISTEN "+pgx.Identifier{channel}.Sanitize())
	require.NoError(t, err)
	return func(within time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		_, err := listener.Conn().WaitForNotification(ctx)
		return err
	}
}
