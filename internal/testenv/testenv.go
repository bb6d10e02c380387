// Package testenv starts real Tether processes on loopback for tests: the
// binaries built from cmd/, a `tetherd dev` server with its in-process agent,
// separately registered `tether-agent` processes, and CLI invocations. Child
// binaries are built with -race when the tests are, and a data race reported
// by any child fails the test. Test-only; never imported by binaries.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/profile"
)

// Binaries are the built tetherd, tether-agent and tether.
type Binaries struct {
	Dir     string
	Tetherd string
	Agent   string
	CLI     string
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// RepoRoot finds the module root by walking up to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the three binaries once per test process.
func Build(t testing.TB) Binaries {
	t.Helper()
	buildOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "tether-bin-")
		if err != nil {
			buildErr = err
			return
		}
		args := []string{"build", "-o", dir + "/"}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/tetherd", "./cmd/tether-agent", "./cmd/tether")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built = Binaries{Dir: dir, Tetherd: filepath.Join(dir, "tetherd"), Agent: filepath.Join(dir, "tether-agent"), CLI: filepath.Join(dir, "tether")}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// SyncBuffer is a goroutine-safe bytes.Buffer.
type SyncBuffer = syncBuffer

// Main runs a test package's tests and removes the binaries Build made for
// it (about 40 MB a process). Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if built.Dir != "" {
		os.RemoveAll(built.Dir)
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Proc is a child process with captured output.
type Proc struct {
	Cmd    *exec.Cmd
	Stdout *syncBuffer
	Stderr *syncBuffer
	done   chan struct{}
	err    error
}

// Start runs a process in its own process group; it is killed at cleanup and
// its stderr is checked for data-race reports.
func Start(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig: when go test kills a test binary that timed out, its
	// servers and agents must not live on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Proc{Cmd: cmd, Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	// A grandchild that left the process group (sshd's per-connection
	// children call setsid) may hold the output pipes open: do not let
	// that hang Wait after the process itself has exited.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if strings.Contains(p.Stderr.String(), "DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", filepath.Base(name), p.Stderr.String())
		}
	})
	return p
}

// Kill ends the process group and waits.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) { p.Cmd.Process.Signal(sig) }

// Wait waits up to d for the process to exit and returns its exit code, or
// -1 if it is still running.
func (p *Proc) Wait(d time.Duration) int {
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// Done is closed when the process exits.
func (p *Proc) Done() <-chan struct{} { return p.done }

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a running `tetherd dev`.
type Server struct {
	Bins       Binaries
	URL        string
	InstanceID string // the in-process dev agent
	DataDir    string
	ConfigDir  string
	Proc       *Proc
	// ExtraEnv is passed to tetherd, agents and CLI runs (e.g. SSL_CERT_FILE).
	ExtraEnv []string
	t        testing.TB
	args     []string // tetherd's command line, for Restart
}

var instanceRe = regexp.MustCompile(`instance\s+(mi-[0-9a-f]{17})`)

// StartDev starts `tetherd dev` with extra flags and waits until its agent
// is online.
func StartDev(t testing.TB, extra ...string) *Server {
	t.Helper()
	return StartDevWith(t, Options{Args: extra})
}

// Options configure StartDevWith.
type Options struct {
	Args []string // extra tetherd flags
	Env  []string // extra environment for every process
	TLS  bool     // the server is https (TETHER_TLS_CERT/KEY in Env)
}

// StartDevWith starts `tetherd dev` with options.
func StartDevWith(t testing.TB, o Options) *Server {
	t.Helper()
	bins := Build(t)
	s := &Server{Bins: bins, DataDir: t.TempDir(), ConfigDir: t.TempDir(), ExtraEnv: o.Env, t: t}
	port := FreePort(t)
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	s.URL = fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
	s.args = append([]string{"dev", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", s.DataDir, "--log-level", "debug"}, o.Args...)
	s.Proc = Start(t, s.Env(), bins.Tetherd, s.args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tetherd log:\n%s", tail(s.Proc.Stderr.String(), 150))
		}
	})
	s.waitUp()
	return s
}

// Restart stops tetherd with sig (SIGKILL: a crash) and starts it again on
// the same address and data dir, then waits for its agent.
func (s *Server) Restart(sig syscall.Signal) {
	s.t.Helper()
	s.Proc.Signal(sig)
	s.Proc.Wait(30 * time.Second)
	select {
	case <-s.Proc.Done():
	default:
		s.t.Fatal("tetherd did not stop within 30 s")
	}
	prev := s.Proc
	s.Proc = Start(s.t, s.Env(), s.Bins.Tetherd, s.args...)
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("tetherd log before the restart:\n%s", tail(prev.Stderr.String(), 80))
		}
	})
	s.waitUp()
}

