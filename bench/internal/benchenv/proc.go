package benchenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StatusKiB returns a "kB" field of /proc/PID/status, such as "VmRSS:" or
// "VmHWM:", or 0 if it cannot be read.
func StatusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// ResetHWM sets the process's VmHWM back to its current resident set
// (writing 5 to /proc/PID/clear_refs, Linux ≥ 4.0); false if it could not.
func ResetHWM(pid int) bool {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "clear_refs"), []byte("5"), 0) == nil
}

// CPUTime is the process's user plus system time so far (all its threads),
// 0 if it cannot be read.
func CPUTime(pid int) time.Duration {
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	// After the command name: state is field 3 of proc(5), utime 14, stime 15.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / userHZ
}
