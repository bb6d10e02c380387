// Command portforward measures Tether's port forwarding next to a direct
// loopback connection and OpenSSH's `ssh -L`, on the same machine in one run.
//
// It builds the binaries, starts two `tetherd dev`, one serving plain HTTP
// and one https/wss with a self-signed certificate, registers and runs a
// separate tether-agent with each (so that the agent's process can be
// measured on its own), starts a private sshd on loopback and a target
// server in this process, then measures six rows:
//
//   - direct loopback TCP: to the target itself;
//   - ssh -L: ssh -N -L to the target through the sshd;
//   - tether port-forward: `tether start-session --document-name
//     AWS-StartPortForwardingSession` to the target through the plain
//     tetherd and its separate agent;
//   - tether port-forward (TLS): the same through the tetherd serving TLS,
//     with the CLI and the agent trusting its certificate (SSL_CERT_FILE);
//   - Go TCP relay x2 and x3: chains of two and three processes (this
//     binary again, in a hidden mode) that only copy bytes between TCP
//     connections. They calibrate the others: the latency and CPU time of
//     ssh -L's and tether's number of user-space hops with no protocol.
//
// After one warm-up transfer per row, it runs -n rounds with the rows
// interleaved. In each, a row sends -size bytes over one connection, timed
// from the first byte written until the target has read the last one, then
// makes -echoes 1-byte round trips over one connection. During the bulk
// transfers it records the peak resident set and the CPU time of every
// process involved. The table shows the median throughput and percentiles
// over all rounds' round trips.
//
// Run it from the module root:
//
//	go run ./bench/portforward [-size 1GiB] [-echoes 2000] [-n 3]
//
// With -cpuprofile DIR it builds the binaries with a small hook added through
// go build -overlay and writes CPU profiles of tetherd, tether-agent and the
// CLI of both tether rows for the bulk transfer and the echoes to DIR. It
// never fails on slowness; it fails only if forwarding does not work.
// Without /usr/sbin/sshd the ssh row says why it was skipped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

func main() {
	if to := os.Getenv(relayEnv); to != "" {
		err := relayMain(to)
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
	size := flag.String("size", "1GiB", "bytes in the bulk transfer, such as 256MiB or 1GiB")
	echoes := flag.Int("echoes", 2000, "measured 1-byte round trips")
	rounds := flag.Int("n", 3, "rounds; each runs every row's bulk transfer and echoes once")
	timeout := flag.Duration("timeout", 2*time.Minute, "bound on each bulk transfer and each echo run")
	cpuprofile := flag.String("cpuprofile", "", "write CPU profiles of tetherd, tether-agent and the tether CLI to this directory")
	traces := flag.Bool("trace", false, "with -cpuprofile, write execution traces (go tool trace) instead of CPU profiles")
	only := flag.String("rows", "", "comma-separated words; run only the rows whose names contain one of them (ssh -L always runs), such as TLS or relay")
	flag.Parse()
	n, err := benchenv.ParseSize(*size)
	if err != nil || n < 1 || *echoes < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "portforward: -size must be a positive size such as 1GiB, -echoes and -n at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, options{size: n, echoes: *echoes, rounds: *rounds, timeout: *timeout, profileDir: *cpuprofile, trace: *traces, rows: *only})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portforward:", err)
		os.Exit(1)
	}
}

type options struct {
	size       int64
	echoes     int
	rounds     int
	timeout    time.Duration // each bulk transfer and echo run
	profileDir string
	trace      bool   // execution traces instead of CPU profiles
	rows       string // -rows: comma-separated words a row's name must contain one of
}

// startTimeout bounds each wait while starting daemons.
const startTimeout = 15 * time.Second

// row is one line of the table.
type row struct {
	name    string
	skipped string // why the row has no numbers
	addr    string // where the benchmark connects
	// cols are the labels of the processes in the server, agent and client
	// columns; "" for none.
	cols  [3]string
	procs []procSet // sampled during the bulk transfer
	prof  *profiler // nil unless -cpuprofile
	// logs are the processes whose stderr an error message shows.
	logs []*benchenv.Daemon
	// agentIdle is the tether-agent's resident set before the session.
	agentIdle int64
	note      string // how the row's path is secured, for the header

	elapsed []time.Duration // of each bulk transfer, sorted at the end
	rtt     []time.Duration // every round's, sorted at the end
	use     []usage         // of the bulk transfers: the largest peak, the mean CPU time
	// echoCPU is each process's CPU time over all echo runs (warm-up
	// included), echoed their round trips.
	echoCPU []usage
	echoed  int
}

func (r *row) measured() bool { return len(r.elapsed) > 0 }

