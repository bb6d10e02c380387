package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tetherhq/tether/internal/api"
)

// auditEvent is the part of Tether.ListAuditEvents' event shape the table
// shows; JSON output and exports pass events through as the server sent them.
type auditEvent struct {
	EventTime float64 `json:"EventTime"`
	Principal string  `json:"Principal"`
	UserName  string  `json:"UserName"`
	Action    string  `json:"Action"`
	Target    string  `json:"Target"`
	SourceIP  string  `json:"SourceIp"`
	Outcome   string  `json:"Outcome"`
	ErrorCode string  `json:"ErrorCode"`
}

type auditPage struct {
	Events    []json.RawMessage `json:"Events"`
	NextToken string            `json:"NextToken,omitempty"`
}

type auditInput struct {
	StartTime  string `json:"StartTime,omitempty"`
	EndTime    string `json:"EndTime,omitempty"`
	Principal  string `json:"Principal,omitempty"`
	Target     string `json:"Target,omitempty"`
	Action     string `json:"Action,omitempty"`
	Kind       string `json:"Kind,omitempty"`
	Outcome    string `json:"Outcome,omitempty"`
	MaxResults int    `json:"MaxResults,omitempty"`
	NextToken  string `json:"NextToken,omitempty"`
}

// auditFilters are the flags list and export share.
type auditFilters struct {
	since, until, principal, target, action, kind, outcome string
}

func (f *auditFilters) register(fs *flag.FlagSet) {
	fs.StringVar(&f.since, "since", "", "events at or after: a duration ago (90s, 15m, 1h, 7d) or a time (RFC 3339, or 2006-01-02)")
	fs.StringVar(&f.until, "until", "", "events before: a duration ago or a time, as --since")
	fs.StringVar(&f.principal, "principal", "", "a user name or principal ARN")
	fs.StringVar(&f.target, "target", "", "what the event is about: instance id, session id, user name, ... (exact)")
	fs.StringVar(&f.action, "action", "", "operation (StartSession, AmazonSSM.StartSession), policy action (ssm:StartSession) or session state (Connected)")
	fs.StringVar(&f.kind, "kind", "", "api, authz, session or tunnel")
	fs.StringVar(&f.outcome, "outcome", "", "allowed, denied or error")
}

func (f *auditFilters) input(now time.Time) (auditInput, error) {
	in := auditInput{Principal: f.principal, Target: f.target, Action: f.action, Kind: f.kind, Outcome: f.outcome}
	var err error
	if in.StartTime, err = auditTime("--since", f.since, now); err != nil {
		return in, err
	}
	if in.EndTime, err = auditTime("--until", f.until, now); err != nil {
		return in, err
	}
	return in, nil
}

// auditTime turns "1h", "7d", "2026-01-02" or an RFC 3339 time into the
// RFC 3339 time the API takes.
func auditTime(flagName, v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, time.Local); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	d, err := time.ParseDuration(v)
	if n, ok := strings.CutSuffix(v, "d"); ok && err != nil {
		days, derr := strconv.Atoi(n)
		d, err = time.Duration(days)*24*time.Hour, derr
	}
	if err != nil || d < 0 {
		return "", fmt.Errorf("%s wants a duration ago (90s, 15m, 1h, 7d) or a time (2026-01-02T15:04:05Z, 2026-01-02), not %q", flagName, v)
	}
	return now.Add(-d).UTC().Format(time.RFC3339Nano), nil
}

func cmdAudit(ctx context.Context, e Env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.Stdout, `usage: tether audit <command> [flags]

commands:
  list    show audit events, newest first (a table, or --output json)
  export  write every matching event to stdout as JSON lines, newest first

Both take --since, --until, --principal, --target, --action, --kind and --outcome;
run `+"`tether audit list -h`"+` for what each accepts.`)
		return 0
	}
	switch args[0] {
	case "list":
		return cmdAuditList(ctx, e, args[1:])
	case "export":
		return cmdAuditExport(ctx, e, args[1:])
	}
	fmt.Fprintf(e.Stderr, "tether audit: unknown command %q; run `tether audit help`\n", args[0])
	return exitUsage
}

