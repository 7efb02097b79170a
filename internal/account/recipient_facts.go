package account

import (
	"context"
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// RecipientFacts is what the side effects of a delivery need to know first
// of a local recipient (SPEC §2: délégations, notifications, réponse
// automatique), read for all the recipients of a delivery in one query, so
// that an effect with nothing to do costs no query of its own.
type RecipientFacts struct {
	// NotifyEach: « à chaque nouveau message » is checked.
	NotifyEach bool
	// HasDelegates: the account delegates its INBOX to someone.
	HasDelegates bool
	// AutoReply: an automatic reply is switched on (its dates still have
	// to be checked, with AutoReplyTx).
	AutoReply bool
}

// RecipientFactsTx returns the facts of the accounts ids, by id; an account
// that no longer exists is absent.
func RecipientFactsTx(ctx context.Context, q store.Querier, ids []int64) (map[int64]RecipientFacts, error) {
	out := make(map[int64]RecipientFacts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	n := store.PaddedLen(len(ids))
	args := make([]any, n)
	for i := range n {
		args[i] = ids[min(i, len(ids)-1)]
	}
	rows, err := q.Query(ctx, `SELECT a.id, a.notify_each,
			CASE WHEN EXISTS (SELECT 1 FROM delegations d WHERE d.account_id = a.id) THEN 1 ELSE 0 END,
			COALESCE(r.enabled, 0)
		FROM accounts a LEFT JOIN autoreplies r ON r.account_id = a.id
		WHERE a.id IN (`+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("recipient facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var each, delegates, auto int
		if err := rows.Scan(&id, &each, &delegates, &auto); err != nil {
			return nil, fmt.Errorf("recipient facts: %w", err)
		}
		out[id] = RecipientFacts{NotifyEach: each != 0, HasDelegates: delegates != 0, AutoReply: auto != 0}
	}
	return out, rows.Err()
}
