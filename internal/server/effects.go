package server

import "github.com/hygie-sante/hygie/internal/mail"

// registerEffects installs the side effects of a delivery (SPEC §2): each
// runs inside the delivery transaction and records jobs.
func (n *Node) registerEffects() {
	n.Pipeline.Effects = []mail.Effect{
		mail.DelegationCopies, // Délégations: copies into each delegate's INBOX
		n.registerNotify(),    // Notifications: arrival notices (and the digest, opening and receipt handlers)
		n.registerAutoReply(), // Réponse automatique: RFC 3834 replies, at most one per sender per period
	}
}
