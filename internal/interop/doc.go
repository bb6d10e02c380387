// Package interop tests Tether against the official AWS clients, unchanged:
// the AWS CLI (`aws ssm ...`, Debian's awscli 2.x and any other `aws` on
// PATH) for the SSM API and its error rendering, and AWS's
// session-manager-plugin, built from source through the separate module in
// interop/plugin, for shell, commands, port-forwarding and SSH (OpenSSH's
// ProxyCommand) sessions on the data channel. Shell and port-forwarding
// sessions also run through Tether's own CLI so both clients stay in step.
// docs/compat.md maps each operation and session type to the test that
// proves it. Tests need `aws` (apt-get install awscli), OpenSSH's client
// and server (openssh-client, openssh-server) and, the first time on a
// machine, the Go module proxy to build the plugin. It has no non-test code.
package interop
