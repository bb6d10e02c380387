package e2e

import (
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/testenv"
)

func TestPipedSessionExitStatus(t *testing.T) {
	s := testenv.StartDev(t)
	r := s.CLI("uname -a\nexit 3\n", "start-session", "--target", s.InstanceID)
	if r.Code != 3 {
		t.Fatalf("exit code %d, want 3; stderr: %s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "Linux") {
		t.Fatalf("stdout %q lacks uname output", r.Stdout)
	}

	t.Run("stdout and stderr stay apart", func(t *testing.T) {
		r := s.CLI("echo to-out\necho to-err >&2\n", "start-session", "--target", s.InstanceID)
		if r.Code != 0 || r.Stdout != "to-out\n" || !strings.Contains(r.Stderr, "to-err") || strings.Contains(r.Stdout, "to-err") {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("end of input ends the shell", func(t *testing.T) {
		r := s.CLI("echo bye\n", "start-session", "--target", s.InstanceID)
		if r.Code != 0 || r.Stdout != "bye\n" {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("large output arrives whole", func(t *testing.T) {
		r := s.CLI("head -c 3000000 /dev/zero | tr '\\0' x\n", "start-session", "--target", s.InstanceID)
		if r.Code != 0 || len(r.Stdout) != 3000000 || strings.Trim(r.Stdout, "x") != "" {
			t.Fatalf("code %d, got %d bytes (want 3000000 x), stderr %q", r.Code, len(r.Stdout), r.Stderr)
		}
	})
	t.Run("agent secrets stay out of the session environment", func(t *testing.T) {
		r := s.CLI("env\n", "start-session", "--target", s.InstanceID)
		if strings.Contains(r.Stdout, "TETHER_CONFIG_DIR") || !strings.Contains(r.Stdout, "HOME=") {
			t.Fatalf("session environment:\n%s", r.Stdout)
		}
	})
	t.Run("the session is recorded with its exit status", func(t *testing.T) {
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "History")
		found := false
		for _, ss := range out.Sessions {
			if ss.Target == s.InstanceID && ss.Status == "Terminated" && strings.Contains(ss.Details, "exited with status 3") {
				found = true
				if !regexp.MustCompile(`^admin-[0-9a-f]{17}$`).MatchString(ss.SessionID) {
					t.Errorf("session id %q is not <username>-<17 hex>", ss.SessionID)
				}
			}
		}
		if !found {
			t.Fatalf("no terminated session with exit status 3 in %+v", out.Sessions)
		}
	})
}

// term drives the CLI inside a real PTY.
type term struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  strings.Builder
	done chan struct{} // the CLI exited
	read chan struct{} // the PTY reader saw EOF: all output is in buf
}

func startTerm(t *testing.T, s *testenv.Server, rows, cols uint16, args ...string) *term {
	cmd := exec.Command(s.Bins.CLI, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, f: f, cmd: cmd, done: make(chan struct{}), read: make(chan struct{})}
	go func() {
		defer close(tm.read)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.mu.Lock()
			tm.buf.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(tm.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-tm.done
		f.Close()
	})
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

func (tm *term) send(s string) {
	if _, err := io.WriteString(tm.f, s); err != nil {
		tm.t.Fatal(err)
	}
}

// expect waits for re to match the output after offset from.
func (tm *term) expect(from int, re string) int {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	var idx []int
	testenv.Eventually(tm.t, 45*time.Second, func() error {
		out := tm.output()
		if idx = rx.FindStringIndex(out[from:]); idx == nil {
			return &waitErr{re, out}
		}
		return nil
	})
	return from + idx[1]
}

type waitErr struct{ re, out string }

func (e *waitErr) Error() string { return "waiting for " + e.re + " in output:\n" + e.out }

func (tm *term) exitCode(d time.Duration) int {
	tm.t.Helper()
	select {
	case <-tm.done:
		select { // the last output may still be in the PTY
		case <-tm.read:
		case <-time.After(5 * time.Second):
		}
		return tm.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		tm.t.Fatalf("CLI still running after %v; output:\n%s", d, tm.output())
		return -1
	}
}

func TestPTYSession(t *testing.T) {
	s := testenv.StartDev(t)
	tm := startTerm(t, s, 30, 100, "start-session", "--target", s.InstanceID)
	pos := tm.expect(0, `Starting session with SessionId: admin-[0-9a-f]{17}`)

	// The remote terminal has the local size from the start.
	tm.send("stty size; echo SZ$((20+1))\r")
	pos = tm.expect(pos, `30 100\s+SZ21`)

	// A resize reaches the remote PTY (SIGWINCH on our side).
	if err := pty.Setsize(tm.f, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		tm.send("stty size\r")
		if !strings.Contains(tm.output()[pos:], "40 120") {
			return &waitErr{"40 120", tm.output()}
		}
		return nil
	})
	pos = len(tm.output())

	// Ctrl-C interrupts the remote foreground job, not the CLI.
	tm.send("sleep 30; echo SLEPT$((2+2))\r")
	pos = tm.expect(pos, `sleep 30`)
	time.Sleep(300 * time.Millisecond) // let sleep start; there is nothing to poll for
	tm.send("\x03")
	tm.send("echo AFTER$((3+3))\r")
	pos = tm.expect(pos, `AFTER6`)
	if strings.Contains(tm.output(), "SLEPT4") {
		t.Fatal("Ctrl-C did not interrupt the remote job")
	}

	// Ctrl-Z stops it; the shell reports the job.
	tm.send("sleep 31\r")
	pos = tm.expect(pos, `sleep 31`)
	time.Sleep(300 * time.Millisecond)
	tm.send("\x1a")
	pos = tm.expect(pos, `Stopped`)
	tm.send("kill -9 %1; echo KILLED$((4+4))\r")
	pos = tm.expect(pos, `KILLED8`)

	// Ctrl-\ sends SIGQUIT to the foreground job.
	tm.send("sleep 32; echo Q$((5+5))\r")
	pos = tm.expect(pos, `sleep 32`)
	time.Sleep(300 * time.Millisecond)
	tm.send("\x1c")
	// bash reports the job killed by SIGQUIT and goes on with the list.
	pos = tm.expect(pos, `Quit`)
	tm.expect(pos, `Q10`)

	// The remote exit status becomes the CLI's.
	tm.send("exit 7\r")
	if code := tm.exitCode(45 * time.Second); code != 7 {
		t.Fatalf("exit code %d, want 7; output:\n%s", code, tm.output())
	}
}

func TestEscapeEndsSession(t *testing.T) {
	s := testenv.StartDev(t)
	tm := startTerm(t, s, 24, 80, "start-session", "--target", s.InstanceID)
	pos := tm.expect(0, `Starting session with SessionId: (admin-[0-9a-f]{17})`)
	sid := regexp.MustCompile(`admin-[0-9a-f]{17}`).FindString(tm.output())
	tm.send("echo READY$((1+1))\r")
	tm.expect(pos, `READY2`)
	tm.send("\r~.")
	if code := tm.exitCode(45 * time.Second); code != 255 {
		t.Fatalf("exit code %d, want 255", code)
	}
	if !strings.Contains(tm.output(), "closed.") {
		t.Fatalf("no closing message in %q", tm.output())
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "History", "--filters", "key=SessionId,value="+sid)
		if len(out.Sessions) != 1 || out.Sessions[0].Status != "Terminated" {
			return &waitErr{"terminated " + sid, ""}
		}
		return nil
	})
}

func TestTerminateSessionEndsClient(t *testing.T) {
	s := testenv.StartDev(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bins.CLI, "start-session", "--target", s.InstanceID)
	cmd.Env = append(os.Environ(), s.Env()...)
	stdin, _ := cmd.StdinPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var sid string
	testenv.Eventually(t, 15*time.Second, func() error {
		var out api.DescribeSessionsOutput
		s.JSON(&out, "describe-sessions", "--state", "Active")
		for _, ss := range out.Sessions {
			if ss.Status == "Connected" {
				sid = ss.SessionID
				return nil
			}
		}
		return &waitErr{"a connected session", ""}
	})
	if r := s.CLI("", "terminate-session", "--session-id", sid); r.Code != 0 {
		t.Fatalf("terminate-session: %d %s", r.Code, r.Stderr)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
		t.Fatalf("CLI ended with %v, want exit 255", err)
	}
	if !strings.Contains(stderr.String(), "terminated by arn:aws:iam::") {
		t.Fatalf("stderr %q does not say who terminated the session", stderr.String())
	}
	var out api.DescribeSessionsOutput
	s.JSON(&out, "describe-sessions", "--state", "History", "--filters", "key=SessionId,value="+sid)
	if len(out.Sessions) != 1 || out.Sessions[0].Status != "Terminated" || out.Sessions[0].EndDate == 0 {
		t.Fatalf("history: %+v", out.Sessions)
	}
}
