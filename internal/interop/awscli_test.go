package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/testenv"
)

// awsCLI is one installed AWS CLI.
type awsCLI struct {
	path    string
	version string // "aws-cli/2.9.19 Python/..." as --version prints it
	major   int    // 1 or 2
}

// name is a subtest name: aws-cli/2.9.19.
func (c awsCLI) name() string { return strings.Fields(c.version)[0] }

// errorExit is the status the CLI exits with on a service error.
func (c awsCLI) errorExit() int {
	if c.major == 1 {
		return 255
	}
	return 254
}

// debianAWS is where Debian's awscli package installs the CLI; a pip-installed
// v1 CLI often comes first on PATH, so both are looked for.
const debianAWS = "/usr/bin/aws"

// findCLIs returns every distinct AWS CLI installed: Debian's (the one CI
// installs) first, then the `aws` on PATH if it is another version. The
// test fails, not skips, without one: CI must run these tests.
func findCLIs(t *testing.T) []awsCLI {
	t.Helper()
	var paths []string
	if _, err := os.Stat(debianAWS); err == nil {
		paths = append(paths, debianAWS)
	}
	if p, err := exec.LookPath("aws"); err == nil {
		paths = append(paths, p)
	}
	var clis []awsCLI
	seen := map[string]bool{}
	for _, p := range paths {
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", p, err, out)
		}
		v := strings.TrimSpace(string(out))
		m := regexp.MustCompile(`^aws-cli/([12])\.`).FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("%s --version: unexpected %q", p, v)
		}
		if seen[strings.Fields(v)[0]] {
			continue
		}
		seen[strings.Fields(v)[0]] = true
		clis = append(clis, awsCLI{path: p, version: v, major: int(m[1][0] - '0')})
	}
	if len(clis) == 0 {
		t.Fatal("the AWS CLI is not installed: run `apt-get install awscli` (.ci/run does)")
	}
	for _, c := range clis {
		t.Logf("AWS CLI %s: %s", c.path, c.version)
	}
	return clis
}

// awsEnv is the environment for the AWS CLI and the plugin against s: the
// AWS-format profile tetherd dev wrote, the plugin on PATH, and none of the
// caller's AWS_* settings.
func awsEnv(s *testenv.Server, pluginDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(s.ConfigDir, "credentials"),
		"AWS_CONFIG_FILE="+filepath.Join(s.ConfigDir, "config"),
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CLI_AUTO_PROMPT=off",
	)
}

// cliRun is one AWS CLI against one tetherd.
type cliRun struct {
	t      *testing.T
	cli    awsCLI
	s      *testenv.Server
	env    []string
	region string
}

func newCLIRun(t *testing.T, cli awsCLI, s *testenv.Server, pluginDir string) *cliRun {
	return &cliRun{t: t, cli: cli, s: s, env: awsEnv(s, pluginDir), region: s.Profile().Region}
}

// args appends what every call needs: Debian's 2.9.19 ignores
// AWS_ENDPOINT_URL_SSM, so the endpoint is always a flag.
func (r *cliRun) args(args ...string) []string {
	return append(args, "--endpoint-url", r.s.URL, "--region", r.region, "--output", "json")
}

// command is an `aws` command ready to start.
func (r *cliRun) command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.cli.path, r.args(args...)...)
	cmd.Env = r.env
	return cmd
}

// run runs `aws args...` and returns stdout, stderr and the exit status.
func (r *cliRun) run(args ...string) (string, string, int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.cli.path, r.args(args...)...)
	cmd.Env = r.env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	r.t.Fatalf("aws %v: %v", args, err)
	return "", "", -1
}

