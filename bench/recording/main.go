// Command recording measures what recording shell sessions costs: the
// throughput of `cat` of a large file through a session, and the agent's
// memory, with the agent recording the session (asciicast v2, spooled to its
// state dir and streamed to the server) and with recording off.
//
// It builds the binaries, starts `tetherd dev`, then registers and runs two
// separate tether-agents on it: one as deployed, one with
// `tether-agent run --no-recording`. It writes -size bytes of terminal-like
// text (log lines, ANSI colours, tabs, some UTF-8) to a temp file. After one
// warm-up session per agent, each of -n rounds runs, through each agent in
// turn (the order alternating between rounds),
//
//	echo "cat FILE; exit" | tether start-session --target mi-…
//
// with the CLI's standard output counted (it must be exactly -size bytes).
// With recording on, it then polls `tether describe-sessions --state History`
// until the session has an OutputUrl (the server has stored the whole
// transcript), downloads the transcript and checks that it is at least
// -size bytes. Meanwhile it samples the resident sets of the agent, tetherd
// and the CLI, the CPU time of each, and the size of the agent's spool.
//
// Run it from the module root:
//
//	go run ./bench/recording [-size 100MiB] [-n 3]
//
// It never fails on slowness; it fails only if a session or its transcript
// is wrong or does not arrive within -timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

func main() {
	size := flag.String("size", "100MiB", "bytes the session prints, such as 100MiB or 1GiB")
	rounds := flag.Int("n", 3, "rounds; each runs one session through each agent")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on each session, including storing its transcript")
	flag.Parse()
	n, err := benchenv.ParseSize(*size)
	if err != nil || n < 1 || *rounds < 1 {
		fmt.Fprintln(os.Stderr, "recording: -size must be a positive size such as 100MiB, -n at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, options{size: n, rounds: *rounds, timeout: *timeout}, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "recording:", err)
		os.Exit(1)
	}
}

type options struct {
	size    int64
	rounds  int
	timeout time.Duration
}

// startTimeout bounds each wait while starting daemons.
const startTimeout = 15 * time.Second

// env is what every session needs.
type env struct {
	tmp    string
	tether string   // the CLI
	env    []string // the CLI's environment
	td     *benchenv.Tetherd
}

// agent is one of the two agents, and a row of the table.
type agent struct {
	name      string
	recording bool
	d         *benchenv.Daemon
	id        string
	stateDir  string
	idleRSS   int64
	samples   []sample
	seen      map[string]bool // sessions whose transcript is stored
}

func run(ctx context.Context, o options, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "recording-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	benchenv.Progress("building binaries…")
	bin := filepath.Join(tmp, "bin")
	if err := benchenv.Build(ctx, bin, nil); err != nil {
		return err
	}
	// The session's shell may run as another user (ssm-user when the
	// agent runs as root): it must reach the file.
	data := filepath.Join(tmp, "data")
	if err := os.Chmod(tmp, 0o711); err != nil {
		return err
	}
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	file := filepath.Join(data, "terminal.txt")
	benchenv.Progress("writing %s of terminal-like text…", benchenv.FormatSize(o.size))
	if err := writeTextFile(file, o.size); err != nil {
		return err
	}

	benchenv.Progress("starting tetherd…")
	cfgDir := filepath.Join(tmp, "tether-config")
	td, err := benchenv.StartTetherd(ctx, bin, cfgDir, filepath.Join(tmp, "tether-data"), startTimeout)
	if err != nil {
		return err
	}
	defer td.Stop()
	e := &env{tmp: tmp, tether: filepath.Join(bin, "tether"), env: benchenv.TetherEnv(cfgDir), td: td}

	on := &agent{name: "recording on", recording: true, stateDir: filepath.Join(tmp, "agent-on"), seen: map[string]bool{}}
	off := &agent{name: "recording off", stateDir: filepath.Join(tmp, "agent-off")}
	for _, a := range []*agent{on, off} {
		var args []string
		if !a.recording {
			args = []string{"--no-recording"}
		}
		benchenv.Progress("registering and starting a tether-agent, %s…", a.name)
		a.d, a.id, err = benchenv.StartAgent(ctx, bin, e.env, td.Endpoint, a.stateDir, startTimeout, args...)
		if err != nil {
			return fmt.Errorf("%w\ntetherd log:\n%s", err, td.Stderr.Tail())
		}
		defer a.d.Stop()
	}

	fail := func(a *agent, err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted during %s", a.name)
		}
		return fmt.Errorf("%s: %w\ntetherd log:\n%s\nagent log:\n%s", a.name, err, td.Stderr.Tail(), a.d.Stderr.Tail())
	}
	// The warm-up session is smaller: it only has to bring both agents'
	// heaps and the page cache to their working state.
	warmFile, warm := file, o.size
	if o.size > 16<<20 {
		warm = 16 << 20
		warmFile = filepath.Join(data, "warm.txt")
		if err := writeTextFile(warmFile, warm); err != nil {
			return err
		}
	}
	for _, a := range []*agent{on, off} {
		benchenv.Progress("%s: warm-up, %s…", a.name, benchenv.FormatSize(warm))
		if _, err := runSession(ctx, e, a, warmFile, warm, o.timeout); err != nil {
			return fail(a, fmt.Errorf("warm-up: %w", err))
		}
		a.idleRSS = benchenv.StatusKiB(a.d.Pid(), "VmRSS:") << 10
	}
	for i := 1; i <= o.rounds; i++ {
		// Alternating the order spreads drift in machine load, and
		// whatever one session leaves behind, over both rows.
		order := []*agent{on, off}
		if i%2 == 0 {
			order = []*agent{off, on}
		}
		for _, a := range order {
			benchenv.Progress("round %d/%d: %s…", i, o.rounds, a.name)
			s, err := runSession(ctx, e, a, file, o.size, o.timeout)
			if err != nil {
				return fail(a, err)
			}
			a.samples = append(a.samples, s)
			msg := fmt.Sprintf("  %.0f MiB/s, agent %s MiB", mibps(o.size, s.transfer), mib(s.agentRSS))
			if a.recording {
				msg += fmt.Sprintf(", stored %.1f s after the session, transcript %s", s.stored.Seconds(), benchenv.FormatSize(s.cast))
			}
			benchenv.Progress("%s", msg)
		}
	}
	printTable(out, o, on, off)
	return nil
}

