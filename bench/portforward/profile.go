package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// profileEnv names the directory where binaries built with profileHook
// write CPU profiles. It does not start with TETHER_, which
// benchenv.TetherEnv strips.
const profileEnv = "TETHERBENCH_CPUPROFILE_DIR"

// traceEnv, set to 1, makes the hook write execution traces (runtime/trace)
// instead of CPU profiles: where a round trip waits, not what burns CPU.
const traceEnv = "TETHERBENCH_TRACE"

// profileHook is added to each binary's main package with go build -overlay
// when -cpuprofile is given; the checkout is not modified. Each SIGUSR2
// starts a CPU profile or stops and writes the running one, so the profile
// covers exactly one phase of the benchmark.
var profileHook = []byte(`package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
)

func init() {
	dir := os.Getenv("` + profileEnv + `")
	if dir == "" {
		return
	}
	start, stop := pprof.StartCPUProfile, pprof.StopCPUProfile
	if os.Getenv("` + traceEnv + `") == "1" {
		start, stop = trace.Start, trace.Stop
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	go func() {
		var f *os.File
		for n := 0; ; {
			<-c
			name := filepath.Join(dir, fmt.Sprintf("%d-%d", os.Getpid(), n))
			if f == nil {
				var err error
				if f, err = os.Create(name + ".tmp"); err != nil {
					continue
				}
				if start(f) != nil {
					f.Close()
					f = nil
				}
				continue
			}
			stop()
			f.Close()
			f = nil
			os.Rename(name+".tmp", name+".pprof")
			n++
		}
	}()
}
`)

// profileOverlay is profileHook for every binary.
func profileOverlay() map[string][]byte {
	m := map[string][]byte{}
	for _, cmd := range []string{"tetherd", "tether-agent", "tether"} {
		m[filepath.Join("cmd", cmd, "zz_benchprofile.go")] = profileHook
	}
	return m
}

// profiler toggles the profiles of some processes built with profileHook.
type profiler struct {
	dir   string
	ext   string // of the files written: .pprof, or .trace
	tag   string // after the label in the file names: "" or "-tls"
	procs []procSet
	n     map[int]int // profiles written so far, by pid
}

func (p *profiler) start() error {
	for _, pr := range p.procs {
		if err := p.signal(pr.pid, ".tmp"); err != nil {
			return fmt.Errorf("start CPU profile of %s: %w", pr.label, err)
		}
	}
	return nil
}

// stop writes each process's profile as DIR/label{tag}-phase.pprof (or
// .trace).
func (p *profiler) stop(phase string) error {
	for _, pr := range p.procs {
		if err := p.signal(pr.pid, ".pprof"); err != nil {
			return fmt.Errorf("stop CPU profile of %s: %w", pr.label, err)
		}
		from := filepath.Join(p.dir, fmt.Sprintf("%d-%d.pprof", pr.pid, p.n[pr.pid]))
		p.n[pr.pid]++
		if err := os.Rename(from, filepath.Join(p.dir, pr.label+p.tag+"-"+phase+p.ext)); err != nil {
			return err
		}
	}
	return nil
}

// signal sends SIGUSR2 to pid and waits for the hook's file with suffix.
func (p *profiler) signal(pid int, suffix string) error {
	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		return err
	}
	name := filepath.Join(p.dir, fmt.Sprintf("%d-%d%s", pid, p.n[pid], suffix))
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(name); err == nil {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("no %s after 10 s", name)
		case <-tick.C:
		}
	}
}
