// Package cli is the `tether` command: subcommands that mirror `aws ssm`
// names and flags, readable tables by default and AWS-shaped JSON with
// --output json, and start-session, which behaves like ssh (a TTY when stdin
// is a terminal, raw bytes otherwise, the remote exit status as its own,
// `~.` to leave).
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/profile"
)

// Exit codes, as the AWS CLI v2 uses them for API errors and usage.
const (
	exitAPIError = 254
	exitUsage    = 252
)

// Env is what a command reads and writes.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

type globals struct {
	profile  string
	endpoint string
	region   string
	output   string
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.profile, "profile", "", "profile name in the CLI profile files (default: default)")
	fs.StringVar(&g.endpoint, "endpoint-url", "", "server URL (default: TETHER_ENDPOINT, then the profile)")
	fs.StringVar(&g.region, "region", "", "region (default: the profile's, else us-east-1)")
	fs.StringVar(&g.output, "output", "table", "table or json")
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e Env, args []string) int
}

func commands() []command {
	return append([]command{
		{"start-session", "open a shell on a managed instance", cmdStartSession},
		{"terminate-session", "end a session", simple("TerminateSession", func(fs *flag.FlagSet) func() any {
			id := fs.String("session-id", "", "session id (required)")
			return func() any { return api.SessionIDInput{SessionID: *id} }
		}, nil)},
		{"resume-session", "get a fresh token for a disconnected session", simple("ResumeSession", func(fs *flag.FlagSet) func() any {
			id := fs.String("session-id", "", "session id (required)")
			return func() any { return api.SessionIDInput{SessionID: *id} }
		}, nil)},
		{"describe-sessions", "list active or past sessions", cmdDescribeSessions},
		{"get-connection-status", "is an instance's agent connected", simple("GetConnectionStatus", func(fs *flag.FlagSet) func() any {
			t := fs.String("target", "", "instance id (required)")
			return func() any { return api.GetConnectionStatusInput{Target: *t} }
		}, tableConnectionStatus)},
		{"describe-instance-information", "list managed instances", cmdDescribeInstances},
		{"create-activation", "create an activation for registering hosts", cmdCreateActivation},
		{"describe-activations", "list activations", simple("DescribeActivations", func(fs *flag.FlagSet) func() any {
			return func() any { return api.DescribeActivationsInput{} }
		}, tableActivations)},
		{"delete-activation", "delete an activation", simple("DeleteActivation", func(fs *flag.FlagSet) func() any {
			id := fs.String("activation-id", "", "activation id (required)")
			return func() any { return api.ActivationIDInput{ActivationID: *id} }
		}, nil)},
		{"deregister-managed-instance", "remove an instance; its agent can never connect again", simple("DeregisterManagedInstance", func(fs *flag.FlagSet) func() any {
			id := fs.String("instance-id", "", "instance id (required)")
			return func() any { return api.InstanceIDInput{InstanceID: *id} }
		}, nil)},
		{"add-tags-to-resource", "tag a managed instance", cmdTags("AddTagsToResource")},
		{"remove-tags-from-resource", "remove tags from a managed instance", cmdTags("RemoveTagsFromResource")},
		{"list-tags-for-resource", "list a managed instance's tags", cmdTags("ListTagsForResource")},
		{"send-ssh-public-key", "let a public key log in as an OS user for 60 seconds (sshd AuthorizedKeysCommand)", cmdSendSSHPublicKey},
		{"whoami", "show the identity the CLI uses", cmdWhoami},
		{"sessions", "a session's transcript: tail, replay, download (tether sessions help)", cmdSessions},
		{"iam", "users, keys, groups and policies (tether iam help)", cmdIAM},
		{"audit", "list and export the audit trail (tether audit help)", cmdAudit},
	}, documentCommands()...)
}

// Main runs the CLI and returns its exit status.
func Main(ctx context.Context, args []string, e Env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.Stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.Stdout, "tether", ClientVersion)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.Stderr, "tether: unknown command %q; run `tether help` for the list\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tether <command> [flags]\n\ncommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun `tether <command> -h` for a command's flags. Endpoint and credentials come from\n--endpoint-url / TETHER_ENDPOINT / TETHER_ACCESS_KEY_ID / TETHER_SECRET_ACCESS_KEY, then the\nprofile in $TETHER_CONFIG_DIR (default ~/.config/tether), which `tetherd dev` writes.")
}

