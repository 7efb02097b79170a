package main

import (
	"os/user"

	"github.com/hygie-sante/hygie/internal/account"
)

// cliActor is who the journal of administrative changes names for a
// `hygie admin` command: "cli" and the operating-system user running it
// ("cli:root"), or just "cli" when that user is unknown.
func cliActor() account.Actor {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return account.Actor{Login: account.CLI.Login + ":" + u.Username}
	}
	return account.CLI
}
