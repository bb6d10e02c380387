package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/testenv"
)

// startForward runs `tether start-session` for a port document and returns
// the local port it opened.
func startForward(t *testing.T, s *testenv.Server, target, doc, params string) (int, *testenv.Proc) {
	t.Helper()
	p := testenv.Start(t, s.Env(), s.Bins.CLI, "start-session", "--target", target, "--document-name", doc, "--parameters", params)
	var port int
	testenv.Eventually(t, 30*time.Second, func() error {
		select {
		case <-p.Done():
			return testenv.Permanent(fmt.Errorf("CLI exited: %s %s", p.Stdout.String(), p.Stderr.String()))
		default:
		}
		m := regexp.MustCompile(`Port (\d+) opened for sessionId`).FindStringSubmatch(p.Stdout.String())
		if m == nil {
			return fmt.Errorf("no port yet: %q", p.Stdout.String())
		}
		fmt.Sscan(m[1], &port)
		return nil
	})
	return port, p
}

func TestPortForwarding(t *testing.T) {
	s := testenv.StartDev(t)
	backend := testenv.HTTPBackend(t, "127.0.0.1:0")
	local, cli := startForward(t, s, s.InstanceID, "AWS-StartPortForwardingSession", fmt.Sprintf("portNumber=%d,localPortNumber=0", backend))

	t.Run("50 concurrent HTTP requests through one session", func(t *testing.T) {
		testenv.ConcurrentGets(t, fmt.Sprintf("127.0.0.1:%d", local), 50)
	})
	t.Run("each forwarded connection is an audit event", func(t *testing.T) {
		testenv.Eventually(t, 15*time.Second, func() error {
			f, err := os.Open(filepath.Join(s.DataDir, "audit.jsonl"))
			if err != nil {
				return err
			}
			defer f.Close()
			evs, err := audit.Read(f)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range evs {
				if e.Kind == "tunnel" && strings.HasSuffix(e.Resource, fmt.Sprint(backend)) && e.Details["bytesIn"] != "0" &&
					e.Details["bytesOut"] != "0" && strings.HasSuffix(e.Principal, ":user/admin") && strings.HasPrefix(e.Details["sessionId"], "admin-") {
					n++
				}
			}
			if n < 50 {
				return fmt.Errorf("%d tunnel events, want 50", n)
			}
			return nil
		})
	})
	cli.Kill()

	t.Run("a closed port reports ConnectToPortError and the session survives", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := l.Addr().(*net.TCPAddr).Port
		l.Close()
		local, cli := startForward(t, s, s.InstanceID, "AWS-StartPortForwardingSession", fmt.Sprintf("portNumber=%d,localPortNumber=0", closed))
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read from a forward to a closed port succeeded")
		}
		c.Close()
		testenv.Eventually(t, 15*time.Second, func() error {
			if !strings.Contains(cli.Stderr.String(), "Connection to destination port failed") {
				return fmt.Errorf("no ConnectToPortError message: %q", cli.Stderr.String())
			}
			return nil
		})
		// Now something listens there: the same session carries it.
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", closed))
		if err != nil {
			t.Skipf("port %d was taken meanwhile: %v", closed, err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("alive"))
				c.Close()
			}
		}()
		c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		b, _ := io.ReadAll(c)
		if string(b) != "alive" {
			t.Fatalf("after the error the session carried %q", b)
		}
		select {
		case <-cli.Done():
			t.Fatal("the CLI exited after a failed connection")
		default:
		}
	})
	t.Run("the deny list refuses metadata and loopback remote hosts", func(t *testing.T) {
		for _, host := range []string{"169.254.169.254", "127.0.0.1"} {
			local, cli := startForward(t, s, s.InstanceID, "AWS-StartPortForwardingSessionToRemoteHost", fmt.Sprintf("host=%s,portNumber=%d,localPortNumber=0", host, backend))
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			if n, err := c.Read(make([]byte, 64)); err == nil {
				t.Fatalf("%s: got %d bytes through a denied destination", host, n)
			}
			c.Close()
			testenv.Eventually(t, 15*time.Second, func() error {
				if !strings.Contains(s.Proc.Stderr.String(), "deny list") {
					return fmt.Errorf("agent log does not mention the deny list")
				}
				return nil
			})
			cli.Kill()
		}
	})
}

