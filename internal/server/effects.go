package server

import "github.com/hygie-sante/hygie/internal/mail"

// registerEffects installs the side effects of a delivery (SPEC §2): each
// runs inside the delivery transaction and records jobs.
func (n *Node) registerEffects() {
	n.Pipeline.Effects = []mail.Effect{}
}
