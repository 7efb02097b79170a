// Package e2e holds end-to-end tests of the hygie binary: they build it once,
// run it as a subprocess on free loopback ports with a temporary data
// directory, and talk to it as clients and operators would (HTTP, SMTP
// submission with go-smtp and swaks, the admin command line), including
// killing it with SIGKILL to check that acknowledged messages survive.
//
// The package has no non-test code besides this comment.
package e2e
