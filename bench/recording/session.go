package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

// counter is the CLI's standard output: it counts bytes and notes when the
// first and the latest arrived.
type counter struct {
	mu          sync.Mutex
	n           int64
	first, last time.Time
}

func (c *counter) Write(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 && len(p) > 0 {
		c.first = now
	}
	c.n += int64(len(p))
	c.last = now
	return len(p), nil
}

// sample is what one session measured.
type sample struct {
	sid      string
	transfer time.Duration // first to last output byte at the CLI
	total    time.Duration // CLI start to exit
	stored   time.Duration // CLI exit until DescribeSessions has the OutputUrl; 0 without recording
	agentRSS int64         // peak, session start until stored
	serverRSS,
	cliRSS int64
	spool int64 // the spool's peak size
	cast  int64 // the downloaded transcript's size
	// CPU time: during the session, and after it until stored.
	agentCPU, agentUpCPU, serverCPU, serverUpCPU, cliCPU time.Duration
}

// watcher samples resident sets and the spool while a session runs and its
// transcript is uploaded.
type watcher struct {
	pids  []int // agent, tetherd, CLI (0 until started)
	spool string
	mu    sync.Mutex
	peak  []int64
	spmax int64
	stop  chan struct{}
	done  chan struct{}
}

func startWatcher(spool string, pids ...int) *watcher {
	w := &watcher{pids: pids, spool: spool, peak: make([]int64, len(pids)), stop: make(chan struct{}), done: make(chan struct{})}
	for _, pid := range pids {
		if pid != 0 {
			benchenv.ResetHWM(pid)
		}
	}
	w.sample()
	go func() {
		defer close(w.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
				w.sample()
			}
		}
	}()
	return w
}

// setPid fills in a process started after the watcher.
func (w *watcher) setPid(i, pid int) {
	w.mu.Lock()
	w.pids[i] = pid
	w.mu.Unlock()
}

func (w *watcher) sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, pid := range w.pids {
		if pid != 0 {
			w.peak[i] = max(w.peak[i], benchenv.StatusKiB(pid, "VmRSS:")<<10, benchenv.StatusKiB(pid, "VmHWM:")<<10)
		}
	}
	if w.spool != "" {
		w.spmax = max(w.spmax, dirSize(w.spool))
	}
}

// finish stops sampling and returns the peaks.
func (w *watcher) finish() (peaks []int64, spool int64) {
	close(w.stop)
	<-w.done
	w.sample()
	return w.peak, w.spmax
}

// dirSize sums the sizes of the files directly in dir.
func dirSize(dir string) int64 {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, de := range des {
		if info, err := de.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// runSession cats file (size bytes) through a non-PTY shell session on a,
// waits until the transcript is stored if a records, and checks it.
func runSession(ctx context.Context, e *env, a *agent, file string, size int64, timeout time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var s sample
	spool := ""
	if a.recording {
		spool = filepath.Join(a.stateDir, "transcripts")
	}
	w := startWatcher(spool, a.d.Pid(), e.td.Pid(), 0)
	agentCPU0, serverCPU0 := benchenv.CPUTime(a.d.Pid()), benchenv.CPUTime(e.td.Pid())

	out := &counter{}
	stderr := benchenv.NewLineWatch("")
	cmd := benchenv.Command(ctx, e.env, e.tether, "start-session", "--target", a.id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = strings.NewReader("cat '" + file + "'; exit\n")
	cmd.Stdout, cmd.Stderr = out, stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		w.finish()
		return s, err
	}
	w.setPid(2, cmd.Process.Pid)
	// The CLI's own CPU time is readable only while it lives; it is
	// reaped by Wait, so read it from the rusage afterwards.
	err := cmd.Wait()
	end := time.Now()
	s.total = end.Sub(start)
	if ps := cmd.ProcessState; ps != nil {
		s.cliCPU = ps.UserTime() + ps.SystemTime()
	}
	agentCPU1, serverCPU1 := benchenv.CPUTime(a.d.Pid()), benchenv.CPUTime(e.td.Pid())
	s.agentCPU, s.serverCPU = agentCPU1-agentCPU0, serverCPU1-serverCPU0
	fail := func(err error) (sample, error) {
		w.finish()
		return s, fmt.Errorf("%w\nCLI stderr:\n%s", err, stderr.Tail())
	}
	if err != nil {
		return fail(fmt.Errorf("tether start-session: %w", err))
	}
	out.mu.Lock()
	n, first, last := out.n, out.first, out.last
	out.mu.Unlock()
	if n != size {
		return fail(fmt.Errorf("session to %s: the CLI printed %d bytes, want %d", a.id, n, size))
	}
	s.transfer = last.Sub(first)

	if a.recording {
		if s.sid, err = waitStored(ctx, e, a); err != nil {
			return fail(err)
		}
		s.stored = time.Since(end)
		s.agentUpCPU = benchenv.CPUTime(a.d.Pid()) - agentCPU1
		s.serverUpCPU = benchenv.CPUTime(e.td.Pid()) - serverCPU1
	}
	peaks, spmax := w.finish()
	s.agentRSS, s.serverRSS, s.cliRSS, s.spool = peaks[0], peaks[1], peaks[2], spmax
	if a.recording {
		cast := filepath.Join(e.tmp, s.sid+".cast")
		dl := exec.CommandContext(ctx, e.tether, "sessions", "download", s.sid, "-o", cast)
		dl.Env = e.env
		if out, err := dl.CombinedOutput(); err != nil {
			return s, fmt.Errorf("tether sessions download %s: %w: %s", s.sid, err, out)
		}
		info, err := os.Stat(cast)
		if err != nil {
			return s, err
		}
		os.Remove(cast)
		s.cast = info.Size()
		if s.cast < size {
			return s, fmt.Errorf("session %s: stored transcript has %d bytes, less than the %d bytes shown", s.sid, s.cast, size)
		}
	}
	return s, nil
}

// waitStored polls DescribeSessions until a's session that just ended
// (the one not in a.seen: sessions run one at a time) has an OutputUrl,
// that is until the server has stored the whole transcript.
func waitStored(ctx context.Context, e *env, a *agent) (string, error) {
	last := "no new session in History"
	for {
		cmd := exec.CommandContext(ctx, e.tether, "describe-sessions", "--state", "History",
			"--filters", "key=Target,value="+a.id, "--output", "json")
		cmd.Env = e.env
		b, err := cmd.Output()
		if err != nil {
			last = fmt.Sprintf("describe-sessions: %v: %s", err, benchenv.ExitStderr(err))
		} else {
			var resp struct {
				Sessions []struct {
					SessionId string
					Status    string
					OutputUrl *struct{ S3OutputUrl string }
				}
			}
			if err := json.Unmarshal(b, &resp); err != nil {
				return "", fmt.Errorf("describe-sessions: %w", err)
			}
			for _, ss := range resp.Sessions {
				if a.seen[ss.SessionId] {
					continue
				}
				if ss.OutputUrl != nil && ss.OutputUrl.S3OutputUrl != "" {
					a.seen[ss.SessionId] = true
					return ss.SessionId, nil
				}
				last = "session " + ss.SessionId + " " + ss.Status + ", no OutputUrl yet"
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("transcript not stored (%s): %w", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
