package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/asciicast"
)

const sessionsUsage = `usage: tether sessions <command> SESSION_ID [flags]

commands:
  tail      follow a session's output as it happens (from its start)
  replay    play a session's transcript in the terminal at its real pace
  download  write the transcript (asciicast v2, plays in asciinema) or its plain-text log
`

// cmdSessions is `tether sessions tail|replay|download ID`.
func cmdSessions(ctx context.Context, e Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.Stdout, sessionsUsage)
		return 0
	}
	sub, rest := args[0], args[1:]
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	switch sub {
	case "tail":
		return cmdTail(ctx, e, id, rest)
	case "replay":
		return cmdReplay(ctx, e, id, rest)
	case "download":
		return cmdDownload(ctx, e, id, rest)
	}
	fmt.Fprintf(e.Stderr, "tether sessions: unknown command %q (tail, replay, download)\n", sub)
	return exitUsage
}

func needID(e Env, name, id string) bool {
	if id == "" {
		fmt.Fprintf(e.Stderr, "tether sessions %s: which session? usage: tether sessions %s SESSION_ID (see tether describe-sessions)\n", name, name)
		return false
	}
	return true
}

// tailGrace is how long tail keeps waiting for the rest of an ended
// session's transcript (the agent may be reconnecting) before giving up.
var tailGrace = 60 * time.Second

func cmdTail(ctx context.Context, e Env, id string, args []string) int {
	var plain bool
	c, g, code := setup("sessions tail", e, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&plain, "plain", false, "print plain-text lines (escape sequences removed) instead of the raw output")
	})
	if code >= 0 {
		return code
	}
	if !needID(e, "tail", id) {
		return exitUsage
	}
	w := bufio.NewWriter(e.Stdout)
	var off int64
	var header bool
	var pl asciicast.Plain
	var endedAt time.Time
	for {
		var out api.GetSessionTranscriptOutput
		err := c.Call(ctx, api.TargetTether+"GetSessionTranscript",
			api.GetSessionTranscriptInput{SessionID: id, Offset: off, WaitSeconds: 10}, &out)
		if err != nil {
			if ctx.Err() != nil {
				return 130
			}
			return report(e, "GetSessionTranscript", err)
		}
		for _, line := range strings.SplitAfter(out.Data, "\n") {
			if line == "" {
				continue
			}
			if g.output == "json" {
				w.WriteString(line) // the asciicast lines themselves
				continue
			}
			if !header {
				header = true // the first line is the header
				continue
			}
			ev, err := asciicast.ParseEvent([]byte(strings.TrimSuffix(line, "\n")))
			if err != nil {
				fmt.Fprintf(e.Stderr, "tether sessions tail: bad transcript line: %v\n", err)
				return 1
			}
			if ev.Code != asciicast.Output {
				continue
			}
			if plain {
				for _, l := range pl.Write(ev.Data) {
					w.WriteString(l + "\n")
				}
			} else {
				w.WriteString(ev.Data)
			}
		}
		w.Flush()
		off = out.NextOffset
		if out.Complete {
			return 0
		}
		if out.Data == "" && (out.SessionStatus == "Terminated" || out.SessionStatus == "Failed") {
			if endedAt.IsZero() {
				endedAt = time.Now()
			} else if time.Since(endedAt) > tailGrace {
				fmt.Fprintf(e.Stderr, "tether sessions tail: session %s ended but its transcript is not stored yet (is its agent connected?)\n", id)
				return 1
			}
		}
	}
}

// fetchAll reads a whole transcript, showing progress for long ones.
func fetchAll(ctx context.Context, c *Client, e Env, id string, w io.Writer) (stored bool, err error) {
	var off int64
	start := time.Now()
	for {
		var out api.GetSessionTranscriptOutput
		if err := c.Call(ctx, api.TargetTether+"GetSessionTranscript",
			api.GetSessionTranscriptInput{SessionID: id, Offset: off, MaxBytes: api.MaxTranscriptPage}, &out); err != nil {
			return false, err
		}
		if _, err := io.WriteString(w, out.Data); err != nil {
			return false, err
		}
		off = out.NextOffset
		if time.Since(start) > 2*time.Second {
			fmt.Fprintf(e.Stderr, "\r%d MiB…", off>>20)
		}
		if out.Complete || out.Data == "" {
			if time.Since(start) > 2*time.Second {
				fmt.Fprintln(e.Stderr)
			}
			if off == 0 {
				return false, fmt.Errorf("session %s has no transcript yet (its agent may still be sending it, or records nothing)", id)
			}
			return out.Stored, nil
		}
	}
}

