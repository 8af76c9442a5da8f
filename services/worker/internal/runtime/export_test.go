package runtime

import (
	"context"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// ListenBackOff exposes the LISTEN reconnection delays to the tests.
func ListenBackOff() *backoff.ExponentialBackOff { return listenBackOff() }

// KeepListening exposes the LISTEN loop to the tests.
func KeepListening(ctx context.Context, connCfg *pgx.ConnConfig, bo *backoff.ExponentialBackOff, notify func(), log *zap.Logger) {
	keepListening(ctx, connCfg, bo, notify, log)
}
