package interop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestSSHSession runs OpenSSH through AWS-StartSSHSession with the
// ProxyCommand AWS documents (and the seed article uses), for every
// installed AWS CLI: the plugin carries stdin/stdout as one connection
// (protocol.md §4, no `type` property) to an sshd on the instance's
// loopback.
func TestSSHSession(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)
	s := testenv.StartDev(t)
	port, key := sshd(t)

	for _, cli := range clis {
		r := newCLIRun(t, cli, s, plugin)
		// As in ~/.ssh/config, with the endpoint that Debian's CLI needs as
		// a flag; the region comes from the profile's config file.
		proxy := fmt.Sprintf(`sh -c "%s ssm start-session --target %%h --document-name AWS-StartSSHSession --parameters 'portNumber=%%p' --endpoint-url %s"`,
			cli.path, s.URL)
		sshArgs := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ProxyCommand=" + proxy, "-i", key}
		ssh := func(name string, args ...string) *exec.Cmd {
			cmd := exec.Command(name, args...)
			cmd.Env = r.env
			return cmd
		}

		t.Run(cli.name()+"/ssh runs a command", func(t *testing.T) {
			r := *r
			r.t = t
			cmd := ssh("ssh", append(sshArgs, "-p", fmt.Sprint(port), "root@"+s.InstanceID, "echo ok")...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil || out.String() != "ok\n" {
				t.Fatalf("ssh: %v\nstdout %q\nstderr %q", err, out.String(), errb.String())
			}
			sshSessionsEnd(&r, s.InstanceID)
		})

		// The plugin sends at most 1 KiB of its stdin a millisecond
		// (protocol.md §3.4), so a 10 MiB upload takes 15-20 s: one CLI,
		// the one CI installs, copies; the CLI's only part is handing the
		// session to the plugin, which the ssh case covers for each.
		if cli.path != clis[0].path {
			continue
		}
		t.Run(cli.name()+"/scp of 10 MiB arrives intact, both ways", func(t *testing.T) {
			r := *r
			r.t = t
			dir := t.TempDir()
			src := filepath.Join(dir, "src")
			f, err := os.Create(src)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, 10<<20); err != nil {
				t.Fatal(err)
			}
			f.Close()
			want := h.Sum(nil)
			remote := "root@" + s.InstanceID + ":"
			for _, c := range []struct{ name, from, to string }{
				{"upload", src, remote + filepath.Join(dir, "up")},
				{"download", remote + src, filepath.Join(dir, "down")},
			} {
				start := time.Now()
				cmd := ssh("scp", append(append([]string{"-q"}, sshArgs...), "-P", fmt.Sprint(port), c.from, c.to)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("scp %s: %v\n%s", c.name, err, out)
				}
				t.Logf("scp %s of 10 MiB through the plugin: %v", c.name, time.Since(start).Round(time.Millisecond))
				b, err := os.ReadFile(strings.TrimPrefix(c.to, remote))
				if err != nil {
					t.Fatal(err)
				}
				if got := sha256.Sum256(b); len(b) != 10<<20 || !bytes.Equal(got[:], want) {
					t.Errorf("%s: the copy (%d bytes) differs from the original", c.name, len(b))
				}
			}
			sshSessionsEnd(&r, s.InstanceID)
		})
	}
}

// sshSessionsEnd waits until no AWS-StartSSHSession session on target is
// active and at least one is Terminated in History: the plugin exits at EOF
// on stdin without a word to the service, so the session ends when sshd
// closes the agent's connection.
func sshSessionsEnd(r *cliRun, target string) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() error {
		v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "Active", "--filters", "key=Target,value="+target)
		for _, x := range v["Sessions"].([]any) {
			if st := x.(map[string]any); st["DocumentName"] == "AWS-StartSSHSession" {
				return fmt.Errorf("session %s still active: %v", st["SessionId"], st)
			}
		}
		return nil
	})
	v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "History", "--filters", "key=Target,value="+target)
	for _, x := range v["Sessions"].([]any) {
		if st := x.(map[string]any); st["DocumentName"] == "AWS-StartSSHSession" && st["Status"] == "Terminated" && st["EndDate"] != nil {
			return
		}
	}
	r.t.Errorf("no Terminated AWS-StartSSHSession session in History: %v", v)
}

// sshd starts an OpenSSH server on loopback that accepts a new key for root,
// and returns its port and the private key's path (copied from
// internal/e2e/port_test.go). It skips without sshd, which .ci/run installs.
func sshd(t *testing.T) (port int, key string) {
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
	port = testenv.FreePort(t)
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\nPermitRootLogin prohibit-password\n"+
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile %s\nStrictModes no\nPrintMotd no\nPrintLastLog no\nSubsystem sftp internal-sftp\n",
		port, filepath.Join(dir, "host"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testenv.Start(t, nil, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", p.Stderr.String())
		}
	})
	testenv.Eventually(t, 15*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			select {
			case <-p.Done():
				return testenv.Permanent(fmt.Errorf("sshd exited: %s", p.Stderr.String()))
			default:
			}
			return err
		}
		c.Close()
		return nil
	})
	return port, filepath.Join(dir, "client")
}