// setup parses flags and resolves the profile.
func setup(name string, e Env, args []string, define func(fs *flag.FlagSet)) (*Client, *globals, int) {
	fs := flag.NewFlagSet("tether "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	g := &globals{}
	g.register(fs)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, 0
		}
		return nil, nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.Stderr, "tether %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, nil, exitUsage
	}
	if g.output != "table" && g.output != "json" && g.output != "text" {
		fmt.Fprintf(e.Stderr, "tether %s: --output must be table or json\n", name)
		return nil, nil, exitUsage
	}
	p, err := profile.Resolve(g.profile, g.endpoint)
	if err != nil {
		fmt.Fprintf(e.Stderr, "tether %s: %v\n", name, err)
		return nil, nil, exitUsage
	}
	if g.region != "" {
		p.Region = g.region
	}
	return &Client{Profile: p}, g, -1
}

// report prints an API error the way the AWS CLI does and returns its exit code.
func report(e Env, op string, err error) int {
	var ae *api.Error
	if errors.As(err, &ae) {
		fmt.Fprintf(e.Stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n", ae.Code, op, ae.Message)
		return exitAPIError
	}
	fmt.Fprintf(e.Stderr, "tether: %v\n", err)
	return 255
}

func printJSON(w io.Writer, v any) {
	b, _ := json.MarshalIndent(v, "", "    ")
	fmt.Fprintf(w, "%s\n", b)
}

// simple builds a command for an operation whose flags map to one input.
func simple(op string, define func(fs *flag.FlagSet) func() any, table func(w io.Writer, raw json.RawMessage)) func(context.Context, Env, []string) int {
	return func(ctx context.Context, e Env, args []string) int {
		var build func() any
		c, g, code := setup(kebab(op), e, args, func(fs *flag.FlagSet) { build = define(fs) })
		if code >= 0 {
			return code
		}
		var out json.RawMessage
		if err := c.Call(ctx, api.TargetSSM+op, build(), &out); err != nil {
			return report(e, op, err)
		}
		if g.output == "json" || table == nil {
			if string(out) != "{}" || g.output == "json" {
				var v any
				json.Unmarshal(out, &v)
				printJSON(e.Stdout, v)
			}
			return 0
		}
		table(e.Stdout, out)
		return 0
	}
}

func kebab(op string) string {
	var b strings.Builder
	for i, r := range op {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fmtTime(epoch float64) string {
	if epoch == 0 {
		return "-"
	}
	return time.UnixMilli(int64(epoch * 1000)).Local().Format("2006-01-02 15:04:05")
}

func tableConnectionStatus(w io.Writer, raw json.RawMessage) {
	var o api.GetConnectionStatusOutput
	json.Unmarshal(raw, &o)
	fmt.Fprintf(w, "%s\t%s\n", o.Target, o.Status)
}

func tableActivations(w io.Writer, raw json.RawMessage) {
	var o api.DescribeActivationsOutput
	json.Unmarshal(raw, &o)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTIVATION ID\tNAME\tREGISTERED\tLIMIT\tEXPIRES\tEXPIRED\tDESCRIPTION")
	for _, a := range o.ActivationList {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%v\t%s\n", a.ActivationID, a.DefaultInstanceName, a.RegistrationsCount, a.RegistrationLimit, fmtTime(a.ExpirationDate), a.Expired, a.Description)
	}
	tw.Flush()
}

func cmdWhoami(ctx context.Context, e Env, args []string) int {
	c, g, code := setup("whoami", e, args, nil)
	if code >= 0 {
		return code
	}
	var id api.CallerIdentity
	if err := c.Call(ctx, api.TargetTether+"GetCallerIdentity", struct{}{}, &id); err != nil {
		return report(e, "GetCallerIdentity", err)
	}
	if g.output == "json" {
		printJSON(e.Stdout, id)
		return 0
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Arn\t%s\nUserId\t%s\nAccount\t%s\nEndpoint\t%s\nAccessKeyId\t%s\n", id.Arn, id.UserID, id.Account, c.Profile.Endpoint, c.Profile.AccessKeyID)
	tw.Flush()
	return 0
}

// parseParameters accepts k=v,k2=v2 or the JSON form {"k":["v"]}.
func parseParameters(s string) (map[string][]string, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string][]string{}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		var raw map[string]any
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, fmt.Errorf("--parameters: bad JSON: %w", err)
		}
		for k, v := range raw {
			switch t := v.(type) {
			case string:
				out[k] = []string{t}
			case []any:
				for _, x := range t {
					xs, ok := x.(string)
					if !ok {
						return nil, fmt.Errorf("--parameters: %s must be strings", k)
					}
					out[k] = append(out[k], xs)
				}
			default:
				return nil, fmt.Errorf("--parameters: %s must be a string or a list of strings", k)
			}
		}
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--parameters: %q is not key=value", kv)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

func cmdStartSession(ctx context.Context, e Env, args []string) int {
	var target, doc, params, reason string
	var forwards []forwardSpec
	var forwardErr error
	c, _, code := setup("start-session", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&target, "target", "", "instance id (required)")
		fs.StringVar(&doc, "document-name", "", "session document (default SSM-SessionManagerRunShell)")
		fs.StringVar(&params, "parameters", "", "document parameters: k=v,k2=v2 or JSON")
		fs.StringVar(&reason, "reason", "", "why you are opening the session (recorded)")
		fs.Func("forward", "LOCAL:PORT or LOCAL:HOST:PORT, repeatable: several forwards in one session", func(v string) error {
			f, err := parseForward(v)
			if err != nil {
				forwardErr = err
				return err
			}
			forwards = append(forwards, f)
			return nil
		})
	})
	if forwardErr != nil {
		return exitUsage
	}
	if code >= 0 {
		return code
	}
	if target == "" {
		fmt.Fprintln(e.Stderr, "tether start-session: --target is required")
		return exitUsage
	}
	p, err := parseParameters(params)
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether start-session:", err)
		return exitUsage
	}
	if len(forwards) > 0 {
		if doc != "" || params != "" {
			fmt.Fprintln(e.Stderr, "tether start-session: --forward chooses its own document; drop --document-name and --parameters")
			return exitUsage
		}
		doc = "Tether-StartPortForwardingSessionMulti"
		p = map[string][]string{}
		for _, f := range forwards {
			p["forwards"] = append(p["forwards"], f.dest)
		}
	}
	var out api.StartSessionOutput
	if err := c.Call(ctx, api.TargetSSM+"StartSession", api.StartSessionInput{Target: target, DocumentName: doc, Parameters: p, Reason: reason}, &out); err != nil {
		return report(e, "StartSession", err)
	}
	sio := sessionIO{stdin: e.Stdin, stdout: e.Stdout, stderr: e.Stderr, forwards: forwards}
	if f, ok := e.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		sio.tty = f
		fmt.Fprintf(e.Stderr, "\nStarting session with SessionId: %s\n", out.SessionID)
	}
	res, err := runSession(ctx, c, out, sio)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 130
		}
		fmt.Fprintf(e.Stderr, "\ntether: session %s: %v\n", out.SessionID, err)
		return 255
	}
	switch {
	case res.quit:
		fmt.Fprintf(e.Stderr, "\r\nConnection to %s closed.\r\n", target)
		return 255
	case res.exitCode != nil:
		if sio.tty != nil {
			fmt.Fprintf(e.Stderr, "\r\nExiting session with sessionId: %s.\r\n", out.SessionID)
		}
		return *res.exitCode
	case res.output != "":
		fmt.Fprintf(e.Stderr, "\r\nSessionId: %s : %s\r\n", out.SessionID, res.output)
		return 255
	}
	return 0
}