// json runs `aws args...`, which must succeed, checks its output against
// shape and returns it decoded.
func (r *cliRun) json(sh shape, args ...string) map[string]any {
	r.t.Helper()
	out, errb, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("aws %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errb)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		r.t.Fatalf("aws %s: not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	if errs := sh.check("$", v); len(errs) > 0 {
		r.t.Errorf("aws %s: output does not have AWS's shape:\n  %s\noutput:\n%s", strings.Join(args, " "), strings.Join(errs, "\n  "), out)
	}
	return v
}

// --- AWS's documented output shapes ---

// shape checks one decoded JSON value and returns what is wrong with it.
// The CLI parses responses with AWS's service model, so members the model
// does not know never reach its output; what these shapes catch is a
// missing member, a member of the wrong type (a timestamp in milliseconds,
// a string enum spelled differently) or an implausible value.
type shape interface {
	check(path string, v any) []string
}

type member struct {
	shape    shape
	required bool
}

func req(s shape) member { return member{s, true} }
func opt(s shape) member { return member{s, false} }

// object is a structure with exactly the members AWS's model lists.
type object map[string]member

func (o object) check(path string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %T, want an object", path, v)}
	}
	var errs []string
	for k, mem := range o {
		x, ok := m[k]
		if !ok {
			if mem.required {
				errs = append(errs, fmt.Sprintf("%s.%s: missing", path, k))
			}
			continue
		}
		errs = append(errs, mem.shape.check(path+"."+k, x)...)
	}
	for k := range m {
		if _, ok := o[k]; !ok {
			errs = append(errs, fmt.Sprintf("%s.%s: not in AWS's model", path, k))
		}
	}
	return errs
}

type list struct{ elem shape }

func (l list) check(path string, v any) []string {
	a, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %T, want a list", path, v)}
	}
	var errs []string
	for i, x := range a {
		errs = append(errs, l.elem.check(fmt.Sprintf("%s[%d]", path, i), x)...)
	}
	return errs
}

// str is a string, matching pattern when one is given, and at most max
// bytes long when max is set.
type str struct {
	pattern string
	max     int
}

func (s str) check(path string, v any) []string {
	x, ok := v.(string)
	if !ok {
		return []string{fmt.Sprintf("%s: %T %v, want a string", path, v, v)}
	}
	if s.max > 0 && len(x) > s.max {
		return []string{fmt.Sprintf("%s: %d bytes, AWS allows %d", path, len(x), s.max)}
	}
	if s.pattern != "" && !regexp.MustCompile(s.pattern).MatchString(x) {
		return []string{fmt.Sprintf("%s: %q does not match %s", path, x, s.pattern)}
	}
	return nil
}

type enum []string

func (e enum) check(path string, v any) []string {
	x, ok := v.(string)
	if !ok {
		return []string{fmt.Sprintf("%s: %T %v, want a string", path, v, v)}
	}
	for _, want := range e {
		if x == want {
			return nil
		}
	}
	return []string{fmt.Sprintf("%s: %q is not one of %v", path, x, []string(e))}
}

type boolean struct{}

func (boolean) check(path string, v any) []string {
	if _, ok := v.(bool); !ok {
		return []string{fmt.Sprintf("%s: %T %v, want a boolean", path, v, v)}
	}
	return nil
}

type integer struct{}

func (integer) check(path string, v any) []string {
	if f, ok := v.(float64); !ok || f != float64(int64(f)) {
		return []string{fmt.Sprintf("%s: %T %v, want an integer", path, v, v)}
	}
	return nil
}

// timestamp is a time the CLI parsed from the wire's epoch seconds: v1 prints
// it back as a number, v2 as ISO 8601. Either way it must be a plausible time
// for a test that just ran (a value in milliseconds lands in year 58000).
type timestamp struct{}

func (timestamp) check(path string, v any) []string {
	var t time.Time
	switch x := v.(type) {
	case float64:
		t = time.UnixMilli(int64(x * 1000))
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return []string{fmt.Sprintf("%s: %q is not an ISO 8601 time: %v", path, x, err)}
		}
	default:
		return []string{fmt.Sprintf("%s: %T %v, want a timestamp", path, v, v)}
	}
	if now := time.Now(); t.Before(now.Add(-time.Hour)) || t.After(now.Add(31*24*time.Hour)) {
		return []string{fmt.Sprintf("%s: %v is not a plausible time now (%v)", path, t, now)}
	}
	return nil
}