func printTable(out io.Writer, o options, on, off *agent) {
	fmt.Fprintf(out, "cores: %d   go: %s\n", runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(out, "session: `cat` of %s of terminal-like text, non-PTY, through tetherd dev on loopback; %d rounds\n\n", benchenv.FormatSize(o.size), o.rounds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tMiB/s\tslowest–fastest\tagent MiB\tagent idle\ttetherd MiB\tCLI MiB\tagent CPU s\ttetherd CPU s\tCLI CPU s\tspool MiB\tstored after s\t")
	for _, a := range []*agent{on, off} {
		tp := throughputs(o.size, a.samples)
		var agentRSS, serverRSS, cliRSS, spool int64
		var agentCPU, agentUp, serverCPU, serverUp, cliCPU time.Duration
		var stored []time.Duration
		for _, s := range a.samples {
			agentRSS, serverRSS, cliRSS = max(agentRSS, s.agentRSS), max(serverRSS, s.serverRSS), max(cliRSS, s.cliRSS)
			spool = max(spool, s.spool)
			agentCPU += s.agentCPU
			agentUp += s.agentUpCPU
			serverCPU += s.serverCPU
			serverUp += s.serverUpCPU
			cliCPU += s.cliCPU
			stored = append(stored, s.stored)
		}
		k := time.Duration(len(a.samples))
		cpu := func(during, after time.Duration) string {
			if !a.recording {
				return fmt.Sprintf("%.2f", (during / k).Seconds())
			}
			return fmt.Sprintf("%.2f+%.2f", (during / k).Seconds(), (after / k).Seconds())
		}
		spoolCol, storedCol := "-", "-"
		if a.recording {
			slices.Sort(stored)
			spoolCol = mib(spool)
			storedCol = fmt.Sprintf("%.1f", stored[(len(stored)-1)/2].Seconds())
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f–%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t\n", a.name,
			median(tp), tp[0], tp[len(tp)-1], mib(agentRSS), mib(a.idleRSS), mib(serverRSS), mib(cliRSS),
			cpu(agentCPU, agentUp), cpu(serverCPU, serverUp), (cliCPU / k).Seconds(), spoolCol, storedCol)
	}
	tw.Flush()

	var agentOn, agentOff int64
	for _, s := range on.samples {
		agentOn = max(agentOn, s.agentRSS)
	}
	for _, s := range off.samples {
		agentOff = max(agentOff, s.agentRSS)
	}
	var cast int64
	for _, s := range on.samples {
		cast = max(cast, s.cast)
	}
	fmt.Fprintf(out, "\nrecording on/off: throughput %.2fx, agent peak RSS %+.1f MiB\n",
		median(throughputs(o.size, on.samples))/median(throughputs(o.size, off.samples)), float64(agentOn-agentOff)/(1<<20))
	fmt.Fprintf(out, "stored transcript: %s (.cast) for %s shown, %.2fx\n", benchenv.FormatSize(cast), benchenv.FormatSize(o.size), float64(cast)/float64(o.size))
	fmt.Fprintln(out, "\nMiB/s: median over rounds, from the CLI's first output byte to its last. RSS: peak resident set")
	fmt.Fprintln(out, "from the session's start until its transcript is stored (VmHWM reset before, VmRSS every 50 ms);")
	fmt.Fprintln(out, "tetherd dev also runs its own idle agent. agent idle: after the warm-up session. CPU s: user+system")
	fmt.Fprintln(out, "per session, mean; with recording, during the session + after it until stored. spool MiB: the")
	fmt.Fprintln(out, "largest size of the agent's transcript spool. stored after: from the CLI's exit until")
	fmt.Fprintln(out, "describe-sessions shows the OutputUrl (polled every 100 ms), median.")
}

// throughputs returns each sample's MiB/s, sorted.
func throughputs(size int64, ss []sample) []float64 {
	var out []float64
	for _, s := range ss {
		out = append(out, mibps(size, s.transfer))
	}
	slices.Sort(out)
	return out
}

func median(s []float64) float64 { return s[(len(s)-1)/2] }

func mibps(size int64, d time.Duration) float64 {
	return float64(size) / (1 << 20) / d.Seconds()
}

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