func TestSSHThroughTunnel(t *testing.T) {
	s := testenv.StartDev(t)
	port, key := testenv.StartSSHD(t)
	proxy := fmt.Sprintf("%s start-session --target %%h --document-name AWS-StartSSHSession --parameters portNumber=%%p", s.Bins.CLI)
	sshArgs := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ProxyCommand=" + proxy, "-i", key}
	env := append(os.Environ(), s.Env()...)

	t.Run("ssh runs a command", func(t *testing.T) {
		cmd := exec.Command("ssh", append(sshArgs, "-p", fmt.Sprint(port), "root@"+s.InstanceID, "echo over-tether; exit 4")...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 || !strings.Contains(string(out), "over-tether") {
			t.Fatalf("ssh: %v %s", err, out)
		}
	})
	t.Run("scp of 100 MiB arrives intact", func(t *testing.T) {
		dir := t.TempDir()
		src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
		f, _ := os.Create(src)
		h := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, 100<<20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want := h.Sum(nil)
		start := time.Now()
		cmd := exec.Command("scp", append(append([]string{"-q"}, sshArgs...), "-P", fmt.Sprint(port), src, "root@"+s.InstanceID+":"+dst)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scp: %v %s", err, out)
		}
		t.Logf("scp 100 MiB through tether: %v", time.Since(start).Round(time.Millisecond))
		g, _ := os.Open(dst)
		defer g.Close()
		h2 := sha256.New()
		io.Copy(h2, bufio.NewReader(g))
		if fmt.Sprintf("%x", h2.Sum(nil)) != fmt.Sprintf("%x", want) {
			t.Fatal("the copy differs from the original")
		}
	})
	t.Run("ssh -L forwards through the tunnel", func(t *testing.T) {
		backend := testenv.HTTPBackend(t, "127.0.0.1:0")
		lport := testenv.FreePort(t)
		cmd := exec.Command("ssh", append(sshArgs, "-N", "-L", fmt.Sprintf("%d:127.0.0.1:%d", lport, backend), "-p", fmt.Sprint(port), "root@"+s.InstanceID)...)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// SIGTERM, not SIGKILL: ssh then ends its ProxyCommand, and with it
		// the tunnel and sshd's session.
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		testenv.Eventually(t, 30*time.Second, func() error {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/x?i=L", lport))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "reply L" {
				return fmt.Errorf("got %q", b)
			}
			return nil
		})
	})
}

