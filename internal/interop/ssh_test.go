package interop

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
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
	port, key := testenv.StartSSHD(t)

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