func cmdDownload(ctx context.Context, e Env, id string, args []string) int {
	var format, outPath string
	c, _, code := setup("sessions download", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "cast", "cast (asciicast v2) or log (plain text)")
		fs.StringVar(&outPath, "o", "", "write to this file instead of standard output")
	})
	if code >= 0 {
		return code
	}
	if !needID(e, "download", id) {
		return exitUsage
	}
	if format != "cast" && format != "log" {
		fmt.Fprintln(e.Stderr, "tether sessions download: --format must be cast or log")
		return exitUsage
	}
	w := e.Stdout
	if outPath != "" {
		f, err := os.OpenFile(outPath, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(e.Stderr, "tether sessions download:", err)
			return 1
		}
		defer f.Close()
		w = f
	}
	var stored bool
	var err error
	if format == "cast" {
		stored, err = fetchAll(ctx, c, e, id, w)
	} else {
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { done <- asciicast.WritePlain(w, pr) }()
		stored, err = fetchAll(ctx, c, e, id, pw)
		pw.CloseWithError(err)
		if perr := <-done; err == nil {
			err = perr
		}
	}
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			return report(e, "GetSessionTranscript", err)
		}
		fmt.Fprintln(e.Stderr, "tether sessions download:", err)
		return 1
	}
	if !stored {
		fmt.Fprintf(e.Stderr, "tether sessions download: note: session %s's transcript is not complete yet; this is what has arrived so far\n", id)
	}
	return 0
}

func cmdReplay(ctx context.Context, e Env, id string, args []string) int {
	var speed float64
	var idle time.Duration
	var raw bool
	c, _, code := setup("sessions replay", e, args, func(fs *flag.FlagSet) {
		fs.Float64Var(&speed, "speed", 1, "playback speed (2 = twice as fast)")
		fs.DurationVar(&idle, "idle-limit", 0, "cap pauses at this long, e.g. 2s (0: real pauses)")
		fs.BoolVar(&raw, "raw", false, "print the output at once, without timing")
	})
	if code >= 0 {
		return code
	}
	if !needID(e, "replay", id) {
		return exitUsage
	}
	if speed <= 0 || idle < 0 {
		fmt.Fprintln(e.Stderr, "tether sessions replay: --speed must be above 0 and --idle-limit 0 or more")
		return exitUsage
	}
	var buf strings.Builder
	if _, err := fetchAll(ctx, c, e, id, &buf); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			return report(e, "GetSessionTranscript", err)
		}
		fmt.Fprintln(e.Stderr, "tether sessions replay:", err)
		return 1
	}
	if err := play(ctx, e.Stdout, strings.NewReader(buf.String()), speed, idle, raw); err != nil {
		if ctx.Err() != nil {
			return 130
		}
		fmt.Fprintln(e.Stderr, "tether sessions replay:", err)
		return 1
	}
	return 0
}

// play writes a transcript's output to w at its recorded pace.
func play(ctx context.Context, w io.Writer, cast io.Reader, speed float64, idle time.Duration, raw bool) error {
	rd, err := asciicast.NewReader(cast)
	if err != nil {
		return err
	}
	var prev float64
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Code != asciicast.Output {
			continue
		}
		if !raw {
			d := time.Duration((ev.Time - prev) / speed * float64(time.Second))
			if idle > 0 && d > idle {
				d = idle
			}
			prev = ev.Time
			if d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
		if _, err := io.WriteString(w, ev.Data); err != nil {
			return err
		}
	}
}
