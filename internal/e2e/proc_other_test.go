//go:build !linux

package e2e

import "os/exec"

// dieWithParent does nothing outside Linux.
func dieWithParent(*exec.Cmd) {}
