package benchenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// SSHDPath is the sshd a benchmark runs as its peer.
const SSHDPath = "/usr/sbin/sshd"

// SSHD is a private sshd on loopback that accepts only a client key made
// for it.
type SSHD struct {
	*Daemon
	Port      int
	ClientKey string
}

// SSH returns the ssh command line that logs in to s, with extra options
// before the destination and without a remote command. -F /dev/null keeps
// the user's ssh config (multiplexing, proxies) out of the measurement;
// logLevel ERROR keeps the known-hosts warning out of the output.
func (s *SSHD) SSH(logLevel string, extra ...string) []string {
	ssh := []string{"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=" + logLevel,
		"-i", s.ClientKey, "-p", fmt.Sprint(s.Port)}
	return append(append(ssh, extra...), "127.0.0.1")
}

// StartSSHD starts a private sshd on a free loopback port with its own host
// key and a client key, both made in dir, which it creates.
func StartSSHD(ctx context.Context, dir string, timeout time.Duration) (*SSHD, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	hostKey, clientKey := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "client_ed25519")
	for _, key := range []string{hostKey, clientKey} {
		out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tether-bench", "-f", key).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ssh-keygen: %w: %s", err, out)
		}
	}
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0o600); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	// No motd or last-login banner, so ssh's first byte is the shell's
	// prompt, as it is for tether.
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
PidFile none
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile %s
PrintMotd no
PrintLastLog no
`, port, hostKey, authorized)), 0o600); err != nil {
		return nil, err
	}
	removePrivsep, err := privsepDir()
	if err != nil {
		return nil, err
	}

	stderr := NewLineWatch("Server listening on")
	d, err := StartDaemon(ctx, "sshd", os.Environ(), NewLineWatch(""), stderr, SSHDPath, "-D", "-e", "-f", config)
	if err != nil {
		removePrivsep()
		return nil, err
	}
	d.After = removePrivsep
	if _, err := d.Await(ctx, timeout, stderr); err != nil {
		d.Stop()
		return nil, err
	}
	return &SSHD{Daemon: d, Port: port, ClientKey: clientKey}, nil
}

// privsepDir creates the empty directory a root sshd insists on, which
// normally comes from the ssh service unit we do not use, and returns how to
// remove it again if we made it.
func privsepDir() (remove func(), err error) {
	const dir = "/run/sshd"
	if _, err := os.Stat(dir); os.Geteuid() != 0 || err == nil {
		return func() {}, nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sshd privilege separation directory: %w", err)
	}
	return func() { _ = os.Remove(dir) }, nil
}

// FreePort returns a loopback port nothing listens on right now. sshd cannot
// report a port the kernel chose, so this is the usual small race.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
