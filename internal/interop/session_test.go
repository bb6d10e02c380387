package interop

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tetherhq/tether/internal/testenv"
)

// TestShellSession opens the same interactive shell on tetherd's dev agent
// through `aws ssm start-session` with AWS's session-manager-plugin (for
// every installed AWS CLI) and through `tether start-session`, in a PTY and
// piped, so Tether's server and its own client stay in step with the
// official one.
func TestShellSession(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)
	s := testenv.StartDev(t)

	for _, cli := range clis {
		r := newCLIRun(t, cli, s, plugin)
		t.Run(cli.name()+"/pty", func(t *testing.T) {
			r := *r
			r.t = t
			sid := ptyShell(t, r.command("ssm", "start-session", "--target", s.InstanceID), func(sid string) {
				// While it runs, the session is Active and Connected.
				v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "Active",
					"--filters", "key=SessionId,value="+sid)
				if st := findItem(v, "Sessions", "SessionId", sid); st == nil || st["Status"] != "Connected" ||
					st["Target"] != s.InstanceID || st["DocumentName"] != "SSM-SessionManagerRunShell" || st["EndDate"] != nil {
					t.Errorf("active session: %v", v)
				}
			})
			waitHistory(&r, sid)
		})

		t.Run(cli.name()+"/piped", func(t *testing.T) {
			r := *r
			r.t = t
			pipedShell(&r, s)
		})

		t.Run(cli.name()+"/piped stdin closed", func(t *testing.T) {
			r := *r
			r.t = t
			closedStdin(&r, s)
		})

		t.Run(cli.name()+"/terminate-session", func(t *testing.T) {
			r := *r
			r.t = t
			terminate(&r, s)
		})
	}

	t.Run("tether/pty", func(t *testing.T) {
		cmd := exec.Command(s.Bins.CLI, "start-session", "--target", s.InstanceID)
		cmd.Env = append(os.Environ(), s.Env()...)
		sid := ptyShell(t, cmd, nil)
		var out struct {
			Sessions []struct{ SessionId, Status string }
		}
		s.SetT(t)
		s.JSON(&out, "describe-sessions", "--state", "History", "--filters", "key=SessionId,value="+sid)
		if len(out.Sessions) != 1 || out.Sessions[0].Status != "Terminated" {
			t.Errorf("history: %+v", out)
		}
	})

	t.Run("tether/piped", func(t *testing.T) {
		s.SetT(t)
		res := s.CLI("echo hi; exit\n", "start-session", "--target", s.InstanceID)
		if res.Code != 0 || res.Stdout != "hi\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
		}
	})
}

// ptyShell drives an interactive shell session: cmd starts it in a new PTY
// (30x100), and the client must print AWS's start and end lines around a
// working remote shell that follows resizes and Ctrl-C. during runs while
// the session is open. It returns the session id.
func ptyShell(t *testing.T, cmd *exec.Cmd, during func(sid string)) string {
	tm := startTerm(t, cmd, 30, 100)
	m := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)
	sid, pos := m[1], tm.Pos
	if !regexp.MustCompile(sessionIDPattern).MatchString(sid) {
		t.Errorf("session id %q", sid)
	}
	pos = tm.Expect(pos, `[#$] `) // the remote prompt

	tm.Send("echo $((6*7))\r")
	pos = tm.Expect(pos, `\n42\n`)

	// The remote PTY has the local size, and follows a resize (the plugin
	// polls for it every 500 ms, tether watches SIGWINCH).
	tm.Send("stty size\r")
	pos = tm.Expect(pos, `\n30 100\n`)
	if err := pty.Setsize(tm.F, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		tm.Send("stty size\r")
		var ok bool
		if pos, ok = tm.Wait(pos, `\n40 120\n`, 2*time.Second); ok {
			break
		}
		if i == 10 {
			t.Fatalf("the remote terminal never became 40x120; output:\n%s", tm.Output())
		}
	}

	// Ctrl-C reaches the remote foreground job, not the local client. The
	// next command waits for the prompt: the plugin sends the Ctrl-C byte
	// from its signal handler, which may overtake keys typed just after it,
	// and the remote terminal discards typed-ahead input on an interrupt.
	tm.Send("sleep 30; echo SLEPT$((2+2))\r")
	pos = tm.Expect(pos, `sleep 30`)
	time.Sleep(300 * time.Millisecond) // let sleep start; there is nothing to poll for
	tm.Send("\x03")
	pos = tm.Expect(pos, `\^C\n.*[#$] `)
	tm.Send("echo AFTER$((3+3))\r")
	pos = tm.Expect(pos, `\nAFTER6\n`)
	if strings.Contains(tm.Output(), "SLEPT4") {
		t.Error("Ctrl-C did not interrupt the remote job")
	}

	if during != nil {
		during(sid)
	}

	tm.Send("exit\r")
	tm.Expect(pos, `Exiting session with sessionId: `+regexp.QuoteMeta(sid)+`\.`)
	if code := tm.ExitCode(30 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0; output:\n%s", code, tm.Output())
	}
	return sid
}

