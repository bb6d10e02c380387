// Command startlatency measures how long it takes to get a shell with Tether,
// next to OpenSSH on the same machine in the same run.
//
// It builds the binaries, starts `tetherd dev` (server plus local agent) and a
// private sshd on loopback, then runs each of these N times, interleaved:
//
//   - tether start-session in a PTY, from process start to the first byte the
//     remote shell prints (the prompt), skipping the CLI's local
//     "Starting session with SessionId" line;
//   - tether start-session with `true` piped on stdin, from start to exit;
//   - ssh -tt in a PTY, from start to the first byte (the prompt);
//   - ssh HOST true, from start to exit.
//
// Run it from the module root:
//
//	go run ./bench/startlatency [-n 20]
//
// It prints medians, p90, min and max in milliseconds and each tether row's
// median divided by the matching ssh row's. It never fails on slowness; it
// fails only if a session does not work. Without /usr/sbin/sshd the ssh rows
// say why they were skipped.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

func main() {
	n := flag.Int("n", 20, "measured runs of each row")
	timeout := flag.Duration("timeout", 15*time.Second, "bound on each session and each wait")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "startlatency: -n must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *n, *timeout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "startlatency:", err)
		os.Exit(1)
	}
}

// row is one line of the table: a named measurement and its samples.
type row struct {
	name    string
	peer    *row   // the ssh row this one is compared with; nil for ssh rows
	skipped string // why there are no samples
	measure func(ctx context.Context) (time.Duration, error)
	server  *benchenv.Daemon // whose log explains a failure
	samples []time.Duration
}

func run(ctx context.Context, n int, timeout time.Duration) error {
	tmp, err := os.MkdirTemp("", "startlatency-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	progress("building binaries…")
	bin := filepath.Join(tmp, "bin")
	if err := benchenv.Build(ctx, bin, nil); err != nil {
		return err
	}

	progress("starting tetherd…")
	cfgDir := filepath.Join(tmp, "tether-config")
	td, err := benchenv.StartTetherd(ctx, bin, cfgDir, filepath.Join(tmp, "tether-data"), timeout)
	if err != nil {
		return err
	}
	defer td.Stop()
	tetherd, id := td.Daemon, td.InstanceID
	tether := filepath.Join(bin, "tether")
	env := benchenv.TetherEnv(cfgDir)
	progress("waiting for %s to be Online…", id)
	if err := benchenv.WaitOnline(ctx, timeout, env, tether, id); err != nil {
		return fmt.Errorf("%w\n%s", err, tetherd.Stderr.Tail())
	}

	sshTT := &row{name: "ssh -tt → first prompt byte"}
	sshTrue := &row{name: "ssh host true → exit"}
	if _, err := os.Stat(benchenv.SSHDPath); err != nil {
		why := "peer skipped: " + benchenv.SSHDPath + " absent; install with apt-get install -y openssh-server"
		sshTT.skipped, sshTrue.skipped = why, why
	} else {
		progress("starting sshd…")
		sshd, err := benchenv.StartSSHD(ctx, filepath.Join(tmp, "sshd"), timeout)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		defer sshd.Stop()
		ssh := sshd.SSH("ERROR")
		sshTT.server, sshTrue.server = sshd.Daemon, sshd.Daemon
		sshTT.measure = func(ctx context.Context) (time.Duration, error) {
			return firstByte(ctx, ptyEnv(os.Environ()), "", slices.Concat(ssh, []string{"-tt"})...)
		}
		sshTrue.measure = func(ctx context.Context) (time.Duration, error) {
			return roundTrip(ctx, os.Environ(), "", slices.Concat(ssh, []string{"true"})...)
		}
	}

	session := []string{tether, "start-session", "--target", id}
	rows := []*row{
		{
			name: "tether start-session PTY → first prompt byte", peer: sshTT, server: tetherd,
			measure: func(ctx context.Context) (time.Duration, error) {
				return firstByte(ctx, ptyEnv(env), "Starting session with SessionId", session...)
			},
		},
		{
			name: "tether start-session, `true` piped → exit", peer: sshTrue, server: tetherd,
			measure: func(ctx context.Context) (time.Duration, error) {
				return roundTrip(ctx, env, "true\n", session...)
			},
		},
		sshTT,
		sshTrue,
	}

	// Interleaving the rows spreads any drift in machine load over all of them
	// alike; the first round only warms caches and is not recorded.
	for i := 0; i <= n; i++ {
		if i == 0 {
			progress("warm-up…")
		} else {
			progress("run %d/%d…", i, n)
		}
		for _, r := range rows {
			if r.measure == nil {
				continue
			}
			d, err := measureOnce(ctx, timeout, r.measure)
			if err != nil {
				return fmt.Errorf("%s: %w\n%s log:\n%s", r.name, err, r.server.Name, r.server.Stderr.Tail())
			}
			if i > 0 {
				r.samples = append(r.samples, d)
			}
		}
	}

	fmt.Printf("cores: %d   go: %s   ssh: %s\n\n", runtime.NumCPU(), runtime.Version(), benchenv.SSHVersion(ctx))
	printTable(rows)
	return nil
}

func measureOnce(ctx context.Context, timeout time.Duration, m func(context.Context) (time.Duration, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return m(ctx)
}

var progress = benchenv.Progress

// ptyEnv fixes TERM so both PTY rows see the same terminal however the
// benchmark itself is run.
func ptyEnv(env []string) []string {
	return append(append([]string(nil), env...), "TERM=xterm")
}

func printTable(rows []*row) {
	const format = "%-46s %9s %9s %9s %9s %4s %7s\n"
	fmt.Printf(format, "", "median ms", "p90 ms", "min ms", "max ms", "N", "vs ssh")
	said := ""
	for _, r := range rows {
		if len(r.samples) == 0 {
			fmt.Printf(format, r.name, "-", "-", "-", "-", "0", "-")
			if r.skipped != said {
				fmt.Printf("  %s\n", r.skipped)
				said = r.skipped
			}
			continue
		}
		s := sorted(r.samples)
		ratio := "1.00x"
		if r.peer != nil {
			ratio = "-"
			if len(r.peer.samples) > 0 {
				ratio = fmt.Sprintf("%.2fx", float64(median(s))/float64(median(sorted(r.peer.samples))))
			}
		}
		p90 := s[(len(s)*9+9)/10-1] // nearest rank
		fmt.Printf(format, r.name, ms(median(s)), ms(p90), ms(s[0]), ms(s[len(s)-1]), fmt.Sprint(len(s)), ratio)
	}
	fmt.Println("\nvs ssh: this row's median over the median of the ssh row of the same kind\n(PTY rows against ssh -tt, exit rows against ssh true)")
}

func sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

func median(s []time.Duration) time.Duration {
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}
