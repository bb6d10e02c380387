package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/sigv4"
	"github.com/tetherhq/tether/internal/testenv"
)

// auditEvent is Tether.ListAuditEvents' event shape, as the CLI prints it.
type auditEvent struct {
	EventID    string            `json:"EventId"`
	EventTime  float64           `json:"EventTime"`
	Kind       string            `json:"Kind"`
	Principal  string            `json:"Principal"`
	UserName   string            `json:"UserName"`
	Action     string            `json:"Action"`
	Target     string            `json:"Target"`
	SourceIP   string            `json:"SourceIp"`
	Outcome    string            `json:"Outcome"`
	ErrorCode  string            `json:"ErrorCode"`
	Reason     string            `json:"Reason"`
	RequestID  string            `json:"RequestId"`
	Parameters json.RawMessage   `json:"Parameters"`
	Details    map[string]string `json:"Details"`
}

type auditList struct {
	Events    []auditEvent `json:"Events"`
	NextToken string       `json:"NextToken"`
}

// auditFind polls `tether audit list ... --output json` (events are written
// to the store in the background) until match accepts an event.
func auditFind(t *testing.T, s *testenv.Server, what string, match func(auditEvent) bool, args ...string) auditEvent {
	t.Helper()
	var found auditEvent
	var last auditList
	testenv.Eventually(t, 30*time.Second, func() error {
		r := s.CLI("", append([]string{"audit", "list", "--output", "json", "--max", "500"}, args...)...)
		if r.Code != 0 {
			return testenv.Permanent(fmt.Errorf("audit list %v: %d %s", args, r.Code, r.Stderr))
		}
		last = auditList{}
		if err := json.Unmarshal([]byte(r.Stdout), &last); err != nil {
			return testenv.Permanent(fmt.Errorf("audit list: %v in %q", err, r.Stdout))
		}
		for _, e := range last.Events {
			if match(e) {
				found = e
				return nil
			}
		}
		b, _ := json.MarshalIndent(last.Events, "", " ")
		return fmt.Errorf("%s among %s", what, b)
	})
	return found
}