// mibps is the median transfer's throughput.
func (r *row) mibps(size int64) float64 {
	return mibps(size, r.elapsed[(len(r.elapsed)-1)/2])
}

func mibps(size int64, d time.Duration) float64 {
	return float64(size) / (1 << 20) / d.Seconds()
}

func (r *row) usage(label string) (usage, bool) {
	for _, u := range r.use {
		if u.label == label {
			return u, true
		}
	}
	return usage{}, false
}

// foldUsage folds one run's usage into acc: the largest peak, the CPU
// time summed.
func foldUsage(acc, use []usage) []usage {
	if acc == nil {
		acc = make([]usage, len(use))
		for i, u := range use {
			acc[i].label = u.label
		}
	}
	for i, u := range use {
		acc[i].peak = max(acc[i].peak, u.peak)
		acc[i].cpu += u.cpu
	}
	return acc
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "portforward-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	benchenv.Progress("building binaries…")
	bin := filepath.Join(tmp, "bin")
	var extra map[string][]byte
	if o.profileDir != "" {
		if o.profileDir, err = filepath.Abs(o.profileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
		extra = profileOverlay()
		// Inherited by the daemons started below, and only by them.
		os.Setenv(profileEnv, o.profileDir)
		defer os.Unsetenv(profileEnv)
		if o.trace {
			os.Setenv(traceEnv, "1")
			defer os.Unsetenv(traceEnv)
		}
	}
	if err := benchenv.Build(ctx, bin, extra); err != nil {
		return err
	}

	tgt, err := startTarget()
	if err != nil {
		return err
	}
	defer tgt.close()
	self := procSet{label: "benchmark", pid: os.Getpid()}

	direct := &row{name: "direct loopback TCP", addr: tgt.addr(), procs: []procSet{self}}

	sshRow := &row{name: "ssh -L", cols: [3]string{"", "sshd", "ssh"}}
	sshNote := ""
	if _, err := os.Stat(benchenv.SSHDPath); err != nil {
		sshRow.skipped = benchenv.SSHDPath + " absent; install with apt-get install -y openssh-server"
	} else {
		benchenv.Progress("starting sshd…")
		sshd, err := benchenv.StartSSHD(ctx, filepath.Join(tmp, "sshd"), startTimeout)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		defer sshd.Stop()
		sshNote = ", cipher " + sshCipher(ctx, sshd)
		fwd, addr, err := startSSHForward(ctx, sshd, tgt.port(), startTimeout)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		defer fwd.Stop()
		sshRow.addr, sshRow.logs = addr, []*benchenv.Daemon{fwd}
		sshRow.procs = []procSet{{label: "sshd", pid: sshd.Pid(), tree: true}, {label: "ssh", pid: fwd.Pid()}, self}
	}

	// Both tether rows run at once, each with its own tetherd dev, data
	// dir, CLI profile and agent, so that their rounds interleave with the
	// others'.
	var tetherRows []*row
	for _, useTLS := range []bool{false, true} {
		r, stop, err := startTetherRow(ctx, bin, tmp, useTLS, tgt.port(), self)
		if err != nil {
			return err
		}
		defer stop()
		if o.profileDir != "" {
			r.prof = &profiler{dir: o.profileDir, ext: ".pprof", procs: r.procs[:3], n: map[int]int{}}
			if useTLS {
				r.prof.tag = "-tls"
			}
			if o.trace {
				r.prof.ext = ".trace"
			}
		}
		tetherRows = append(tetherRows, r)
	}
	tetherRow, tlsRow := tetherRows[0], tetherRows[1]

	rows := []*row{direct, sshRow, tetherRow, tlsRow}
	for _, hops := range []int{2, 3} {
		benchenv.Progress("starting %d Go TCP relays…", hops)
		r, stop, err := startRelayRow(ctx, hops, tgt.addr(), self, startTimeout)
		if err != nil {
			return err
		}
		defer stop()
		rows = append(rows, r)
	}
	if o.rows != "" {
		rows = slices.DeleteFunc(rows, func(r *row) bool { return r != sshRow && !selected(r.name, o.rows) })
	}
	fail := func(r *row, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s", r.name)
		}
		return fmt.Errorf("%s: %w%s", r.name, err, logTails(r.logs...))
	}
	for _, r := range rows {
		if r.skipped != "" {
			continue
		}
		warm := min(o.size, 64<<20)
		benchenv.Progress("%s: warm-up, %s…", r.name, fmtSize(warm))
		if _, err := bounded(ctx, o.timeout, func(ctx context.Context) (time.Duration, error) {
			return bulk(ctx, tgt, r.addr, warm)
		}); err != nil {
			return fail(r, fmt.Errorf("warm-up: %w", err))
		}
	}
	// Interleaving the rows spreads any drift in machine load over all of
	// them alike.
	for i := 1; i <= o.rounds; i++ {
		for _, r := range rows {
			if r.skipped != "" {
				continue
			}
			benchenv.Progress("round %d/%d: %s…", i, o.rounds, r.name)
			if err := measure(ctx, r, tgt, o, i == 1); err != nil {
				return fail(r, err)
			}
		}
	}
	for _, r := range rows {
		slices.Sort(r.elapsed)
		slices.Sort(r.rtt)
		for i := range r.use {
			r.use[i].cpu /= time.Duration(len(r.elapsed))
		}
	}

	fmt.Printf("cores: %d   go: %s   ssh: %s%s\n", runtime.NumCPU(), runtime.Version(), benchenv.SSHVersion(ctx), sshNote)
	fmt.Printf("tether (TLS): %s, on CLI–tetherd and on tetherd–agent\n", tlsRow.note)
	fmt.Printf("bulk: %s over one connection, timed until the target has read the last byte; median of %d\n", fmtSize(o.size), o.rounds)
	fmt.Printf("echo: %d round trips of 1 byte over one connection after %d not counted, in each of %d rounds\n\n", o.echoes, warmEchoes(o.echoes), o.rounds)
	printTable(rows, sshRow, tetherRows, o.size)
	if o.profileDir != "" {
		what, ext := "CPU profiles", ".pprof"
		if o.trace {
			what, ext = "Execution traces", ".trace"
		}
		fmt.Printf("\n%s of round 1 (numbers slightly lower than without): %s/{tetherd,tether-agent,tether}{,-tls}-{bulk,echo}%s\n", what, o.profileDir, ext)
	}
	return nil
}

