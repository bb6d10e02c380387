package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartSSHD starts an OpenSSH server on loopback that accepts a new key for
// root, and returns its port and the private key's path. It skips the test
// without sshd, which .ci/run installs.
func StartSSHD(t testing.TB) (port int, key string) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("sshd is not installed (apt-get install openssh-server); .ci/run installs it")
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host")},
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "client")},
	} {
		if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	port = FreePort(t)
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\nPermitRootLogin prohibit-password\n"+
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile %s\nStrictModes no\nPrintMotd no\nPrintLastLog no\nSubsystem sftp internal-sftp\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, nil, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", p.Stderr.String())
		}
	})
	Eventually(t, 15*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			select {
			case <-p.Done():
				return Permanent(fmt.Errorf("sshd exited: %s", p.Stderr.String()))
			default:
			}
			return err
		}
		c.Close()
		return nil
	})
	return port, filepath.Join(dir, "client")
}
