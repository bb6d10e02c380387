package e2e

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
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

// startTerm runs the tether CLI with args in a real PTY.
func startTerm(t *testing.T, s *testenv.Server, rows, cols uint16, args ...string) *testenv.Term {
	cmd := exec.Command(s.Bins.CLI, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	return testenv.StartTerm(t, cmd, rows, cols)
}

// waitErr is an Eventually error naming what is awaited and the output so far.
type waitErr struct{ re, out string }

func (e *waitErr) Error() string { return "waiting for " + e.re + " in output:\n" + e.out }

func TestPTYSession(t *testing.T) {
	s := testenv.StartDev(t)
	tm := startTerm(t, s, 30, 100, "start-session", "--target", s.InstanceID)
	pos := tm.Expect(0, `Starting session with SessionId: admin-[0-9a-f]{17}`)

	// The remote terminal has the local size from the start.
	tm.Send("stty size; echo SZ$((20+1))\r")
	pos = tm.Expect(pos, `30 100\s+SZ21`)

	// A resize reaches the remote PTY (SIGWINCH on our side).
	if err := pty.Setsize(tm.F, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, func() error {
		tm.Send("stty size\r")
		if !strings.Contains(tm.Output()[pos:], "40 120") {
			return &waitErr{"40 120", tm.Output()}
		}
		return nil
	})
	pos = len(tm.Output())

	// Ctrl-C interrupts the remote foreground job, not the CLI.
	tm.Send("sleep 30; echo SLEPT$((2+2))\r")
	pos = tm.Expect(pos, `sleep 30`)
	time.Sleep(300 * time.Millisecond) // let sleep start; there is nothing to poll for
	tm.Send("\x03")
	tm.Send("echo AFTER$((3+3))\r")
	pos = tm.Expect(pos, `AFTER6`)
	if strings.Contains(tm.Output(), "SLEPT4") {
		t.Fatal("Ctrl-C did not interrupt the remote job")
	}

	// Ctrl-Z stops it; the shell reports the job.
	tm.Send("sleep 31\r")
	pos = tm.Expect(pos, `sleep 31`)
	time.Sleep(300 * time.Millisecond)
	tm.Send("\x1a")
	pos = tm.Expect(pos, `Stopped`)
	tm.Send("kill -9 %1; echo KILLED$((4+4))\r")
	pos = tm.Expect(pos, `KILLED8`)

	// Ctrl-\ sends SIGQUIT to the foreground job.
	tm.Send("sleep 32; echo Q$((5+5))\r")
	pos = tm.Expect(pos, `sleep 32`)
	time.Sleep(300 * time.Millisecond)
	tm.Send("\x1c")
	// bash reports the job killed by SIGQUIT and goes on with the list.
	pos = tm.Expect(pos, `Quit`)
	tm.Expect(pos, `Q10`)

	// The remote exit status becomes the CLI's.
	tm.Send("exit 7\r")
	if code := tm.ExitCode(45 * time.Second); code != 7 {
		t.Fatalf("exit code %d, want 7; output:\n%s", code, tm.Output())
	}
}

func TestEscapeEndsSession(t *testing.T) {
	s := testenv.StartDev(t)
	tm := startTerm(t, s, 24, 80, "start-session", "--target", s.InstanceID)
	pos := tm.Expect(0, `Starting session with SessionId: (admin-[0-9a-f]{17})`)
	sid := regexp.MustCompile(`admin-[0-9a-f]{17}`).FindString(tm.Output())
	tm.Send("echo READY$((1+1))\r")
	tm.Expect(pos, `READY2`)
	tm.Send("\r~.")
	if code := tm.ExitCode(45 * time.Second); code != 255 {
		t.Fatalf("exit code %d, want 255", code)
	}
	if !strings.Contains(tm.Output(), "closed.") {
		t.Fatalf("no closing message in %q", tm.Output())
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
