//go:build tools

// Package s3server pins the source of versitygw, an S3-compatible gateway
// with a POSIX backend (Apache-2.0), so the tests of internal/blob can run the
// S3 implementation against a real S3 server. It is a separate module so that
// versitygw's dependencies (Azure SDK, fiber, LDAP, Kafka, ...) never enter
// Tether's own go.mod; internal/testenv/s3server.go builds it once per machine
// and caches the binary, keyed by this module's go.mod and go.sum.
//
// Build: go build -o versitygw github.com/versity/versitygw/cmd/versitygw
package s3server

import _ "github.com/versity/versitygw/cmd/versitygw"
