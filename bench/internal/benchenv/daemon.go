package benchenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Daemon is a long-running child in its own process group.
type Daemon struct {
	Name   string
	Cmd    *exec.Cmd
	Stderr *LineWatch
	// After runs once the group is gone; may be nil.
	After func()

	cancel context.CancelFunc
	done   chan struct{} // closed when Cmd.Wait has returned
}

// StartDaemon starts argv; Stop asks its group to end with SIGTERM and kills
// what is left after a few seconds.
func StartDaemon(ctx context.Context, name string, env []string, stdout, stderr *LineWatch, argv ...string) (*Daemon, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Pdeathsig: a benchmark killed with SIGKILL (or by a crash) runs no
	// Stop, and a tetherd or agent left running would skew every later
	// measurement on the machine.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &Daemon{Name: name, Cmd: cmd, cancel: cancel, done: make(chan struct{}), Stderr: stderr}
	go func() {
		defer close(d.done)
		_ = cmd.Wait()
	}()
	return d, nil
}

// Pid is the process id of the daemon, which is also its group's.
func (d *Daemon) Pid() int { return d.Cmd.Process.Pid }

// Done is closed once the daemon has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Stop ends the daemon's process group and waits for the daemon.
func (d *Daemon) Stop() {
	d.cancel()
	<-d.done
	// Children that stayed in the group outlive a killed leader otherwise.
	_ = syscall.Kill(-d.Cmd.Process.Pid, syscall.SIGKILL)
	if d.After != nil {
		d.After()
	}
}

// Await returns the first line w sees containing its wanted text, or fails
// when the daemon exits or timeout passes first.
func (d *Daemon) Await(ctx context.Context, timeout time.Duration, w *LineWatch) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	select {
	case line := <-w.found:
		return line, nil
	case <-d.done:
		return "", fmt.Errorf("%s exited: %s\n%s", d.Name, d.Cmd.ProcessState, d.Stderr.Tail())
	case <-ctx.Done():
		return "", fmt.Errorf("%s: no %q: %w\n%s", d.Name, w.want, ctx.Err(), d.Stderr.Tail())
	}
}

// LineWatch is a child's stdout or stderr: it keeps the last lines for error
// messages and hands over the first line containing want.
type LineWatch struct {
	want  string
	found chan string // buffered: the first line containing want

	mu    sync.Mutex
	part  []byte
	lines []string // the last few
}

// NewLineWatch returns a LineWatch waiting for want; "" waits for nothing.
func NewLineWatch(want string) *LineWatch {
	return &LineWatch{want: want, found: make(chan string, 1)}
}

func (w *LineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.part[:i])
		w.part = w.part[i+1:]
		if w.want != "" && strings.Contains(line, w.want) {
			w.found <- line
			w.want = ""
		}
		w.lines = append(w.lines[max(0, len(w.lines)-19):], line)
	}
}

// Tail returns the last 20 lines.
func (w *LineWatch) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}
