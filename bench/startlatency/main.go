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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
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
	server  *daemon // whose log explains a failure
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
	if err := build(ctx, bin); err != nil {
		return err
	}

	progress("starting tetherd…")
	cfgDir := filepath.Join(tmp, "tether-config")
	tetherd, id, err := startTetherd(ctx, bin, cfgDir, filepath.Join(tmp, "tether-data"), timeout)
	if err != nil {
		return err
	}
	defer tetherd.stop()
	tether := filepath.Join(bin, "tether")
	env := tetherEnv(cfgDir)
	progress("waiting for %s to be Online…", id)
	if err := waitOnline(ctx, timeout, env, tether, id); err != nil {
		return fmt.Errorf("%w\n%s", err, tetherd.stderr.tail())
	}

	sshTT := &row{name: "ssh -tt → first prompt byte"}
	sshTrue := &row{name: "ssh host true → exit"}
	if _, err := os.Stat(sshdPath); err != nil {
		why := "peer skipped: " + sshdPath + " absent; install with apt-get install -y openssh-server"
		sshTT.skipped, sshTrue.skipped = why, why
	} else {
		progress("starting sshd…")
		sshd, ssh, err := startSSHD(ctx, filepath.Join(tmp, "sshd"), timeout)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		defer sshd.stop()
		sshTT.server, sshTrue.server = sshd, sshd
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
				return fmt.Errorf("%s: %w\n%s log:\n%s", r.name, err, r.server.name, r.server.stderr.tail())
			}
			if i > 0 {
				r.samples = append(r.samples, d)
			}
		}
	}

	fmt.Printf("cores: %d   go: %s   ssh: %s\n\n", runtime.NumCPU(), runtime.Version(), sshVersion(ctx))
	printTable(rows)
	return nil
}

func measureOnce(ctx context.Context, timeout time.Duration, m func(context.Context) (time.Duration, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return m(ctx)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// build compiles ./cmd/... of the module the go tool finds from the working
// directory, so the benchmark measures this checkout.
func build(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || strings.TrimSpace(string(gomod)) == os.DevNull {
		return errors.New("run from inside the tether module: go run ./bench/startlatency")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w", err)
	}
	return nil
}

// tetherEnv is our environment with the CLI pointed only at the dev profile.
func tetherEnv(cfgDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TETHER_") {
			env = append(env, kv)
		}
	}
	return append(env, "TETHER_CONFIG_DIR="+cfgDir)
}

// ptyEnv fixes TERM so both PTY rows see the same terminal however the
// benchmark itself is run.
func ptyEnv(env []string) []string {
	return append(append([]string(nil), env...), "TERM=xterm")
}

// waitOnline polls describe-instance-information until id reports Online.
func waitOnline(ctx context.Context, timeout time.Duration, env []string, tether, id string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		cmd := exec.CommandContext(ctx, tether, "describe-instance-information", "--output", "json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			last = err.Error()
		} else {
			var resp struct {
				InstanceInformationList []struct{ InstanceId, PingStatus string }
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				return fmt.Errorf("describe-instance-information: %w", err)
			}
			last = "instance not listed"
			for _, inst := range resp.InstanceInformationList {
				if inst.InstanceId == id {
					last = "PingStatus " + inst.PingStatus
					if inst.PingStatus == "Online" {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("instance %s not Online (%s): %w", id, last, ctx.Err())
		case <-tick.C:
		}
	}
}

func sshVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "ssh", "-V").CombinedOutput()
	if err != nil {
		return "ssh not runnable"
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), ",")
	return v
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