const (
	instanceIDPattern = `^mi-[0-9a-f]{17}$`
	sessionIDPattern  = `^[a-zA-Z0-9_.@-]{1,78}-[0-9a-f]{17}$`
	uuidPattern       = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
)

// The members of each output as the SSM API reference and botocore's model
// list them; required marks what AWS returns for a managed instance.
var (
	tagShape = object{"Key": req(str{pattern: `^.+$`, max: 128}), "Value": req(str{pattern: "", max: 256})}

	instanceInformationShape = object{
		"InstanceId":                             req(str{pattern: instanceIDPattern}),
		"PingStatus":                             req(enum{"Online", "ConnectionLost", "Inactive"}),
		"LastPingDateTime":                       req(timestamp{}),
		"AgentVersion":                           req(str{pattern: `^[0-9]+(\.[0-9]+){3}$`}),
		"IsLatestVersion":                        req(boolean{}),
		"PlatformType":                           req(enum{"Windows", "Linux", "MacOS"}),
		"PlatformName":                           req(str{}),
		"PlatformVersion":                        req(str{}),
		"ActivationId":                           req(str{pattern: uuidPattern}),
		"IamRole":                                opt(str{}),
		"RegistrationDate":                       req(timestamp{}),
		"ResourceType":                           req(enum{"ManagedInstance", "EC2Instance"}),
		"Name":                                   req(str{}),
		"IPAddress":                              req(str{pattern: `^[0-9a-fA-F.:]+$`}),
		"ComputerName":                           req(str{}),
		"AssociationStatus":                      opt(str{}),
		"LastAssociationExecutionDate":           opt(timestamp{}),
		"LastSuccessfulAssociationExecutionDate": opt(timestamp{}),
		"AssociationOverview":                    opt(object{"DetailedStatus": opt(str{}), "InstanceAssociationStatusAggregatedCount": opt(object{})}),
		"SourceId":                               req(str{pattern: instanceIDPattern}),
		"SourceType":                             req(enum{"AWS::EC2::Instance", "AWS::IoT::Thing", "AWS::SSM::ManagedInstance"}),
	}
	describeInstanceInformationShape = object{
		"InstanceInformationList": req(list{instanceInformationShape}),
		"NextToken":               opt(str{}),
	}

	getConnectionStatusShape = object{
		"Target": req(str{}),
		"Status": req(enum{"connected", "notconnected"}),
	}

	sessionShape = object{
		"SessionId":          req(str{pattern: sessionIDPattern}),
		"Target":             req(str{pattern: instanceIDPattern}),
		"Status":             req(enum{"Connected", "Connecting", "Disconnected", "Terminated", "Terminating", "Failed"}),
		"StartDate":          req(timestamp{}),
		"EndDate":            opt(timestamp{}),
		"DocumentName":       req(str{}),
		"Owner":              req(str{pattern: `^arn:aws:(iam|sts)::[0-9]{12}:`}),
		"Reason":             opt(str{pattern: `^.+$`, max: 256}),
		"Details":            opt(str{pattern: `^(?s).+$`, max: 1024}),
		"OutputUrl":          opt(object{"S3OutputUrl": opt(str{}), "CloudWatchOutputUrl": opt(str{})}),
		"MaxSessionDuration": opt(str{pattern: `^([1-9]|[1-9][0-9]|[1-9][0-9][0-9]|1[0-3][0-9][0-9]|14[0-3][0-9]|1440)$`}),
		"AccessType":         opt(enum{"Standard", "JustInTime"}),
	}
	describeSessionsShape = object{
		"Sessions":  req(list{sessionShape}),
		"NextToken": opt(str{}),
	}

	createActivationShape = object{
		"ActivationId":   req(str{pattern: uuidPattern}),
		"ActivationCode": req(str{pattern: `^.{20,}$`, max: 250}),
	}
	activationShape = object{
		"ActivationId":        req(str{pattern: uuidPattern}),
		"Description":         opt(str{}),
		"DefaultInstanceName": opt(str{}),
		"IamRole":             opt(str{}),
		"RegistrationLimit":   req(integer{}),
		"RegistrationsCount":  req(integer{}),
		"ExpirationDate":      req(timestamp{}),
		"Expired":             req(boolean{}),
		"CreatedDate":         req(timestamp{}),
		"Tags":                opt(list{tagShape}),
	}
	describeActivationsShape = object{
		"ActivationList": req(list{activationShape}),
		"NextToken":      opt(str{}),
	}

	listTagsShape = object{"TagList": req(list{tagShape})}

	sessionIDShape = object{"SessionId": req(str{pattern: sessionIDPattern})}
)