const opListAuditEvents = "ListAuditEvents"

func cmdAuditList(ctx context.Context, e Env, args []string) int {
	var f auditFilters
	var max int
	c, g, code := setup("audit list", e, args, func(fs *flag.FlagSet) {
		f.register(fs)
		fs.IntVar(&max, "max", 50, "show at most this many events")
	})
	if code >= 0 {
		return code
	}
	if max < 1 {
		fmt.Fprintln(e.Stderr, "tether audit list: --max must be at least 1")
		return exitUsage
	}
	in, err := f.input(time.Now())
	if err != nil {
		fmt.Fprintf(e.Stderr, "tether audit list: %v\n", err)
		return exitUsage
	}
	var out auditPage
	out.Events = []json.RawMessage{}
	for {
		in.MaxResults = min(max-len(out.Events), 1000)
		var page auditPage
		if err := c.Call(ctx, api.TargetTether+opListAuditEvents, in, &page); err != nil {
			return report(e, opListAuditEvents, err)
		}
		out.Events = append(out.Events, page.Events...)
		out.NextToken = page.NextToken
		if page.NextToken == "" || len(out.Events) >= max {
			break
		}
		in.NextToken = page.NextToken
	}
	if g.output == "json" {
		printJSON(e.Stdout, out)
		return 0
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tPRINCIPAL\tACTION\tTARGET\tOUTCOME\tSOURCE IP")
	for _, raw := range out.Events {
		var ev auditEvent
		json.Unmarshal(raw, &ev)
		who := ev.UserName
		if who == "" {
			who = ev.Principal
		}
		outcome := ev.Outcome
		if ev.ErrorCode != "" {
			outcome += " (" + ev.ErrorCode + ")"
		}
		when := time.UnixMilli(int64(ev.EventTime * 1000)).UTC().Format("2006-01-02 15:04:05Z")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", when, dash(who), dash(ev.Action), dash(ev.Target), dash(outcome), dash(ev.SourceIP))
	}
	tw.Flush()
	if out.NextToken != "" {
		fmt.Fprintf(e.Stderr, "(more events: raise --max, narrow the filters, or use `tether audit export`)\n")
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressEvery is how often a long export reports on stderr.
const progressEvery = 2 * time.Second

func cmdAuditExport(ctx context.Context, e Env, args []string) int {
	var f auditFilters
	c, _, code := setup("audit export", e, args, f.register)
	if code >= 0 {
		return code
	}
	in, err := f.input(time.Now())
	if err != nil {
		fmt.Fprintf(e.Stderr, "tether audit export: %v\n", err)
		return exitUsage
	}
	in.MaxResults = 1000
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	n, pages := 0, 0
	start := time.Now()
	last := start
	for {
		var page auditPage
		if err := c.Call(ctx, api.TargetTether+opListAuditEvents, in, &page); err != nil {
			w.Flush()
			fmt.Fprintf(e.Stderr, "tether audit export: stopped after %d events\n", n)
			return report(e, opListAuditEvents, err)
		}
		pages++
		for _, raw := range page.Events {
			if err := writeLine(w, raw); err != nil {
				fmt.Fprintf(e.Stderr, "tether audit export: write: %v\n", err)
				return 1
			}
			n++
		}
		if page.NextToken == "" {
			break
		}
		in.NextToken = page.NextToken
		if time.Since(last) >= progressEvery {
			last = time.Now()
			fmt.Fprintf(e.Stderr, "tether audit export: %d events so far...\n", n)
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(e.Stderr, "tether audit export: write: %v\n", err)
		return 1
	}
	if pages > 1 {
		fmt.Fprintf(e.Stderr, "tether audit export: %d events in %s\n", n, time.Since(start).Round(time.Millisecond))
	}
	return 0
}

// writeLine writes one event, compacted onto one line.
func writeLine(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return errors.New("the server sent an event that is not JSON")
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