func (s *Server) waitUp() {
	t := s.t
	t.Helper()
	Eventually(t, 60*time.Second, func() error {
		select {
		case <-s.Proc.Done():
			return Permanent(fmt.Errorf("tetherd exited: %s", s.Proc.Stderr.String()))
		default:
		}
		m := instanceRe.FindStringSubmatch(s.Proc.Stdout.String())
		if m == nil {
			return fmt.Errorf("no instance line yet")
		}
		s.InstanceID = m[1]
		return nil
	})
	s.WaitPing(s.InstanceID, "Online")
}

// SetT binds a Server built by hand (not by StartDev) to a test.
func (s *Server) SetT(t testing.TB) { s.t = t }

// Env returns the environment a CLI run against this server needs.
func (s *Server) Env() []string {
	return append([]string{"TETHER_CONFIG_DIR=" + s.ConfigDir}, s.ExtraEnv...)
}

// Profile returns the admin profile tetherd dev wrote.
func (s *Server) Profile() profile.Profile {
	p, err := profile.Load(s.ConfigDir, "default")
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// Result is a finished CLI run.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs `tether args...` with stdin and waits (at most a minute).
func (s *Server) CLI(stdin string, args ...string) Result {
	s.t.Helper()
	return s.CLIEnv(nil, stdin, args...)
}

// As returns the environment that makes the CLI use an access key.
func As(accessKeyID, secret string) []string {
	return []string{"TETHER_ACCESS_KEY_ID=" + accessKeyID, "TETHER_SECRET_ACCESS_KEY=" + secret}
}

// CLIEnv is CLI with extra environment (e.g. As(...)).
func (s *Server) CLIEnv(env []string, stdin string, args ...string) Result {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bins.CLI, args...)
	cmd.Env = append(append(os.Environ(), s.Env()...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			s.t.Fatalf("run tether %v: %v", args, err)
		}
	}
	if strings.Contains(errb.String(), "DATA RACE") {
		s.t.Errorf("tether reported a data race:\n%s", errb.String())
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// JSON runs a CLI command with --output json and decodes stdout.
func (s *Server) JSON(out any, args ...string) {
	s.t.Helper()
	r := s.CLI("", append(args, "--output", "json")...)
	if r.Code != 0 {
		s.t.Fatalf("tether %v: exit %d: %s", args, r.Code, r.Stderr)
	}
	if err := json.Unmarshal([]byte(r.Stdout), out); err != nil {
		s.t.Fatalf("tether %v: bad JSON %q: %v", args, r.Stdout, err)
	}
}

// Instance returns one instance's information.
func (s *Server) Instance(id string) (api.InstanceInformation, bool) {
	var out api.DescribeInstanceInformationOutput
	s.JSON(&out, "describe-instance-information", "--filters", "Key=InstanceIds,Values="+id)
	for _, i := range out.InstanceInformationList {
		if i.InstanceID == id {
			return i, true
		}
	}
	return api.InstanceInformation{}, false
}

// WaitPing waits until an instance's PingStatus is want.
func (s *Server) WaitPing(id, want string) {
	s.t.Helper()
	Eventually(s.t, 60*time.Second, func() error {
		i, ok := s.Instance(id)
		if !ok {
			return fmt.Errorf("instance %s not listed", id)
		}
		if i.PingStatus != want {
			return fmt.Errorf("PingStatus %s, want %s", i.PingStatus, want)
		}
		return nil
	})
}

// Agent is a separately started tether-agent process.
type Agent struct {
	InstanceID string
	StateDir   string
	Proc       *Proc
	Flags      []string // extra `tether-agent run` flags
}

// RestartAgent stops a's process with sig (SIGKILL: a crash) and runs it
// again with the same identity, waiting until it is online.
func (s *Server) RestartAgent(a *Agent, sig syscall.Signal) {
	s.t.Helper()
	a.Proc.Signal(sig)
	a.Proc.Wait(30 * time.Second)
	s.runAgent(a)
}

func (s *Server) runAgent(a *Agent) {
	a.Proc = Start(s.t, s.ExtraEnv, s.Bins.Agent, append([]string{"run", "--state-dir", a.StateDir, "--log-level", "debug"}, a.Flags...)...)
	s.WaitPing(a.InstanceID, "Online")
}

// StartAgent creates an activation with the CLI, registers a new
// tether-agent with it and runs it.
func (s *Server) StartAgent(name string, tags ...string) *Agent {
	s.t.Helper()
	return s.StartAgentWith(name, nil, tags...)
}

// StartAgentWith is StartAgent with extra `tether-agent run` flags.
func (s *Server) StartAgentWith(name string, flags []string, tags ...string) *Agent {
	s.t.Helper()
	args := []string{"create-activation", "--default-instance-name", name, "--registration-limit", "1"}
	if len(tags) > 0 {
		args = append(args, "--tags", strings.Join(tags, ","))
	}
	var act api.CreateActivationOutput
	s.JSON(&act, args...)
	a := &Agent{StateDir: filepath.Join(s.t.TempDir(), "agent")}
	reg := exec.Command(s.Bins.Agent, "register", "--endpoint", s.URL, "--activation-id", act.ActivationID,
		"--activation-code", act.ActivationCode, "--state-dir", a.StateDir)
	reg.Env = append(os.Environ(), s.ExtraEnv...)
	out, err := reg.CombinedOutput()
	if err != nil {
		s.t.Fatalf("tether-agent register: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`mi-[0-9a-f]{17}`).FindString(string(out))
	if m == "" {
		s.t.Fatalf("no instance id in %q", out)
	}
	a.InstanceID = m
	a.Flags = flags
	s.runAgent(a)
	return a
}

// permanent marks an error that Eventually should not retry.
type permanent struct{ error }

// Permanent wraps err so Eventually fails at once.
func Permanent(err error) error { return permanent{err} }

// Eventually polls f until it returns nil or the deadline passes.
func Eventually(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	wait := 10 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return
		}
		if p, ok := err.(permanent); ok {
			t.Fatal(p.error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", d, err)
		}
		time.Sleep(wait)
		wait = min(wait*2, 250*time.Millisecond)
	}
}

// ListeningSockets returns the TCP/UDP listening sockets a process owns, by
// matching its socket inodes against /proc/net/{tcp,tcp6,udp,udp6}.
func ListeningSockets(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		fh, err := os.Open("/proc/net/" + f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			// TCP state 0A is LISTEN; an unconnected UDP socket (07 with
			// remote 0) is a listener too.
			listening := (strings.HasPrefix(f, "tcp") && fields[3] == "0A") ||
				(strings.HasPrefix(f, "udp") && fields[3] == "07" && strings.HasSuffix(fields[2], ":0000"))
			if listening && inodes[fields[9]] {
				out = append(out, f+" "+fields[1])
			}
		}
		fh.Close()
	}
	return out, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
