//go:build tools

// Package plugin pins the source of AWS's session-manager-plugin so the
// interoperability tests in internal/interop can build it. It is a separate
// module because the plugin has no go.mod of its own and compiles only with
// the old dependency versions pinned here, which must not leak into Tether's
// own go.mod.
//
// Build: go build -o session-manager-plugin github.com/aws/session-manager-plugin/src/sessionmanagerplugin-main
package plugin

import _ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin-main"