// --- the tests ---

// TestAWSCLI drives the SSM API operations Tether implements through every
// installed AWS CLI and checks what the CLI prints against AWS's shapes.
func TestAWSCLI(t *testing.T) {
	clis := findCLIs(t)
	plugin := pluginDir(t)
	s := testenv.StartDev(t)
	denied := userWithoutPolicy(t, s, "nopolicy")
	for i, cli := range clis {
		t.Run(cli.name(), func(t *testing.T) {
			r := newCLIRun(t, cli, s, plugin)
			testAPI(t, r, i, denied)
		})
	}
}

// deniedUser is a user with an access key and no policy.
type deniedUser struct {
	arn string
	env []string // AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
}

// userWithoutPolicy creates a user and an access key with the tether CLI,
// as an administrator would, and attaches no policy.
func userWithoutPolicy(t *testing.T, s *testenv.Server, name string) deniedUser {
	t.Helper()
	var user struct{ User struct{ Arn string } }
	s.JSON(&user, "iam", "create-user", "--user-name", name)
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	s.JSON(&key, "iam", "create-access-key", "--user-name", name)
	if user.User.Arn == "" || key.AccessKey.AccessKeyId == "" || key.AccessKey.SecretAccessKey == "" {
		t.Fatalf("user %s: %+v, key %+v", name, user, key)
	}
	return deniedUser{arn: user.User.Arn, env: []string{
		"AWS_ACCESS_KEY_ID=" + key.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + key.AccessKey.SecretAccessKey}}
}