// pipedShell runs the plugin without a terminal, its stdin a pipe that stays
// open until the session ends: the way to script it, since the plugin ends
// at EOF on stdin (see closedStdin).
func pipedShell(r *cliRun, s *testenv.Server) {
	t := r.t
	cmd := r.command("ssm", "start-session", "--target", s.InstanceID)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	defer in.Close()

	var sid string
	testenv.Eventually(t, 30*time.Second, func() error {
		m := regexp.MustCompile(`Starting session with SessionId: (\S+)\n`).FindStringSubmatch(out.String())
		if m == nil {
			return fmt.Errorf("no start line in %q", out.String())
		}
		sid = m[1]
		return nil
	})
	if _, err := io.WriteString(in, "echo hi$((1+1)); exit\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Errorf("aws: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running after 30 s; output:\n%s", out.String())
	}
	got := testenv.WithoutControls(out.String())
	if !regexp.MustCompile(`\nhi2\n`).MatchString(got) || !strings.Contains(got, "Exiting session with sessionId: "+sid+".") {
		t.Errorf("output:\n%q", got)
	}
	waitHistory(r, sid)
}

// closedStdin is `echo 'echo hi; exit' | aws ssm start-session ...`. The
// plugin reads its keyboard until EOF and then exits at once, printing
// "Cannot perform start session: EOF" (its own behaviour, also against AWS:
// aws/amazon-ssm-agent#354), so whether the remote output arrives first is a
// race. What Tether must do is run the input it got and end the session when
// the remote shell exits, although the client went away without a word.
func closedStdin(r *cliRun, s *testenv.Server) {
	t := r.t
	cmd := r.command("ssm", "start-session", "--target", s.InstanceID)
	cmd.Stdin = strings.NewReader("echo hi; exit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Starting session with SessionId: (\S+)\n`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no start line in %q", out)
	}
	t.Logf("plugin output: %q", out)
	waitHistory(r, m[1])
}

// terminate ends an attached plugin's session with `aws ssm
// terminate-session`: the plugin must hear of it and exit.
func terminate(r *cliRun, s *testenv.Server) {
	t := r.t
	tm := startTerm(t, r.command("ssm", "start-session", "--target", s.InstanceID), 24, 80)
	m := tm.ExpectSub(0, `Starting session with SessionId: (\S+)\n`)
	sid := m[1]
	tm.Expect(tm.Pos, `[#$] `)

	v := r.json(sessionIDShape, "ssm", "terminate-session", "--session-id", sid)
	if v["SessionId"] != sid {
		t.Errorf("terminate-session: %v", v)
	}
	// The plugin prints "Exiting session with sessionId: ID." or, when the
	// service says why, "SessionId: ID : why".
	tm.Expect(0, `(Exiting session with sessionId: |SessionId: )`+regexp.QuoteMeta(sid))
	if code := tm.ExitCode(30 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0; output:\n%s", code, tm.Output())
	}
	waitHistory(r, sid)
}

// waitHistory waits until DescribeSessions lists sid as Terminated in
// History, with an end date.
func waitHistory(r *cliRun, sid string) {
	r.t.Helper()
	testenv.Eventually(r.t, 30*time.Second, func() error {
		v := r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", "History",
			"--filters", "key=SessionId,value="+sid)
		st := findItem(v, "Sessions", "SessionId", sid)
		if st == nil || st["Status"] != "Terminated" || st["EndDate"] == nil {
			return fmt.Errorf("session %s not Terminated in History: %v", sid, v)
		}
		return nil
	})
}

// startTerm starts cmd in a real PTY; expectations match its output
// without control sequences.
func startTerm(t *testing.T, cmd *exec.Cmd, rows, cols uint16) *testenv.Term {
	tm := testenv.StartTerm(t, cmd, rows, cols)
	tm.Plain = true
	return tm
}