// TestPushedSSHKey: a key pushed with send-ssh-public-key logs in through
// sshd's AuthorizedKeysCommand while it is valid, and not after.
func TestPushedSSHKey(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("sshd is not installed (apt-get install openssh-server); .ci/run installs it")
	}
	s := testenv.StartDevWith(t, testenv.Options{Env: []string{"TETHER_SSH_KEY_TTL=15s"}})
	// sshd runs AuthorizedKeysCommand only from a root-owned path that no
	// one else can write, so the agent binary is copied to one.
	bindir, err := os.MkdirTemp("/run", "tether-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bindir) })
	os.Chmod(bindir, 0o755)
	helper := filepath.Join(bindir, "tether-agent")
	b, _ := os.ReadFile(s.Bins.Agent)
	if err := os.WriteFile(helper, b, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host")},
		{"-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "pushed")},
	} {
		if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	os.MkdirAll("/run/sshd", 0o755)
	port := testenv.FreePort(t)
	stateDir := filepath.Join(s.DataDir, "agent")
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile none\nUsePAM no\nPermitRootLogin prohibit-password\n"+
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile none\nStrictModes no\n"+
		"AuthorizedKeysCommand %s authorized-keys --state-dir %s %%u %%f\nAuthorizedKeysCommandUser root\n",
		port, filepath.Join(dir, "host"), helper, stateDir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	testenv.Start(t, nil, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	testenv.Eventually(t, 15*time.Second, func() error {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err
	})
	login := func() error {
		cmd := exec.Command("ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "LogLevel=ERROR", "-i", filepath.Join(dir, "pushed"), "-p", fmt.Sprint(port), "root@127.0.0.1", "echo pushed-ok")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "pushed-ok") {
			return fmt.Errorf("ssh: %v %s", err, out)
		}
		return nil
	}
	if login() == nil {
		t.Fatal("the key logged in before it was pushed")
	}
	r := s.CLI("", "send-ssh-public-key", "--target", s.InstanceID, "--os-user", "root", "--ssh-public-key", filepath.Join(dir, "pushed.pub"))
	if r.Code != 0 {
		t.Fatalf("send-ssh-public-key: %d %s", r.Code, r.Stderr)
	}
	pushedAt := time.Now()
	testenv.Eventually(t, 10*time.Second, login) // the agent stores it within moments
	// After the TTL it no longer works.
	testenv.Eventually(t, 40*time.Second, func() error {
		if err := login(); err == nil {
			return fmt.Errorf("still accepted %v after the push", time.Since(pushedAt).Round(time.Second))
		}
		return nil
	})
	if d := time.Since(pushedAt); d < 15*time.Second {
		t.Fatalf("the key stopped working after %v, before its 15 s TTL", d)
	}
	// A bad key and a bad user name are refused by the server.
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(bad, []byte("ssh-ed25519 !!!notbase64\ncommand=\"sh\" ssh-rsa AAAA"), 0o600)
	if r := s.CLI("", "send-ssh-public-key", "--target", s.InstanceID, "--os-user", "root", "--ssh-public-key", bad); r.Code != 254 || !strings.Contains(r.Stderr, "ValidationException") {
		t.Fatalf("bad key: %d %s", r.Code, r.Stderr)
	}
	if r := s.CLI("", "send-ssh-public-key", "--target", s.InstanceID, "--os-user", "root;id", "--ssh-public-key", filepath.Join(dir, "pushed.pub")); r.Code != 254 {
		t.Fatalf("bad user: %d %s", r.Code, r.Stderr)
	}
}

// namedServer answers every request with its name.
func namedServer(t *testing.T, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSeveralForwardsInOneSession(t *testing.T) {
	s := testenv.StartDev(t)
	a, b := namedServer(t, "alpha"), namedServer(t, "bravo")
	cli := testenv.Start(t, s.Env(), s.Bins.CLI, "start-session", "--target", s.InstanceID,
		"--forward", fmt.Sprintf("0:%d", a), "--forward", fmt.Sprintf("0:%d", b), "--forward", "0:169.254.169.254:80")
	re := regexp.MustCompile(`Port (\d+) opened for sessionId admin-[0-9a-f]{17} \(to ([^)]+)\)`)
	var ports map[string]int
	testenv.Eventually(t, 30*time.Second, func() error {
		m := re.FindAllStringSubmatch(cli.Stdout.String(), -1)
		if len(m) != 3 {
			return fmt.Errorf("%d forwards opened: %q %q", len(m), cli.Stdout.String(), cli.Stderr.String())
		}
		ports = map[string]int{}
		for _, x := range m {
			var n int
			fmt.Sscan(x[1], &n)
			ports[x[2]] = n
		}
		return nil
	})
	for dest, want := range map[string]string{fmt.Sprint(a): "alpha", fmt.Sprint(b): "bravo"} {
		for range 3 {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[dest]))
			if err != nil {
				t.Fatalf("through the forward to %s: %v", dest, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != want {
				t.Fatalf("forward to %s answered %q, want %q", dest, body, want)
			}
		}
	}
	// The metadata address is refused by the deny list; the others go on.
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports["169.254.169.254:80"]))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if n, err := c.Read(make([]byte, 16)); err == nil {
		t.Fatalf("read %d bytes through a denied destination", n)
	}
	c.Close()
	testenv.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(cli.Stderr.String(), "Connection to destination port failed") {
			return fmt.Errorf("no ConnectToPortError: %q", cli.Stderr.String())
		}
		return nil
	})
	var sess []struct{ SessionId, DocumentName string }
	var out struct {
		Sessions []struct{ SessionId, DocumentName string }
	}
	s.JSON(&out, "describe-sessions", "--state", "Active")
	sess = out.Sessions
	if len(sess) != 1 || sess[0].DocumentName != "Tether-StartPortForwardingSessionMulti" {
		t.Fatalf("want one session for all forwards, got %+v", sess)
	}
}
