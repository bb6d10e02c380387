package interop

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// bgClient is a client left running while the test uses what it opened (a
// local port), with its stdout and stderr together as a terminal shows
// them.
type bgClient struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{}
}

// startClient starts cmd in its own process group, which cleanup kills: the
// AWS CLI runs the plugin as a child.
func startClient(t *testing.T, cmd *exec.Cmd) *bgClient {
	t.Helper()
	c := &bgClient{t: t, cmd: cmd, out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		if strings.Contains(c.out.String(), "DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", cmd.Path, c.out.String())
		}
		if t.Failed() {
			t.Logf("%s output:\n%q", cmd.Path, c.out.String())
		}
	})
	return c
}

// expect waits up to 30 s for re in the output and returns its submatches.
func (c *bgClient) expect(re string) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	testenv.Eventually(c.t, 30*time.Second, func() error {
		if m = rx.FindStringSubmatch(c.out.String()); m != nil {
			return nil
		}
		select {
		case <-c.done:
			if m = rx.FindStringSubmatch(c.out.String()); m != nil {
				return nil
			}
			return testenv.Permanent(fmt.Errorf("%s exited (%v) before printing %s; output:\n%q", c.cmd.Path, c.cmd.ProcessState, re, c.out.String()))
		default:
		}
		return fmt.Errorf("no %s in %q", re, c.out.String())
	})
	return m
}

// interrupt sends SIGINT to the client's process group, as Ctrl-C in its
// terminal would, and returns its exit status.
func (c *bgClient) interrupt() int {
	c.t.Helper()
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGINT)
	return c.exitCode(30 * time.Second)
}

// exitCode waits up to d for the client to exit and returns its status.
func (c *bgClient) exitCode(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		c.t.Fatalf("%s still running after %v; output:\n%q", c.cmd.Path, d, c.out.String())
		return -1
	}
}

// running fails the test if the client has exited.
func (c *bgClient) running() {
	c.t.Helper()
	select {
	case <-c.done:
		c.t.Fatalf("%s exited (%v); output:\n%q", c.cmd.Path, c.cmd.ProcessState, c.out.String())
	default:
	}
}

// opened waits for the line both the plugin and the tether CLI print when
// their local listener is ready, "Port N opened for sessionId ID.", and
// returns N and ID.
func (c *bgClient) opened() (port, sid string) {
	c.t.Helper()
	m := c.expect(`Port (\d+) opened for sessionId (\S+)\.\s`)
	if !regexp.MustCompile(sessionIDPattern).MatchString(m[2]) {
		c.t.Errorf("session id %q", m[2])
	}
	return m[1], m[2]
}

// tetherCommand is `tether args...` against s, as the admin.
func tetherCommand(s *testenv.Server, args ...string) *exec.Cmd {
	cmd := exec.Command(s.Bins.CLI, args...)
	cmd.Env = append(os.Environ(), s.Env()...)
	return cmd
}
