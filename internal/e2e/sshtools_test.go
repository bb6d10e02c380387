package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// sshOverTether returns ssh options that reach the sshd started by testenv.StartSSHD
// through `tether start-session --document-name AWS-StartSSHSession` as a
// ProxyCommand, the ~/.ssh/config block of the README; the host to name is
// root@<instance id>.
func sshOverTether(s *testenv.Server, port int, key string) []string {
	proxy := fmt.Sprintf("%s start-session --target %%h --document-name AWS-StartSSHSession --parameters portNumber=%%p", s.Bins.CLI)
	return []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ProxyCommand=" + proxy, "-i", key, "-p", fmt.Sprint(port)}
}

// shellQuote quotes args for the command line rsync -e takes.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestSSHToolsThroughTunnel: rsync and ssh -D (SOCKS) work through the
// ProxyCommand, as the README promises.
func TestSSHToolsThroughTunnel(t *testing.T) {
	s := testenv.StartDev(t)
	port, key := testenv.StartSSHD(t)
	sshArgs := sshOverTether(s, port, key)
	env := append(os.Environ(), s.Env()...)
	host := "root@" + s.InstanceID

	t.Run("rsync copies a tree, then only what changed", func(t *testing.T) {
		if _, err := exec.LookPath("rsync"); err != nil {
			t.Skip("rsync is not installed (apt-get install rsync); .ci/run installs it")
		}
		dir := t.TempDir()
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		files := map[string][]byte{
			"big.bin":           make([]byte, 20<<20),
			"small.txt":         []byte("hello through tether\n"),
			"nested/deeper/x":   make([]byte, 300<<10),
			"nested/empty-file": nil,
		}
		for name, b := range files {
			rand.Read(b)
			p := filepath.Join(src, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("small.txt", filepath.Join(src, "link")); err != nil {
			t.Fatal(err)
		}
		rsync := func() string {
			t.Helper()
			cmd := exec.Command("rsync", "-a", "--delete", "--stats", "-e", "ssh "+shellQuote(sshArgs), src+"/", host+":"+dst+"/")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("rsync: %v\n%s", err, out)
			}
			return string(out)
		}
		check := func() {
			t.Helper()
			for name, want := range files {
				got, err := os.ReadFile(filepath.Join(dst, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s differs after rsync (%d bytes, want %d)", name, len(got), len(want))
				}
			}
			if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "small.txt" {
				t.Fatalf("symlink: %q %v", l, err)
			}
			if fi, err := os.Stat(filepath.Join(dst, "small.txt")); err != nil || fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode not preserved: %v %v", fi, err)
			}
		}
		rsync()
		check()

		// Change 4 KiB in the middle of the big file and delete one: the
		// second run sends a delta, not the file again.
		copy(files["big.bin"][10<<20:], bytes.Repeat([]byte{0x5a}, 4096))
		if err := os.WriteFile(filepath.Join(src, "big.bin"), files["big.bin"], 0o640); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(src, "small.txt"))
		delete(files, "small.txt")
		os.Remove(filepath.Join(src, "link"))
		os.Symlink("nested/deeper/x", filepath.Join(src, "link"))
		out := rsync()
		var literal int64 = -1
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "Literal data: "); ok {
				fmt.Sscan(strings.ReplaceAll(strings.Fields(v)[0], ",", ""), &literal)
			}
		}
		t.Logf("second rsync: %d literal bytes for a 4 KiB change in 20 MiB", literal)
		if literal < 0 || literal >= 1<<20 {
			t.Fatalf("the second rsync sent %d literal bytes for a 4 KiB change; stats:\n%s", literal, out)
		}
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dst, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s differs after the second rsync: %v", name, err)
			}
		}
		if _, err := os.Lstat(filepath.Join(dst, "small.txt")); !os.IsNotExist(err) {
			t.Fatalf("small.txt was not deleted: %v", err)
		}
		if l, _ := os.Readlink(filepath.Join(dst, "link")); l != "nested/deeper/x" {
			t.Fatalf("symlink now points to %q", l)
		}
	})

	t.Run("ssh -D serves SOCKS through the tunnel", func(t *testing.T) {
		backend := testenv.HTTPBackend(t, "127.0.0.1:0")
		lport := testenv.FreePort(t)
		args := append(append([]string{}, sshArgs...), "-N", "-o", "ExitOnForwardFailure=yes", "-D", fmt.Sprintf("127.0.0.1:%d", lport), host)
		p := testenv.Start(t, s.Env(), "ssh", args...)
		// SIGTERM first, not the cleanup's SIGKILL: ssh then ends its
		// ProxyCommand, and with it the tunnel and sshd's session.
		defer func() { p.Signal(syscall.SIGTERM); p.Wait(10 * time.Second) }()
		client := &http.Client{
			Transport: &http.Transport{
				Proxy:             http.ProxyURL(&url.URL{Scheme: "socks5", Host: fmt.Sprintf("127.0.0.1:%d", lport)}),
				DisableKeepAlives: true,
			},
			Timeout: 30 * time.Second,
		}
		get := func(i int) error {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/d?i=%d", backend, i))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("reply %d", i); string(b) != want {
				return fmt.Errorf("request %d got %q, want %q", i, b, want)
			}
			return nil
		}
		// The first request waits for ssh to log in and listen.
		testenv.Eventually(t, 30*time.Second, func() error {
			select {
			case <-p.Done():
				return testenv.Permanent(fmt.Errorf("ssh -D exited: %s", p.Stderr.String()))
			default:
			}
			return get(-1)
		})
		// Then many SOCKS connections at once, each its own ssh channel in
		// the one tunnelled connection.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() {
				if err := get(i); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
