package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/profile"
	"github.com/tetherhq/tether/internal/sigv4"
)

func TestParseParameters(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string][]string
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "one pair", in: "commands=ls", want: map[string][]string{"commands": {"ls"}}},
		{name: "two pairs", in: "a=1,b=2", want: map[string][]string{"a": {"1"}, "b": {"2"}}},
		{name: "repeated key appends", in: "a=1,a=2", want: map[string][]string{"a": {"1", "2"}}},
		{name: "value keeps later equals", in: "cmd=x=y", want: map[string][]string{"cmd": {"x=y"}}},
		{name: "empty value", in: "a=", want: map[string][]string{"a": {""}}},
		{name: "json string", in: `{"portNumber":"22"}`, want: map[string][]string{"portNumber": {"22"}}},
		{name: "json list and string", in: `{"commands":["ls","pwd"],"dir":"/tmp"}`,
			want: map[string][]string{"commands": {"ls", "pwd"}, "dir": {"/tmp"}}},
		{name: "json with leading space", in: ` {"a":["1"]}`, want: map[string][]string{"a": {"1"}}},
		{name: "no equals", in: "a", wantErr: `"a" is not key=value`},
		{name: "empty key", in: "=1", wantErr: `"=1" is not key=value`},
		{name: "trailing comma", in: "a=1,", wantErr: `"" is not key=value`},
		{name: "bad json", in: `{"a":`, wantErr: "bad JSON"},
		{name: "json number", in: `{"a":1}`, wantErr: "a must be a string or a list of strings"},
		{name: "json null", in: `{"a":null}`, wantErr: "a must be a string or a list of strings"},
		{name: "json list of numbers", in: `{"a":[1]}`, wantErr: "a must be strings"},
		{name: "json not an object", in: `{"a"}`, wantErr: "bad JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParameters(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "--parameters: ") {
					t.Fatalf("parseParameters(%q) error = %v; want one naming --parameters and containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseParameters(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseParameters(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseTags(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []api.Tag
		wantErr bool
	}{
		{name: "empty", in: "", want: nil},
		{name: "one short", in: "Env=dev", want: []api.Tag{{Key: "Env", Value: "dev"}}},
		{name: "two short", in: "Env=dev,Team=ops", want: []api.Tag{{Key: "Env", Value: "dev"}, {Key: "Team", Value: "ops"}}},
		{name: "aws form", in: "Key=Env,Value=dev", want: []api.Tag{{Key: "Env", Value: "dev"}}},
		{name: "aws form twice", in: "Key=Env,Value=dev,Key=Team,Value=ops",
			want: []api.Tag{{Key: "Env", Value: "dev"}, {Key: "Team", Value: "ops"}}},
		{name: "aws form empty value", in: "Key=Env,Value=", want: []api.Tag{{Key: "Env", Value: ""}}},
		{name: "mixed", in: "Key=Env,Value=dev,Team=ops", want: []api.Tag{{Key: "Env", Value: "dev"}, {Key: "Team", Value: "ops"}}},
		{name: "short empty value", in: "Env=", want: []api.Tag{{Key: "Env", Value: ""}}},
		{name: "no equals", in: "Env", wantErr: true},
		{name: "second without equals", in: "Env=dev,oops", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTags(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTags(%q) error = %v; want error %v", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseTags(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestKebab(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"StartSession", "start-session"},
		{"GetConnectionStatus", "get-connection-status"},
		{"DescribeInstanceInformation", "describe-instance-information"},
		{"AddTagsToResource", "add-tags-to-resource"},
		{"whoami", "whoami"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := kebab(tt.in); got != tt.want {
				t.Errorf("kebab(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Every SSM operation the CLI offers is reachable under the name the AWS
// CLI gives it, which is kebab(operation).
func TestCommandsUseAWSNames(t *testing.T) {
	names := map[string]bool{}
	for _, c := range commands() {
		names[c.name] = true
	}
	for _, op := range []string{
		"StartSession", "TerminateSession", "ResumeSession", "DescribeSessions", "GetConnectionStatus",
		"DescribeInstanceInformation", "CreateActivation", "DescribeActivations", "DeleteActivation",
		"DeregisterManagedInstance", "AddTagsToResource", "RemoveTagsFromResource", "ListTagsForResource",
	} {
		if !names[kebab(op)] {
			t.Errorf("no command %q for operation %s", kebab(op), op)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		emptyOut   bool
		emptyError bool
	}{
		{name: "no args", args: nil, code: 0, stdout: "usage: tether <command>", emptyError: true},
		{name: "help", args: []string{"help"}, code: 0, stdout: "start-session", emptyError: true},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: "describe-instance-information", emptyError: true},
		{name: "version", args: []string{"version"}, code: 0, stdout: "tether " + ClientVersion + "\n", emptyError: true},
		{name: "--version", args: []string{"--version"}, code: 0, stdout: "tether " + ClientVersion + "\n", emptyError: true},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderr: `unknown command "frobnicate"`, emptyOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(t.Context(), tt.args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
			if code != tt.code {
				t.Errorf("exit code %d; want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.stderr)
			}
			if tt.emptyOut && out.Len() > 0 {
				t.Errorf("stdout %q; want nothing", out.String())
			}
			if tt.emptyError && errb.Len() > 0 {
				t.Errorf("stderr %q; want nothing", errb.String())
			}
		})
	}
}

func TestReport(t *testing.T) {
	apiErr := &api.Error{Status: 400, Code: "TargetNotConnected", Message: "mi-0123456789abcdef0 is not connected."}
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"api error", apiErr, 254,
			"\nAn error occurred (TargetNotConnected) when calling the StartSession operation: mi-0123456789abcdef0 is not connected.\n"},
		{"wrapped api error", fmt.Errorf("call: %w", apiErr), 254,
			"\nAn error occurred (TargetNotConnected) when calling the StartSession operation: mi-0123456789abcdef0 is not connected.\n"},
		{"other error", errors.New("could not reach http://127.0.0.1:1"), 255, "tether: could not reach http://127.0.0.1:1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := report(Env{Stdout: &out, Stderr: &errb}, "StartSession", tt.err)
			if code != tt.code || errb.String() != tt.stderr || out.Len() != 0 {
				t.Errorf("report = %d, stderr %q, stdout %q; want %d, %q, nothing", code, errb.String(), out.String(), tt.code, tt.stderr)
			}
		})
	}
}

const (
	testAccessKey = "AKIATESTTESTTEST0001"
	testSecret    = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
)

// signedServer answers every request with status, headers and body, after
// checking that the request is an awsJson1_1 call signed with testSecret.
// It records the targets it saw.
func signedServer(t *testing.T, status int, header http.Header, body string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var targets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		mu.Lock()
		targets = append(targets, r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/":
			t.Errorf("request %s %s; want POST /", r.Method, r.URL.Path)
		case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
			t.Errorf("Content-Type %q; want application/x-amz-json-1.1", r.Header.Get("Content-Type"))
		case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/"):
			t.Errorf("Authorization %q; want a SigV4 signature by %s", r.Header.Get("Authorization"), testAccessKey)
		default:
			a, err := sigv4.Parse(r)
			if err == nil {
				err = sigv4.Verify(r, b, a, testSecret, sigv4.VerifyOptions{Region: "us-east-1", Services: []string{"ssm"}})
			}
			if err != nil {
				t.Errorf("signature does not verify: %v", err)
			}
		}
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), targets...)
	}
}

func TestClientCall(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		want    *api.Error // nil: success or a non-API error
		wantErr string     // substring of a non-API error
		wantOut api.GetConnectionStatusOutput
	}{
		{name: "success", status: 200, body: `{"Target":"mi-0123456789abcdef0","Status":"connected"}`,
			wantOut: api.GetConnectionStatusOutput{Target: "mi-0123456789abcdef0", Status: "connected"}},
		{name: "namespaced error type", status: 400, body: `{"__type":"com.amazonaws.ssm#TargetNotConnected","message":"x"}`,
			want: &api.Error{Status: 400, Code: "TargetNotConnected", Message: "x"}},
		{name: "plain error type", status: 403, body: `{"__type":"AccessDeniedException","message":"no"}`,
			want: &api.Error{Status: 403, Code: "AccessDeniedException", Message: "no"}},
		{name: "error type only in header", status: 400, header: http.Header{"X-Amzn-Errortype": {"ThrottlingException"}}, body: `{}`,
			want: &api.Error{Status: 400, Code: "ThrottlingException"}},
		{name: "no error type", status: 502, body: "bad gateway", wantErr: "502 Bad Gateway"},
		{name: "success with bad JSON", status: 200, body: "<html>", wantErr: "unexpected answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, targets := signedServer(t, tt.status, tt.header, tt.body)
			c := &Client{Profile: profile.Profile{Endpoint: srv.URL + "/", Region: "us-east-1", AccessKeyID: testAccessKey, SecretAccessKey: testSecret}}
			var out api.GetConnectionStatusOutput
			err := c.Call(t.Context(), "AmazonSSM.GetConnectionStatus", api.GetConnectionStatusInput{Target: "mi-0123456789abcdef0"}, &out)
			if got := targets(); len(got) != 1 || got[0] != "AmazonSSM.GetConnectionStatus" {
				t.Errorf("server saw targets %q; want one AmazonSSM.GetConnectionStatus", got)
			}
			switch {
			case tt.want != nil:
				var ae *api.Error
				if !errors.As(err, &ae) || *ae != *tt.want {
					t.Fatalf("Call error = %#v; want %#v", err, tt.want)
				}
			case tt.wantErr != "":
				var ae *api.Error
				if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Call error = %v; want a non-API error containing %q", err, tt.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if out != tt.wantOut {
					t.Errorf("Call decoded %+v; want %+v", out, tt.wantOut)
				}
			}
		})
	}
}

func TestClientCallUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := &Client{Profile: profile.Profile{Endpoint: url, Region: "us-east-1", AccessKeyID: testAccessKey, SecretAccessKey: testSecret}}
	err := c.Call(t.Context(), "AmazonSSM.DescribeSessions", struct{}{}, nil)
	if err == nil || !strings.Contains(err.Error(), "could not reach "+url) || !strings.Contains(err.Error(), "is tetherd running?") {
		t.Fatalf("Call to a closed server: %v; want a hint that tetherd is not running", err)
	}
}

// cliEnv points the profile at an empty directory and clears the variables
// that would otherwise leak in from the developer's shell.
func cliEnv(t *testing.T) {
	t.Setenv("TETHER_CONFIG_DIR", t.TempDir())
	for _, k := range []string{"TETHER_ENDPOINT", "TETHER_PROFILE", "TETHER_REGION", "TETHER_ACCESS_KEY_ID", "TETHER_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
	}
}

func TestMainReportsAPIError(t *testing.T) {
	cliEnv(t)
	t.Setenv("TETHER_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("TETHER_SECRET_ACCESS_KEY", testSecret)
	srv, targets := signedServer(t, 400, nil, `{"__type":"com.amazonaws.ssm#TargetNotConnected","message":"x"}`)
	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"get-connection-status", "--target", "mi-0123456789abcdef0", "--endpoint-url", srv.URL},
		Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	want := "\nAn error occurred (TargetNotConnected) when calling the GetConnectionStatus operation: x\n"
	if code != 254 || errb.String() != want || out.Len() != 0 {
		t.Errorf("exit %d, stderr %q, stdout %q; want 254, %q, nothing", code, errb.String(), out.String(), want)
	}
	if got := targets(); len(got) != 1 || got[0] != "AmazonSSM.GetConnectionStatus" {
		t.Errorf("server saw targets %q; want one AmazonSSM.GetConnectionStatus", got)
	}
}

func TestMainWithoutProfile(t *testing.T) {
	cliEnv(t)
	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"describe-sessions"}, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
	if code != exitUsage || !strings.Contains(errb.String(), "no endpoint") || !strings.Contains(errb.String(), "--endpoint-url") {
		t.Errorf("exit %d, stderr %q; want %d and a hint to pass --endpoint-url", code, errb.String(), exitUsage)
	}
}