func cmdDescribeSessions(ctx context.Context, e Env, args []string) int {
	var state, filters string
	var max int
	c, g, code := setup("describe-sessions", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&state, "state", "Active", "Active or History")
		fs.StringVar(&filters, "filters", "", "key=Target,value=mi-…[;key=…,value=…]")
		fs.IntVar(&max, "max-results", 0, "page size (1-200)")
	})
	if code >= 0 {
		return code
	}
	in := api.DescribeSessionsInput{State: state, MaxResults: max}
	if filters != "" {
		for _, f := range strings.Split(filters, ";") {
			var sf api.SessionFilter
			for _, kv := range strings.Split(f, ",") {
				k, v, _ := strings.Cut(kv, "=")
				switch strings.ToLower(k) {
				case "key":
					sf.Key = v
				case "value":
					sf.Value = v
				default:
					fmt.Fprintf(e.Stderr, "tether describe-sessions: --filters wants key=K,value=V, got %q\n", kv)
					return exitUsage
				}
			}
			in.Filters = append(in.Filters, sf)
		}
	}
	var all []api.Session
	for {
		var out api.DescribeSessionsOutput
		if err := c.Call(ctx, api.TargetSSM+"DescribeSessions", in, &out); err != nil {
			return report(e, "DescribeSessions", err)
		}
		all = append(all, out.Sessions...)
		if out.NextToken == "" || max > 0 {
			break
		}
		in.NextToken = out.NextToken
	}
	if all == nil {
		all = []api.Session{}
	}
	if g.output == "json" {
		printJSON(e.Stdout, api.DescribeSessionsOutput{Sessions: all})
		return 0
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION ID\tTARGET\tSTATUS\tSTARTED\tENDED\tOWNER\tDETAILS")
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.SessionID, s.Target, s.Status, fmtTime(s.StartDate), fmtTime(s.EndDate), s.Owner, s.Details)
	}
	tw.Flush()
	return 0
}

