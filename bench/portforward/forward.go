package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

// startTetherForward runs `tether start-session` with the port-forwarding
// document to port on the instance and returns it with the local address it
// listens on.
func startTetherForward(ctx context.Context, tether string, env []string, id string, port int, timeout time.Duration) (*benchenv.Daemon, string, error) {
	stdout := benchenv.NewLineWatch("opened for sessionId")
	d, err := benchenv.StartDaemon(ctx, "tether start-session", env, stdout, benchenv.NewLineWatch(""),
		tether, "start-session", "--target", id, "--document-name", "AWS-StartPortForwardingSession",
		"--parameters", fmt.Sprintf("portNumber=%d,localPortNumber=0", port))
	if err != nil {
		return nil, "", err
	}
	line, err := d.Await(ctx, timeout, stdout)
	if err != nil {
		d.Stop()
		return nil, "", err
	}
	var local int
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "Port %d opened", &local); err != nil {
		d.Stop()
		return nil, "", fmt.Errorf("tether start-session: no port in %q", line)
	}
	return d, fmt.Sprintf("127.0.0.1:%d", local), nil
}

// startSSHForward runs `ssh -N -L` to port through sshd and returns it with
// the local address once that accepts connections.
func startSSHForward(ctx context.Context, sshd *benchenv.SSHD, port int, timeout time.Duration) (*benchenv.Daemon, string, error) {
	local, err := benchenv.FreePort()
	if err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", local)
	argv := sshd.SSH("ERROR", "-N", "-o", "ExitOnForwardFailure=yes", "-L", fmt.Sprintf("%s:127.0.0.1:%d", addr, port))
	d, err := benchenv.StartDaemon(ctx, "ssh -L", os.Environ(), benchenv.NewLineWatch(""), benchenv.NewLineWatch(""), argv...)
	if err != nil {
		return nil, "", err
	}
	// ssh listens once it has logged in. The probe's connection reaches the
	// target, which ignores connections that send nothing.
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return d, addr, nil
		}
		select {
		case <-d.Done():
			d.Stop()
			return nil, "", fmt.Errorf("ssh -L exited: %s\n%s", d.Cmd.ProcessState, d.Stderr.Tail())
		case <-ctx.Done():
			d.Stop()
			return nil, "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, "", fmt.Errorf("ssh -L: %s not listening after %s: %v\n%s", addr, timeout, err, d.Stderr.Tail())
		}
	}
}

// sshCipher logs in once with debug output and returns the negotiated
// client-to-server cipher (and MAC, unless the cipher is an AEAD).
func sshCipher(ctx context.Context, sshd *benchenv.SSHD) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	argv := append(sshd.SSH("DEBUG1"), "true")
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	m := regexp.MustCompile(`kex: client->server cipher: (\S+) MAC: (\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		return fmt.Sprintf("cipher unknown (%v)", err)
	}
	if m[2] == "<implicit>" {
		return m[1]
	}
	return m[1] + " with " + m[2]
}
