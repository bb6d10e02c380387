// Package interop tests Tether against the official AWS clients, unchanged:
// the AWS CLI (`aws ssm ...`, Debian's awscli 2.x and any other `aws` on
// PATH) for the SSM API, and AWS's session-manager-plugin, built from source
// through the separate module in interop/plugin, for shell sessions on the
// data channel. The same sessions run through Tether's own CLI so both
// clients stay in step. Tests need `aws` (apt-get install awscli) and, the
// first time on a machine, the Go module proxy to build the plugin. It has no
// non-test code.
package interop
