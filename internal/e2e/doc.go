// Package e2e holds Tether's end-to-end tests: real tetherd, tether-agent and
// tether processes on loopback (started through internal/testenv), a real
// PTY for interactive sessions, the AWS SDK for Go v2 as a client, and raw
// HTTP and websocket peers for hostile input. It has no non-test code.
package e2e
