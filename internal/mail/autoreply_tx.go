package mail

import (
	"context"
	"fmt"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// DeliverTx is Deliver inside tx, for mail generated here that must commit
// together with what caused it, and that may leave the platform: an
// automatic reply (RFC 3834) is stored, routed and queued in the same
// transaction as the completion of its job, so that a crash neither loses
// nor duplicates it. The recipients must already be routed (Router.Route
// as the sending identity); env.Source must be SourceSystem.
func (p *Pipeline) DeliverTx(ctx context.Context, tx *store.Tx, env Envelope, data []byte, now time.Time) (Delivered, error) {
	if env.Source != SourceSystem {
		return Delivered{}, fmt.Errorf("deliver generated mail: source %q is not %q", env.Source, SourceSystem)
	}
	m, err := p.prepare(env, data, now)
	if err != nil {
		return Delivered{}, fmt.Errorf("deliver generated mail: %w", err)
	}
	return p.store(ctx, tx, env, m, now)
}