// selected reports whether name contains one of the comma-separated words
// in list, ignoring case.
func selected(name, list string) bool {
	for w := range strings.SplitSeq(list, ",") {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(strings.ToLower(name), strings.ToLower(w)) {
			return true
		}
	}
	return false
}

func warmEchoes(n int) int { return max(100, n/10) }

// measure runs one bulk transfer and one echo run of a row, with CPU
// profiles if profile is set and the row has a profiler.
func measure(ctx context.Context, r *row, tgt *target, o options, profile bool) error {
	prof := r.prof
	if !profile {
		prof = nil
	}
	s := startSampler(r.procs)
	var err error
	if prof != nil {
		err = prof.start()
	}
	var d time.Duration
	if err == nil {
		d, err = bounded(ctx, o.timeout, func(ctx context.Context) (time.Duration, error) {
			return bulk(ctx, tgt, r.addr, o.size)
		})
	}
	if prof != nil && err == nil {
		err = prof.stop("bulk")
	}
	use := s.finish()
	if err != nil {
		return fmt.Errorf("bulk transfer: %w", err)
	}
	r.elapsed = append(r.elapsed, d)
	r.use = foldUsage(r.use, use)
	benchenv.Progress("  %s in %.2f s, %.0f MiB/s; %d echoes…", fmtSize(o.size), d.Seconds(), mibps(o.size, d), warmEchoes(o.echoes)+o.echoes)

	if prof != nil {
		if err := prof.start(); err != nil {
			return err
		}
	}
	es := startSampler(r.procs)
	ectx, cancel := context.WithTimeout(ctx, o.timeout)
	rtt, err := echo(ectx, r.addr, warmEchoes(o.echoes), o.echoes)
	cancel()
	euse := es.finish()
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	r.echoCPU = foldUsage(r.echoCPU, euse)
	r.echoed += warmEchoes(o.echoes) + o.echoes
	if prof != nil {
		if err := prof.stop("echo"); err != nil {
			return err
		}
	}
	r.rtt = append(r.rtt, rtt...)
	return nil
}