func cmdDescribeInstances(ctx context.Context, e Env, args []string) int {
	var filters string
	c, g, code := setup("describe-instance-information", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&filters, "filters", "", "Key=PingStatus,Values=Online[;Key=tag:Env,Values=dev,prod]")
	})
	if code >= 0 {
		return code
	}
	in := api.DescribeInstanceInformationInput{}
	if filters != "" {
		for _, f := range strings.Split(filters, ";") {
			var fl api.InstanceInformationFilter
			key, rest, ok := strings.Cut(f, ",Values=")
			if !ok || !strings.HasPrefix(key, "Key=") {
				fmt.Fprintf(e.Stderr, "tether describe-instance-information: --filters wants Key=K,Values=V1,V2, got %q\n", f)
				return exitUsage
			}
			fl.Key = strings.TrimPrefix(key, "Key=")
			fl.Values = strings.Split(rest, ",")
			in.Filters = append(in.Filters, fl)
		}
	}
	var all []api.InstanceInformation
	for {
		var out api.DescribeInstanceInformationOutput
		if err := c.Call(ctx, api.TargetSSM+"DescribeInstanceInformation", in, &out); err != nil {
			return report(e, "DescribeInstanceInformation", err)
		}
		all = append(all, out.InstanceInformationList...)
		if out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if all == nil {
		all = []api.InstanceInformation{}
	}
	if g.output == "json" {
		printJSON(e.Stdout, api.DescribeInstanceInformationOutput{InstanceInformationList: all})
		return 0
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE ID\tNAME\tPING\tLAST PING\tPLATFORM\tIP\tCOMPUTER\tAGENT")
	for _, i := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", i.InstanceID, i.Name, i.PingStatus, fmtTime(i.LastPingDateTime), i.PlatformName, i.PlatformVersion, i.IPAddress, i.ComputerName, i.AgentVersion)
	}
	tw.Flush()
	return 0
}

func cmdCreateActivation(ctx context.Context, e Env, args []string) int {
	var in api.CreateActivationInput
	var expires time.Duration
	var tags string
	c, g, code := setup("create-activation", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Description, "description", "", "description")
		fs.StringVar(&in.DefaultInstanceName, "default-instance-name", "", "name given to instances registered with it")
		fs.StringVar(&in.IamRole, "iam-role", "", "recorded on instances (informational)")
		fs.IntVar(&in.RegistrationLimit, "registration-limit", 1, "how many hosts may register (1-1000)")
		fs.DurationVar(&expires, "expires-in", 24*time.Hour, "validity (at most 720h)")
		fs.StringVar(&tags, "tags", "", "tags for registered instances: Key=V,Key2=V2")
	})
	if code >= 0 {
		return code
	}
	in.ExpirationDate = float64(time.Now().Add(expires).UnixMilli()) / 1000
	t, err := parseTags(tags)
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether create-activation:", err)
		return exitUsage
	}
	in.Tags = t
	var out api.CreateActivationOutput
	if err := c.Call(ctx, api.TargetSSM+"CreateActivation", in, &out); err != nil {
		return report(e, "CreateActivation", err)
	}
	if g.output == "json" {
		printJSON(e.Stdout, out)
		return 0
	}
	fmt.Fprintf(e.Stdout, "ActivationId\t%s\nActivationCode\t%s\n\nRegister a host (the code is shown only now):\n\n  tether-agent register --endpoint %s --activation-id %s --activation-code %s\n",
		out.ActivationID, out.ActivationCode, c.Profile.Endpoint, out.ActivationID, out.ActivationCode)
	return 0
}

