package testenv

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Term is a client process (the tether CLI, the AWS CLI with the plugin)
// on the far side of a real PTY, as a person at a terminal runs it.
type Term struct {
	F   *os.File  // the PTY master: write keystrokes, resize
	Cmd *exec.Cmd // the process, session leader of the PTY
	// Plain makes Output and the waits see the output without control
	// sequences and carriage returns (expectations then read `\n42\n`);
	// otherwise they see it byte for byte.
	Plain bool
	Pos   int // where the last ExpectSub match ended

	t    testing.TB
	mu   sync.Mutex
	buf  strings.Builder
	done chan struct{} // the process exited
	read chan struct{} // the PTY reader saw EOF: all output is in buf
}

// StartTerm starts cmd in a new PTY of rows x cols. Cleanup kills its whole
// process group (the AWS CLI runs the plugin as a child) and, if the test
// failed, logs what the terminal showed.
func StartTerm(t testing.TB, cmd *exec.Cmd, rows, cols uint16) *Term {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	tm := &Term{t: t, F: f, Cmd: cmd, done: make(chan struct{}), read: make(chan struct{})}
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
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-tm.done
		f.Close()
		<-tm.read
		if t.Failed() {
			t.Logf("terminal output:\n%q", tm.Raw())
		}
	})
	return tm
}

// controls are the terminal control sequences a shell prints (CSI such as
// bracketed paste, OSC titles) and carriage returns, which the two ends'
// line disciplines double.
var controls = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\r`)

// WithoutControls removes control sequences and carriage returns from
// terminal output.
func WithoutControls(s string) string { return controls.ReplaceAllString(s, "") }

// Raw is everything the terminal received so far, byte for byte.
func (tm *Term) Raw() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.buf.String()
}

// Output is what the waits match against: Raw, or without control
// sequences when Plain is set.
func (tm *Term) Output() string {
	if tm.Plain {
		return WithoutControls(tm.Raw())
	}
	return tm.Raw()
}

// Send types s.
func (tm *Term) Send(s string) {
	if _, err := io.WriteString(tm.F, s); err != nil {
		tm.t.Fatal(err)
	}
}

// Wait waits up to d for re to match Output after offset from, and returns
// the offset after the match.
func (tm *Term) Wait(from int, re string, d time.Duration) (int, bool) {
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(d)
	for {
		if idx := rx.FindStringIndex(tm.Output()[from:]); idx != nil {
			return from + idx[1], true
		}
		if time.Now().After(deadline) {
			return from, false
		}
		select {
		case <-tm.read:
			if idx := rx.FindStringIndex(tm.Output()[from:]); idx != nil {
				return from + idx[1], true
			}
			return from, false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Expect is Wait that fails the test after 45 s.
func (tm *Term) Expect(from int, re string) int {
	tm.t.Helper()
	pos, ok := tm.Wait(from, re, 45*time.Second)
	if !ok {
		tm.t.Fatalf("waiting for %s in output:\n%q", re, tm.Output()[from:])
	}
	return pos
}

// ExpectSub is Expect returning the submatches; Pos is set past them.
func (tm *Term) ExpectSub(from int, re string) []string {
	tm.t.Helper()
	tm.Pos = tm.Expect(from, re)
	return regexp.MustCompile(re).FindStringSubmatch(tm.Output()[from:tm.Pos])
}

// ExitCode waits up to d for the process to exit and returns its status.
func (tm *Term) ExitCode(d time.Duration) int {
	tm.t.Helper()
	select {
	case <-tm.done:
		select { // the last output may still be in the PTY
		case <-tm.read:
		case <-time.After(5 * time.Second):
		}
		return tm.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		tm.t.Fatalf("still running after %v; output:\n%q", d, tm.Output())
		return -1
	}
}
