package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

// procSet is one column's processes: a single process, or a server and the
// children it forks (sshd).
type procSet struct {
	label string
	pid   int
	tree  bool // also count pid's descendants, resolved when sampling starts
}

// usage is what a procSet used during a sampled interval.
type usage struct {
	label string
	peak  int64         // bytes: the largest resident set seen (summed over the set)
	cpu   time.Duration // user plus system time
}

// sampler records the peak resident set and the CPU time of procSets while
// something runs. It reads VmRSS every 50 ms; for a single process it also
// resets the kernel's high-water mark (VmHWM) at the start and reads it at
// the end, so that a peak between two samples is not missed.
type sampler struct {
	sets  []procSet
	pids  [][]int
	hwm   []bool // VmHWM was reset for this set's single process
	peak  []int64
	cpu0  []time.Duration
	stop  chan struct{}
	done  chan struct{}
	start time.Time
}

func startSampler(sets []procSet) *sampler {
	s := &sampler{sets: sets, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	for _, set := range sets {
		pids := []int{set.pid}
		if set.tree {
			pids = descendants(set.pid)
		}
		s.pids = append(s.pids, pids)
		// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
		reset := !set.tree && os.WriteFile(filepath.Join("/proc", strconv.Itoa(set.pid), "clear_refs"), []byte("5"), 0) == nil
		s.hwm = append(s.hwm, reset)
		s.cpu0 = append(s.cpu0, cpuTime(pids))
	}
	s.peak = make([]int64, len(sets))
	s.sample()
	go func() {
		defer close(s.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	for i, pids := range s.pids {
		var sum int64
		for _, pid := range pids {
			sum += benchenv.StatusKiB(pid, "VmRSS:") << 10
		}
		s.peak[i] = max(s.peak[i], sum)
	}
}

// finish stops sampling and returns each set's usage since startSampler.
func (s *sampler) finish() []usage {
	close(s.stop)
	<-s.done
	s.sample()
	out := make([]usage, len(s.sets))
	for i, set := range s.sets {
		out[i] = usage{label: set.label, peak: s.peak[i], cpu: cpuTime(s.pids[i]) - s.cpu0[i]}
		if s.hwm[i] {
			out[i].peak = max(out[i].peak, benchenv.StatusKiB(set.pid, "VmHWM:")<<10)
		}
	}
	return out
}

// cpuTime sums utime and stime of the processes (all their threads).
func cpuTime(pids []int) time.Duration {
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux
	var ticks int64
	for _, pid := range pids {
		f := statFields(pid)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / userHZ
}

// statFields returns the fields of /proc/pid/stat after the command name,
// starting with the state (field 3 in proc(5)).
func statFields(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// descendants returns pid and every process below it. sshd's per-connection
// processes call setsid, so their process group does not find them.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(p); len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