// parseTags accepts K=V,K2=V2 and AWS's Key=K,Value=V pairs.
func parseTags(s string) ([]api.Tag, error) {
	if s == "" {
		return nil, nil
	}
	var out []api.Tag
	parts := strings.Split(s, ",")
	for i := 0; i < len(parts); i++ {
		k, v, ok := strings.Cut(parts[i], "=")
		if !ok {
			return nil, fmt.Errorf("tag %q is not Key=Value", parts[i])
		}
		if k == "Key" && i+1 < len(parts) && strings.HasPrefix(parts[i+1], "Value=") {
			out = append(out, api.Tag{Key: v, Value: strings.TrimPrefix(parts[i+1], "Value=")})
			i++
			continue
		}
		out = append(out, api.Tag{Key: k, Value: v})
	}
	return out, nil
}

func cmdTags(op string) func(context.Context, Env, []string) int {
	return func(ctx context.Context, e Env, args []string) int {
		var rt, id, tags, keys string
		c, g, code := setup(kebab(op), e, args, func(fs *flag.FlagSet) {
			fs.StringVar(&rt, "resource-type", "ManagedInstance", "resource type")
			fs.StringVar(&id, "resource-id", "", "resource id (required)")
			if op == "AddTagsToResource" {
				fs.StringVar(&tags, "tags", "", "Key=V,Key2=V2 (or Key=K,Value=V)")
			}
			if op == "RemoveTagsFromResource" {
				fs.StringVar(&keys, "tag-keys", "", "K1,K2")
			}
		})
		if code >= 0 {
			return code
		}
		in := api.TagsInput{ResourceType: rt, ResourceID: id}
		var err error
		if in.Tags, err = parseTags(tags); err != nil {
			fmt.Fprintf(e.Stderr, "tether %s: %v\n", kebab(op), err)
			return exitUsage
		}
		if keys != "" {
			in.TagKeys = strings.Split(keys, ",")
		}
		var out api.ListTagsOutput
		if err := c.Call(ctx, api.TargetSSM+op, in, &out); err != nil {
			return report(e, op, err)
		}
		if op != "ListTagsForResource" {
			return 0
		}
		if g.output == "json" {
			printJSON(e.Stdout, out)
			return 0
		}
		sort.Slice(out.TagList, func(i, j int) bool { return out.TagList[i].Key < out.TagList[j].Key })
		tw := tabwriter.NewWriter(e.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE")
		for _, t := range out.TagList {
			fmt.Fprintf(tw, "%s\t%s\n", t.Key, t.Value)
		}
		tw.Flush()
		return 0
	}
}

func cmdSendSSHPublicKey(ctx context.Context, e Env, args []string) int {
	var target, user, keyFile string
	c, g, code := setup("send-ssh-public-key", e, args, func(fs *flag.FlagSet) {
		fs.StringVar(&target, "target", "", "instance id (required)")
		fs.StringVar(&user, "os-user", "", "the OS user the key may log in as (required)")
		fs.StringVar(&keyFile, "ssh-public-key", "", "public key file, e.g. ~/.ssh/id_ed25519.pub, or file://path (required)")
	})
	if code >= 0 {
		return code
	}
	if target == "" || user == "" || keyFile == "" {
		fmt.Fprintln(e.Stderr, "tether send-ssh-public-key: --target, --os-user and --ssh-public-key are required")
		return exitUsage
	}
	key, err := os.ReadFile(strings.TrimPrefix(keyFile, "file://"))
	if err != nil {
		fmt.Fprintln(e.Stderr, "tether send-ssh-public-key:", err)
		return exitUsage
	}
	var out map[string]any
	in := map[string]string{"InstanceId": target, "InstanceOSUser": user, "SSHPublicKey": strings.TrimSpace(string(key))}
	if err := c.Call(ctx, api.TargetTether+"SendSSHPublicKey", in, &out); err != nil {
		return report(e, "SendSSHPublicKey", err)
	}
	if g.output == "json" {
		printJSON(e.Stdout, out)
		return 0
	}
	fmt.Fprintf(e.Stdout, "Key accepted for %s on %s for 60 seconds (request %v).\n", user, target, out["RequestId"])
	return 0
}