func TestAuditTrail(t *testing.T) {
	s := testenv.StartDev(t)
	var me api.CallerIdentity
	s.JSON(&me, "whoami")
	acct := me.Account

	// carol may describe instances and nothing else.
	pol := filepath.Join(t.TempDir(), "carol.json")
	os.WriteFile(pol, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:DescribeInstanceInformation","Resource":"*"}]}`), 0o600)
	for _, args := range [][]string{
		{"iam", "create-user", "--user-name", "carol"},
		{"iam", "put-user-policy", "--user-name", "carol", "--policy-name", "Describe", "--policy-document", "file://" + pol},
	} {
		if r := s.CLI("", args...); r.Code != 0 {
			t.Fatalf("%v: %s", args, r.Stderr)
		}
	}
	var key accessKey
	s.JSON(&key, "iam", "create-access-key", "--user-name", "carol")
	secret := key.AccessKey.SecretAccessKey
	if len(secret) < 20 {
		t.Fatalf("no secret in create-access-key's answer: %+v", key)
	}
	carol := testenv.As(key.AccessKey.AccessKeyID, secret)
	carolARN := "arn:aws:iam::" + acct + ":user/carol"

	if r := s.CLIEnv(carol, "", "describe-instance-information"); r.Code != 0 {
		t.Fatalf("carol's allowed call: %d %s", r.Code, r.Stderr)
	}
	if r := s.CLIEnv(carol, "", "describe-sessions", "--state", "History"); r.Code != 254 || !strings.Contains(r.Stderr, "AccessDeniedException") {
		t.Fatalf("carol's denied call: %d %s", r.Code, r.Stderr)
	}

	t.Run("an allowed call and a denied call by a limited user", func(t *testing.T) {
		allowed := auditFind(t, s, "carol's DescribeInstanceInformation", func(e auditEvent) bool {
			return e.Action == "AmazonSSM.DescribeInstanceInformation"
		}, "--principal", "carol", "--kind", "api")
		if allowed.Outcome != "allowed" || allowed.ErrorCode != "" || allowed.SourceIP != "127.0.0.1" ||
			allowed.Principal != carolARN || allowed.UserName != "carol" || allowed.RequestID == "" || allowed.EventTime == 0 {
			t.Errorf("allowed call: %+v", allowed)
		}
		denied := auditFind(t, s, "carol's DescribeSessions", func(e auditEvent) bool {
			return e.Action == "AmazonSSM.DescribeSessions"
		}, "--principal", carolARN, "--outcome", "denied")
		if denied.Kind != "api" || denied.ErrorCode != "AccessDeniedException" || denied.SourceIP != "127.0.0.1" ||
			!strings.Contains(denied.Reason, "ssm:DescribeSessions") || !strings.Contains(compact(denied.Parameters), `"State":"History"`) {
			t.Errorf("denied call: %+v", denied)
		}
		// The policy decision behind it is its own event.
		auditFind(t, s, "carol's authz denial", func(e auditEvent) bool {
			return e.Kind == "authz" && e.Action == "ssm:DescribeSessions" && e.Outcome == "denied"
		}, "--principal", "carol", "--action", "ssm:DescribeSessions")
		// The short action name matches the operation in any service.
		auditFind(t, s, "DescribeSessions by its short name", func(e auditEvent) bool {
			return e.Action == "AmazonSSM.DescribeSessions" && e.Principal == carolARN
		}, "--action", "DescribeSessions", "--since", "1h")
	})

	t.Run("the admin's CreateAccessKey is recorded without its secret", func(t *testing.T) {
		e := auditFind(t, s, "CreateAccessKey for carol", func(e auditEvent) bool {
			return e.Action == "Tether.CreateAccessKey" && e.Target == "carol"
		}, "--principal", "admin")
		if e.Outcome != "allowed" || compact(e.Parameters) != `{"UserName":"carol"}` {
			t.Errorf("event %+v", e)
		}
	})

	t.Run("a session's state changes are events with the session id as target", func(t *testing.T) {
		r := s.CLI("echo audited\nexit 3\n", "start-session", "--target", s.InstanceID)
		if r.Code != 3 {
			t.Fatalf("session: %d %s", r.Code, r.Stderr)
		}
		start := auditFind(t, s, "the StartSession call", func(e auditEvent) bool {
			return e.Details["sessionId"] != ""
		}, "--action", "StartSession", "--target", s.InstanceID, "--outcome", "allowed")
		sid := start.Details["sessionId"]
		if !strings.HasPrefix(sid, "admin-") || strings.Contains(compact(start.Parameters), "TokenValue") {
			t.Fatalf("StartSession event %+v", start)
		}
		connected := auditFind(t, s, "Connected", func(e auditEvent) bool { return e.Action == "Connected" },
			"--target", sid, "--kind", "session")
		ended := auditFind(t, s, "Terminated", func(e auditEvent) bool { return e.Action == "Terminated" },
			"--target", sid, "--kind", "session")
		if connected.Details["target"] != s.InstanceID || connected.UserName != "admin" {
			t.Errorf("Connected: %+v", connected)
		}
		if ended.Details["exitCode"] != "3" || ended.Reason != "exited with status 3" || ended.Details["durationMs"] == "" ||
			ended.Outcome != "allowed" || ended.EventTime < connected.EventTime {
			t.Errorf("Terminated: %+v", ended)
		}
	})

	t.Run("TerminateSession says who ended the session", func(t *testing.T) {
		cmd := exec.Command(s.Bins.CLI, "start-session", "--target", s.InstanceID)
		cmd.Env = append(cmd.Environ(), s.Env()...)
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		var sid string
		testenv.Eventually(t, 30*time.Second, func() error {
			var out api.DescribeSessionsOutput
			s.JSON(&out, "describe-sessions", "--state", "Active")
			for _, ss := range out.Sessions {
				if ss.Status == "Connected" {
					sid = ss.SessionID
					return nil
				}
			}
			return fmt.Errorf("no connected session in %+v", out.Sessions)
		})
		if r := s.CLI("", "terminate-session", "--session-id", sid); r.Code != 0 {
			t.Fatalf("terminate-session: %d %s", r.Code, r.Stderr)
		}
		e := auditFind(t, s, "Terminated by admin", func(e auditEvent) bool { return e.Action == "Terminated" },
			"--target", sid, "--kind", "session")
		if e.Details["terminatedBy"] != "arn:aws:iam::"+acct+":user/admin" || !strings.Contains(e.Reason, "terminated by") {
			t.Errorf("event %+v", e)
		}
		auditFind(t, s, "the TerminateSession call", func(e auditEvent) bool { return e.Action == "AmazonSSM.TerminateSession" },
			"--target", sid, "--kind", "api")
	})

	t.Run("the table names user, action, target, outcome and source", func(t *testing.T) {
		r := s.CLI("", "audit", "list", "--principal", "carol", "--outcome", "denied", "--kind", "api")
		if r.Code != 0 || !strings.Contains(r.Stdout, "SOURCE IP") ||
			!regexpMatch(`(?m)^\S+ \S+\s+carol\s+AmazonSSM\.DescribeSessions\s+-\s+denied \(AccessDeniedException\)\s+127\.0\.0\.1\s*$`, r.Stdout) {
			t.Fatalf("table: %d %q %s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("export writes valid JSON lines, each event once, and no secret", func(t *testing.T) {
		var list auditList
		s.JSON(&list, "audit", "list", "--max", "5000")
		r := s.CLI("", "audit", "export")
		if r.Code != 0 {
			t.Fatalf("export: %d %s", r.Code, r.Stderr)
		}
		n := 0
		sc := bufio.NewScanner(strings.NewReader(r.Stdout))
		sc.Buffer(nil, 1<<20)
		seen := map[string]bool{}
		for sc.Scan() {
			var e auditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.EventID == "" || e.Action == "" {
				t.Fatalf("line %d %q: %v", n+1, sc.Text(), err)
			}
			if seen[e.EventID] {
				t.Fatalf("event %s exported twice", e.EventID)
			}
			seen[e.EventID] = true
			n++
		}
		if n < len(list.Events) || n < 10 {
			t.Fatalf("exported %d events, listed %d", n, len(list.Events))
		}
		if strings.Contains(r.Stdout, secret) {
			t.Fatal("the access key's secret is in the export")
		}
		b, err := os.ReadFile(filepath.Join(s.DataDir, "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Fatal("the access key's secret is in audit.jsonl")
		}
		if !strings.Contains(string(b), `"action":"Tether.CreateAccessKey"`) {
			t.Fatal("audit.jsonl lacks the CreateAccessKey call")
		}
	})

	t.Run("a limited user cannot read the trail", func(t *testing.T) {
		r := s.CLIEnv(carol, "", "audit", "list")
		if r.Code != 254 || !strings.Contains(r.Stderr, "tether:ListAuditEvents") {
			t.Fatalf("carol's audit list: %d %s", r.Code, r.Stderr)
		}
	})

	t.Run("hostile ListAuditEvents input is a ValidationException, never a 500", func(t *testing.T) {
		p := s.Profile()
		admin := &sigv4.Credentials{AccessKeyID: p.AccessKeyID, SecretAccessKey: p.SecretAccessKey}
		for _, body := range []string{
			`{"StartTime":"not a date"}`, `{"EndTime":-5}`, `{"StartTime":1e308}`,
			`{"StartTime":"2026-02-01T00:00:00Z","EndTime":"2026-01-01T00:00:00Z"}`,
			`{"MaxResults":1000000}`, `{"MaxResults":1e40}`, `{"MaxResults":-3}`,
			`{"NextToken":"%%%"}`, `{"NextToken":"eyJ0IjoxfQ"}`, `{"NextToken":"` + strings.Repeat("A", 4000) + `"}`,
			`{"Outcome":"sometimes"}`, `{"Kind":"x"}`,
		} {
			status, typ, out := rawCall(t, s, "Tether.ListAuditEvents", []byte(body), admin, "us-east-1")
			if status != 400 || typ != "ValidationException" {
				t.Errorf("%.60s: %d %s", body, status, out)
			}
		}
		if status, _, out := rawCall(t, s, "Tether.ListAuditEvents", []byte(`{"MaxResults":1000,"Principal":"x' OR 1=1 --"}`), admin, "us-east-1"); status != 200 {
			t.Errorf("odd but valid filter: %d %s", status, out)
		}
		assertHealthy(t, s)
	})

	t.Run("the CLI refuses bad times before calling", func(t *testing.T) {
		r := s.CLI("", "audit", "list", "--since", "last tuesday")
		if r.Code != 252 || !strings.Contains(r.Stderr, "--since") {
			t.Fatalf("%d %s", r.Code, r.Stderr)
		}
	})
}

func regexpMatch(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	json.Compact(&b, raw)
	return b.String()
}