func bounded(ctx context.Context, timeout time.Duration, f func(context.Context) (time.Duration, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := f(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (raise -timeout or lower -size)", err)
	}
	return d, err
}

func printTable(rows []*row, sshRow *row, tetherRows []*row, size int64) {
	first := 21
	for _, r := range rows {
		first = max(first, utf8.RuneCountInString(r.name)+2)
	}
	line := func(cells ...string) {
		// Widths in runes: "µ" is two bytes, which %*s would count.
		for i, c := range cells {
			if i == 0 {
				fmt.Print(c + strings.Repeat(" ", max(0, first-utf8.RuneCountInString(c))))
			} else {
				fmt.Print(strings.Repeat(" ", max(0, 13-utf8.RuneCountInString(c))) + c)
			}
		}
		fmt.Println()
	}
	line("", "bulk MiB/s", "vs ssh -L", "echo p50 µs", "echo p99 µs", "server MiB", "agent MiB", "client MiB")
	for _, r := range rows {
		if !r.measured() {
			line(r.name, "-", "-", "-", "-", "-", "-", "-")
			fmt.Printf("  skipped: %s\n", r.skipped)
			continue
		}
		ratio := "-"
		if sshRow.measured() {
			ratio = fmt.Sprintf("%.2fx", r.mibps(size)/sshRow.mibps(size))
		}
		var rss [3]string
		for i, label := range r.cols {
			rss[i] = "-"
			if u, ok := r.usage(label); ok && label != "" {
				rss[i] = mib(u.peak)
			}
		}
		line(r.name, fmt.Sprintf("%.0f", r.mibps(size)), ratio,
			us(percentile(r.rtt, 50)), us(percentile(r.rtt, 99)), rss[0], rss[1], rss[2])
	}

	fmt.Println("\nRSS: peak resident set during the bulk transfer. server: tetherd dev (which also runs its own")
	fmt.Println("agent); agent: the separate tether-agent, or sshd with its per-connection processes (summed);")
	fmt.Println("client: the tether CLI, or ssh. vs ssh -L: bulk throughput over ssh -L's. Percentiles: nearest rank.")
	fmt.Println("Go TCP relay xN: N processes in series that only copy bytes between TCP connections (relay 1 nearest")
	fmt.Println("the benchmark): the floor for N user-space hops on this machine, ssh -L's count and tether's, not a competitor.")
	var idle []string
	for _, r := range tetherRows {
		idle = append(idle, fmt.Sprintf("%s MiB (%s)", mib(r.agentIdle), r.name))
	}
	fmt.Printf("tether-agent RSS before the session: %s\n", strings.Join(idle, ", "))
	fmt.Println("Bulk transfers: slowest–fastest MiB/s; CPU seconds (user+system) per transfer, mean:")
	for _, r := range rows {
		if !r.measured() {
			continue
		}
		var parts []string
		for _, u := range r.use {
			parts = append(parts, fmt.Sprintf("%s %.2f", u.label, u.cpu.Seconds()))
		}
		fmt.Printf("  %-*s %4.0f–%-4.0f  %s\n", first, r.name+":", mibps(size, r.elapsed[len(r.elapsed)-1]), mibps(size, r.elapsed[0]), strings.Join(parts, ", "))
	}

	fmt.Println("Echoes: CPU µs (user+system) per round trip, mean over every echo, warm-up included:")
	for _, r := range rows {
		if !r.measured() || r.echoed == 0 {
			continue
		}
		var parts []string
		for _, u := range r.echoCPU {
			parts = append(parts, fmt.Sprintf("%s %.0f", u.label, float64(u.cpu.Microseconds())/float64(r.echoed)))
		}
		fmt.Printf("  %-*s %s\n", first, r.name+":", strings.Join(parts, ", "))
	}

	fmt.Println("\ntargets from the issue: tether ≥ ssh -L in throughput and p99 latency; tether-agent RSS < 40 MiB during the transfer")
	for i, r := range tetherRows {
		if !r.measured() {
			continue
		}
		prefix := "this run: "
		if i > 0 {
			prefix = "this run, " + r.name + ": "
		}
		fmt.Println(prefix + strings.Join(verdict(r, sshRow, size), ", "))
	}
}

// verdict judges a tether row against the targets.
func verdict(r, sshRow *row, size int64) []string {
	var v []string
	if sshRow.measured() {
		x := r.mibps(size) / sshRow.mibps(size)
		v = append(v, fmt.Sprintf("throughput %.2fx ssh -L (%s)", x, met(x >= 1)))
		tp, sp := percentile(r.rtt, 99), percentile(sshRow.rtt, 99)
		v = append(v, fmt.Sprintf("p99 %s µs vs %s µs (%s)", us(tp), us(sp), met(tp <= sp)))
	}
	if u, ok := r.usage("tether-agent"); ok {
		v = append(v, fmt.Sprintf("tether-agent %s MiB (%s)", mib(u.peak), met(u.peak < 40<<20)))
	}
	return v
}

// logTails is the last lines of each daemon's stderr, for an error message.
func logTails(ds ...*benchenv.Daemon) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "\n%s log:\n%s", d.Name, d.Stderr.Tail())
	}
	return b.String()
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(s []time.Duration, p int) time.Duration {
	i := (len(s)*p + 99) / 100
	return s[max(0, i-1)]
}

func us(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
}

func mib(b int64) string {
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

func fmtSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
