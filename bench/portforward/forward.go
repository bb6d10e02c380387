package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
	"github.com/tetherhq/tether/internal/devcert"
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

// startTetherRow starts a `tetherd dev` of its own under dir, serving
// https/wss with a new self-signed certificate if useTLS is set and plain HTTP
// otherwise, registers and runs a separate tether-agent with it, and starts
// the CLI's port forward to port on that agent. It returns the row that
// measures this path and a function that stops what it started.
func startTetherRow(ctx context.Context, bin, dir string, useTLS bool, port int, self procSet) (_ *row, stop func(), err error) {
	name, sub, scheme := "tether port-forward", "tether", "http://"
	if useTLS {
		name, sub, scheme = "tether port-forward (TLS)", "tether-tls", "https://"
	}
	dir = filepath.Join(dir, sub)
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
			err = fmt.Errorf("%s: %w", name, err)
		}
	}()

	cfgDir := filepath.Join(dir, "config")
	env := benchenv.TetherEnv(cfgDir) // the CLI's and the agent's
	tdEnv := env
	var certFile string
	if useTLS {
		var keyFile string
		if certFile, keyFile, err = devcert.Write(filepath.Join(dir, "tls")); err != nil {
			return nil, nil, err
		}
		// tetherd's built-in agent connects over TLS too, so tetherd
		// also needs to trust the certificate.
		env = append(env, "SSL_CERT_FILE="+certFile)
		tdEnv = append(slices.Clip(env), "TETHER_TLS_CERT="+certFile, "TETHER_TLS_KEY="+keyFile)
	}
	benchenv.Progress("%s: starting tetherd…", name)
	td, err := benchenv.StartTetherdEnv(ctx, bin, tdEnv, filepath.Join(dir, "data"), startTimeout)
	if err != nil {
		return nil, nil, err
	}
	stops = append(stops, td.Stop)
	if !strings.HasPrefix(td.Endpoint, scheme) {
		return nil, nil, fmt.Errorf("tetherd serves %q, want %s…%s", td.Endpoint, scheme, logTails(td.Daemon))
	}
	note := "plain HTTP"
	if useTLS {
		td.Name = "tetherd (TLS)"
		if note, err = tlsParams(ctx, td.Endpoint, certFile); err != nil {
			return nil, nil, err
		}
	}
	benchenv.Progress("%s: registering and starting a separate tether-agent…", name)
	agent, id, err := benchenv.StartAgent(ctx, bin, env, td.Endpoint, filepath.Join(dir, "agent-state"), startTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("%w%s", err, logTails(td.Daemon))
	}
	stops = append(stops, agent.Stop)
	agentIdle := benchenv.StatusKiB(agent.Pid(), "VmRSS:") << 10
	benchenv.Progress("%s: starting the port-forwarding session to %s…", name, id)
	cli, addr, err := startTetherForward(ctx, filepath.Join(bin, "tether"), env, id, port, startTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("%w%s", err, logTails(td.Daemon, agent))
	}
	stops = append(stops, cli.Stop)
	return &row{
		name: name, addr: addr, note: note,
		cols: [3]string{"tetherd", "tether-agent", "tether"},
		procs: []procSet{
			{label: "tetherd", pid: td.Pid()}, {label: "tether-agent", pid: agent.Pid()},
			{label: "tether", pid: cli.Pid()}, self,
		},
		logs:      []*benchenv.Daemon{td.Daemon, agent, cli},
		agentIdle: agentIdle,
	}, stop, nil
}

// tlsParams connects to the https endpoint as the CLI and the agent do (Go's
// default TLS client configuration, trusting certFile) and describes what
// it negotiates: the version, the cipher suite and the certificate's key.
func tlsParams(ctx context.Context, endpoint, certFile string) (string, error) {
	pem, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	d := tls.Dialer{Config: &tls.Config{RootCAs: roots}}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return "", fmt.Errorf("TLS handshake with tetherd: %w", err)
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	key := "unknown key"
	if len(st.PeerCertificates) > 0 {
		cert := st.PeerCertificates[0]
		key = cert.PublicKeyAlgorithm.String()
		if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
			key += " " + k.Curve.Params().Name
		}
	}
	return fmt.Sprintf("%s %s, %s certificate", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), key), nil
}
