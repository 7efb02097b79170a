package server

import (
	"crypto/tls"
	"net"
)

type imapListener struct {
	name, addr string
	implicit   bool
	serve      func(net.Listener) error
	close      func() error
}

// imapListeners returns the IMAP listeners (filled in when imapd lands).
func (n *Node) imapListeners(_ *tls.Config) []imapListener { return nil }