func testAPI(t *testing.T, r *cliRun, n int, denied deniedUser) {
	s := r.s
	t.Run("describe-instance-information", func(t *testing.T) {
		all := r.json(describeInstanceInformationShape, "ssm", "describe-instance-information")
		one := r.json(describeInstanceInformationShape, "ssm", "describe-instance-information",
			"--filters", "Key=InstanceIds,Values="+s.InstanceID)
		legacy := r.json(describeInstanceInformationShape, "ssm", "describe-instance-information",
			"--instance-information-filter-list", "key=InstanceIds,valueSet="+s.InstanceID)
		for name, v := range map[string]map[string]any{"all": all, "filtered": one, "legacy filter": legacy} {
			if findItem(v, "InstanceInformationList", "InstanceId", s.InstanceID) == nil {
				t.Errorf("%s: %s not listed: %v", name, s.InstanceID, v)
			}
		}
		if l := one["InstanceInformationList"].([]any); len(l) != 1 {
			t.Errorf("InstanceIds filter: %d instances, want 1", len(l))
		}
		i := findItem(one, "InstanceInformationList", "InstanceId", s.InstanceID)
		want := map[string]any{"PingStatus": "Online", "PlatformType": "Linux", "ResourceType": "ManagedInstance",
			"SourceId": s.InstanceID, "SourceType": "AWS::SSM::ManagedInstance", "Name": "dev"}
		for k, w := range want {
			if i[k] != w {
				t.Errorf("%s = %v, want %v", k, i[k], w)
			}
		}
	})

	t.Run("get-connection-status", func(t *testing.T) {
		v := r.json(getConnectionStatusShape, "ssm", "get-connection-status", "--target", s.InstanceID)
		if v["Target"] != s.InstanceID || v["Status"] != "connected" {
			t.Errorf("online instance: %v", v)
		}
		v = r.json(getConnectionStatusShape, "ssm", "get-connection-status", "--target", "mi-0123456789abcdef0")
		if v["Target"] != "mi-0123456789abcdef0" || v["Status"] != "notconnected" {
			t.Errorf("unknown instance: %v", v)
		}
	})

	t.Run("describe-sessions", func(t *testing.T) {
		for _, state := range []string{"Active", "History"} {
			r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", state)
			r.json(describeSessionsShape, "ssm", "describe-sessions", "--state", state,
				"--filters", "key=Target,value="+s.InstanceID, "key=Owner,value=arn:aws:iam::000000000000:user/nobody")
		}
	})

	// Service errors as the CLI renders them (protocol.md §1.2): one line,
	// AWS's code and the operation, the CLI's error status, nothing on
	// stdout. The codes are AWS's; the messages are Tether's.
	t.Run("errors", func(t *testing.T) {
		const unknown = "mi-0123456789abcdef0"
		for _, c := range []struct {
			name string
			env  []string
			args []string
			want string
		}{
			{"AccessDeniedException", denied.env, []string{"ssm", "describe-sessions", "--state", "Active"},
				"An error occurred (AccessDeniedException) when calling the DescribeSessions operation: User: " + denied.arn +
					" is not authorized to perform: ssm:DescribeSessions on resource: * because no identity-based policy allows the ssm:DescribeSessions action"},
			{"InvalidDocument", nil, []string{"ssm", "start-session", "--target", s.InstanceID, "--document-name", "No-Such-Doc"},
				"An error occurred (InvalidDocument) when calling the StartSession operation: Document with name No-Such-Doc does not exist."},
			{"ValidationException", nil, []string{"ssm", "start-session", "--target", s.InstanceID,
				"--document-name", "AWS-StartPortForwardingSession", "--parameters", "portNumber=99999"},
				`An error occurred (ValidationException) when calling the StartSession operation: parameter "portNumber": value "99999" does not match allowedPattern ` +
					`^([1-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$`},
			{"TargetNotConnected", nil, []string{"ssm", "start-session", "--target", unknown},
				"An error occurred (TargetNotConnected) when calling the StartSession operation: " + unknown + " is not connected."},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := *r
				r.t = t
				r.env = append(slices.Clone(r.env), c.env...)
				out, errb, code := r.run(c.args...)
				if code != r.cli.errorExit() || strings.TrimSpace(errb) != c.want || out != "" {
					t.Errorf("aws %s: exit %d (want %d)\nstderr %q\nwant   %q\nstdout %q",
						strings.Join(c.args, " "), code, r.cli.errorExit(), strings.TrimSpace(errb), c.want, out)
				}
			})
		}
	})

	t.Run("terminate-session of an unknown session", func(t *testing.T) {
		_, errb, code := r.run("ssm", "terminate-session", "--session-id", "nobody-0123456789abcdef0")
		if code != r.cli.errorExit() || !strings.Contains(errb, "when calling the TerminateSession operation") {
			t.Errorf("exit %d, stderr %q", code, errb)
		}
	})

	// An activation made with the AWS CLI registers a Tether agent; the
	// instance then carries the activation's name, role and tags.
	var instanceID string
	name := fmt.Sprintf("web-%d", n)
	t.Run("create-activation", func(t *testing.T) {
		act := r.json(createActivationShape, "ssm", "create-activation",
			"--default-instance-name", name, "--iam-role", "SSMServiceRole", "--registration-limit", "2",
			"--description", "interop "+r.cli.name(), "--tags", "Key=Environment,Value=Development")
		id, code := act["ActivationId"].(string), act["ActivationCode"].(string)

		v := r.json(describeActivationsShape, "ssm", "describe-activations", "--filters", "FilterKey=ActivationIds,FilterValues="+id)
		a := findItem(v, "ActivationList", "ActivationId", id)
		if a == nil {
			t.Fatalf("activation %s not listed: %v", id, v)
		}
		if a["DefaultInstanceName"] != name || a["IamRole"] != "SSMServiceRole" || a["RegistrationLimit"] != 2.0 ||
			a["RegistrationsCount"] != 0.0 || a["Expired"] != false || a["Description"] != "interop "+r.cli.name() {
			t.Errorf("activation: %v", a)
		}

		state := filepath.Join(t.TempDir(), "agent")
		reg := exec.Command(s.Bins.Agent, "register", "--endpoint", s.URL, "--activation-id", id,
			"--activation-code", code, "--state-dir", state)
		out, err := reg.CombinedOutput()
		if err != nil {
			t.Fatalf("tether-agent register: %v\n%s", err, out)
		}
		if instanceID = regexp.MustCompile(`mi-[0-9a-f]{17}`).FindString(string(out)); instanceID == "" {
			t.Fatalf("no instance id in %q", out)
		}
		testenv.Start(t, s.ExtraEnv, s.Bins.Agent, "run", "--state-dir", state)
		s.WaitPing(instanceID, "Online")

		v = r.json(describeInstanceInformationShape, "ssm", "describe-instance-information", "--filters", "Key=ActivationIds,Values="+id)
		i := findItem(v, "InstanceInformationList", "InstanceId", instanceID)
		if i == nil || i["Name"] != name || i["IamRole"] != "SSMServiceRole" || i["ActivationId"] != id || i["PingStatus"] != "Online" {
			t.Errorf("registered instance: %v", v)
		}
		v = r.json(describeActivationsShape, "ssm", "describe-activations", "--filters", "FilterKey=ActivationIds,FilterValues="+id)
		if a := findItem(v, "ActivationList", "ActivationId", id); a == nil || a["RegistrationsCount"] != 1.0 {
			t.Errorf("activation after registering: %v", v)
		}
	})

	t.Run("tags", func(t *testing.T) {
		if instanceID == "" {
			t.Skip("no instance: create-activation failed")
		}
		tags := func() map[string]string {
			v := r.json(listTagsShape, "ssm", "list-tags-for-resource", "--resource-type", "ManagedInstance", "--resource-id", instanceID)
			m := map[string]string{}
			for _, x := range v["TagList"].([]any) {
				tag := x.(map[string]any)
				m[tag["Key"].(string)], _ = tag["Value"].(string)
			}
			return m
		}
		if got := tags(); len(got) != 1 || got["Environment"] != "Development" {
			t.Errorf("tags from the activation: %v", got)
		}
		for _, args := range [][]string{
			{"add-tags-to-resource", "--tags", "Key=Team,Value=Blue", "Key=Environment,Value=Production"},
			{"remove-tags-from-resource", "--tag-keys", "Team"},
		} {
			out, errb, code := r.run(append(append([]string{"ssm"}, args...), "--resource-type", "ManagedInstance", "--resource-id", instanceID)...)
			// Both operations answer {}, which the CLI prints as nothing.
			if code != 0 || strings.TrimSpace(out) != "" {
				t.Errorf("%s: exit %d, stdout %q, stderr %q", args[0], code, out, errb)
			}
			if args[0] == "add-tags-to-resource" {
				if got := tags(); len(got) != 2 || got["Environment"] != "Production" || got["Team"] != "Blue" {
					t.Errorf("after add-tags-to-resource: %v", got)
				}
			}
		}
		if got := tags(); len(got) != 1 || got["Environment"] != "Production" {
			t.Errorf("after remove-tags-from-resource: %v", got)
		}
	})
}

// findItem returns the element of v[listKey] whose idKey is id.
func findItem(v map[string]any, listKey, idKey, id string) map[string]any {
	l, _ := v[listKey].([]any)
	for _, x := range l {
		if m, ok := x.(map[string]any); ok && m[idKey] == id {
			return m
		}
	}
	return nil
}
