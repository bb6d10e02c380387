package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/testenv"
)

// seedPolicy is the policy from the seed article, with its instance
// resource rewritten to managed instances (and its example account id
// replaced by this server's, as a reader of the article would).
const seedPolicy = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["ssm:StartSession"],
            "Resource": ["arn:aws:ssm:*:*:managed-instance/*"],
            "Condition": {"StringLike": {"ssm:resourceTag/Environment": ["Development"]}}
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:DescribeSessions", "ssm:GetConnectionStatus", "ssm:DescribeInstanceInformation", "ssm:DescribeInstanceProperties", "ec2:DescribeInstances"],
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:CreateDocument", "ssm:UpdateDocument", "ssm:GetDocument", "ssm:StartSession"],
            "Resource": "arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell",
            "Condition": {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
            "Resource": ["arn:aws:ssm:*:*:session/${aws:username}-*"]
        }
    ]
}`

type accessKey struct {
	AccessKey struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
	}
}

func TestSeedPolicy(t *testing.T) {
	s := testenv.StartDev(t)
	prod := s.StartAgent("prod-db", "Environment=Production")
	if r := s.CLI("", "add-tags-to-resource", "--resource-id", s.InstanceID, "--tags", "Environment=Development"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	var me api.CallerIdentity
	s.JSON(&me, "whoami")
	acct := me.Account

	doc := filepath.Join(t.TempDir(), "seed.json")
	os.WriteFile(doc, []byte(strings.ReplaceAll(seedPolicy, "123456789012", acct)), 0o600)
	if r := s.CLI("", "iam", "create-user", "--user-name", "alice"); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	if r := s.CLI("", "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "SessionManagerDev", "--policy-document", "file://"+doc); r.Code != 0 {
		t.Fatal(r.Stderr)
	}
	var key accessKey
	s.JSON(&key, "iam", "create-access-key", "--user-name", "alice")
	alice := testenv.As(key.AccessKey.AccessKeyID, key.AccessKey.SecretAccessKey)

	t.Run("a session to a Development instance opens", func(t *testing.T) {
		r := s.CLIEnv(alice, "echo dev-ok\n", "start-session", "--target", s.InstanceID)
		if r.Code != 0 || r.Stdout != "dev-ok\n" {
			t.Fatalf("code %d stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("a session to a Production instance is denied with AWS's message", func(t *testing.T) {
		r := s.CLIEnv(alice, "", "start-session", "--target", prod.InstanceID)
		want := "An error occurred (AccessDeniedException) when calling the StartSession operation: User: arn:aws:iam::" + acct +
			":user/alice is not authorized to perform: ssm:StartSession on resource: arn:aws:ssm:us-east-1:" + acct +
			":managed-instance/" + prod.InstanceID + " because no identity-based policy allows the ssm:StartSession action"
		if r.Code != 254 || !strings.Contains(r.Stderr, want) {
			t.Fatalf("code %d stderr %q\nwant %q", r.Code, r.Stderr, want)
		}
	})
	t.Run("describe calls work", func(t *testing.T) {
		for _, args := range [][]string{
			{"describe-instance-information"}, {"describe-sessions", "--state", "History"},
			{"get-connection-status", "--target", prod.InstanceID},
		} {
			if r := s.CLIEnv(alice, "", args...); r.Code != 0 {
				t.Errorf("%v: %d %s", args, r.Code, r.Stderr)
			}
		}
		// ...but nothing the policy does not grant.
		if r := s.CLIEnv(alice, "", "create-activation"); r.Code != 254 || !strings.Contains(r.Stderr, "AccessDeniedException") {
			t.Errorf("create-activation: %d %s", r.Code, r.Stderr)
		}
		if r := s.CLIEnv(alice, "", "iam", "list-users"); r.Code != 254 || !strings.Contains(r.Stderr, "AccessDeniedException") {
			t.Errorf("iam list-users: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("the user terminates their own session and not another's", func(t *testing.T) {
		cmd := exec.Command(s.Bins.CLI, "start-session", "--target", s.InstanceID)
		cmd.Env = append(append(cmd.Environ(), s.Env()...), alice...)
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); cmd.Wait() }()
		var own string
		testenv.Eventually(t, 30*time.Second, func() error {
			var out api.DescribeSessionsOutput
			s.JSON(&out, "describe-sessions", "--state", "Active", "--filters", "key=Owner,value=arn:aws:iam::"+acct+":user/alice")
			if len(out.Sessions) == 1 && out.Sessions[0].Status == "Connected" {
				own = out.Sessions[0].SessionID
				return nil
			}
			return &waitErr{"alice's session", ""}
		})
		if !strings.HasPrefix(own, "alice-") {
			t.Fatalf("session id %q", own)
		}
		if r := s.CLIEnv(alice, "", "terminate-session", "--session-id", own); r.Code != 0 {
			t.Fatalf("own session: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("another user's session cannot be terminated", func(t *testing.T) {
		// An admin session, started through the SDK so it stays Connecting.
		res, err := sdkClient(s).StartSession(t.Context(), &ssm.StartSessionInput{Target: aws.String(s.InstanceID)})
		if err != nil {
			t.Fatal(err)
		}
		out := *res.SessionId
		r := s.CLIEnv(alice, "", "terminate-session", "--session-id", out)
		if r.Code != 254 || !strings.Contains(r.Stderr, "is not authorized to perform: ssm:TerminateSession on resource: arn:aws:ssm:us-east-1:"+acct+":session/"+out) {
			t.Fatalf("terminate admin's session: %d %s", r.Code, r.Stderr)
		}
	})
	t.Run("simulate explains decisions", func(t *testing.T) {
		arn := "arn:aws:ssm:us-east-1:" + acct + ":managed-instance/" + prod.InstanceID
		r := s.CLI("", "iam", "simulate", "--user", "alice", "--action", "ssm:StartSession", "--resource", arn, "--context", "ssm:resourceTag/Environment=Development")
		if r.Code != 0 || !strings.Contains(r.Stdout, "allowed") || !strings.Contains(r.Stdout, "statement 1 of user/alice/inline:SessionManagerDev") {
			t.Fatalf("simulate Development: %d %q %s", r.Code, r.Stdout, r.Stderr)
		}
		r = s.CLI("", "iam", "simulate", "--user", "alice", "--action", "ssm:StartSession", "--resource", arn, "--context", "ssm:resourceTag/Environment=Production")
		if r.Code != 1 || !strings.Contains(r.Stdout, "denied") || !strings.Contains(r.Stdout, "implicit deny") {
			t.Fatalf("simulate Production: %d %q %s", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("denials are audit events", func(t *testing.T) {
		f, err := os.Open(filepath.Join(s.DataDir, "audit.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		evs, err := audit.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range evs {
			if e.Outcome == "denied" && e.Action == "ssm:StartSession" && strings.HasSuffix(e.Principal, ":user/alice") &&
				strings.HasSuffix(e.Resource, prod.InstanceID) && e.SourceIP == "127.0.0.1" && !e.Time.IsZero() {
				found = true
			}
		}
		if !found {
			b, _ := json.MarshalIndent(evs, "", " ")
			t.Fatalf("no denial event for alice's StartSession in:\n%s", b)
		}
	})
	t.Run("deleting the user revokes its keys at once", func(t *testing.T) {
		if r := s.CLIEnv(alice, "", "whoami"); r.Code != 0 {
			t.Fatalf("whoami before: %s", r.Stderr)
		}
		if r := s.CLI("", "iam", "delete-user", "--user-name", "alice"); r.Code != 0 {
			t.Fatal(r.Stderr)
		}
		if r := s.CLIEnv(alice, "", "whoami"); r.Code != 254 || !strings.Contains(r.Stderr, "UnrecognizedClientException") {
			t.Fatalf("whoami after delete: %d %s", r.Code, r.Stderr)
		}
	})
}

func TestGroupsManagedPoliciesAndKeys(t *testing.T) {
	s := testenv.StartDev(t)
	run := func(args ...string) testenv.Result {
		t.Helper()
		r := s.CLI("", args...)
		if r.Code != 0 {
			t.Fatalf("tether %v: %d %s", args, r.Code, r.Stderr)
		}
		return r
	}
	run("iam", "create-user", "--user-name", "bob", "--tags", "Team=ops")
	run("iam", "create-group", "--group-name", "ops")
	run("iam", "add-user-to-group", "--group-name", "ops", "--user-name", "bob")
	var pol struct {
		Policy struct{ Arn, DefaultVersionId string }
	}
	s.JSON(&pol, "iam", "create-policy", "--policy-name", "ReadOnly", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:Describe*","ssm:GetConnectionStatus"],"Resource":"*"}]}`)
	if pol.Policy.DefaultVersionId != "v1" || !strings.HasSuffix(pol.Policy.Arn, ":policy/ReadOnly") {
		t.Fatalf("policy %+v", pol)
	}
	run("iam", "attach-group-policy", "--group-name", "ops", "--policy-arn", pol.Policy.Arn)
	var key accessKey
	s.JSON(&key, "iam", "create-access-key", "--user-name", "bob")
	bob := testenv.As(key.AccessKey.AccessKeyID, key.AccessKey.SecretAccessKey)

	if r := s.CLIEnv(bob, "", "describe-sessions"); r.Code != 0 {
		t.Fatalf("bob describe-sessions through his group's managed policy: %s", r.Stderr)
	}
	if r := s.CLIEnv(bob, "", "start-session", "--target", s.InstanceID); r.Code != 254 || !strings.Contains(r.Stderr, "AccessDeniedException") {
		t.Fatalf("bob start-session under v1: %d %s", r.Code, r.Stderr)
	}
	// A new default version widens the policy for every member at once.
	run("iam", "create-policy-version", "--policy-arn", pol.Policy.Arn, "--set-as-default", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ssm:*"],"Resource":"*"}]}`)
	if r := s.CLIEnv(bob, "echo v2\n", "start-session", "--target", s.InstanceID); r.Code != 0 || r.Stdout != "v2\n" {
		t.Fatalf("bob start-session under v2: %d %q %s", r.Code, r.Stdout, r.Stderr)
	}
	// An explicit deny on the user beats the group's allow.
	run("iam", "put-user-policy", "--user-name", "bob", "--policy-name", "NoShells", "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Sid":"NoShells","Effect":"Deny","Action":"ssm:StartSession","Resource":"*"}]}`)
	if r := s.CLIEnv(bob, "", "start-session", "--target", s.InstanceID); r.Code != 254 || !strings.Contains(r.Stderr, "with an explicit deny") {
		t.Fatalf("explicit deny: %d %s", r.Code, r.Stderr)
	}
	// A managed policy in use cannot be deleted.
	if r := s.CLI("", "iam", "delete-policy", "--policy-arn", pol.Policy.Arn); r.Code != 254 || !strings.Contains(r.Stderr, "DeleteConflict") {
		t.Fatalf("delete attached policy: %d %s", r.Code, r.Stderr)
	}
	// Bad documents are refused with the position of the mistake.
	r := s.CLI("", "iam", "put-user-policy", "--user-name", "bob", "--policy-name", "Bad", "--policy-document",
		"{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ssm:*\",\"Resource\":\"*\",\"Condition\":{\"StringEqualz\":{\"a\":\"b\"}}}]}")
	if r.Code != 254 || !strings.Contains(r.Stderr, "MalformedPolicyDocument") || !regexp.MustCompile(`line 2, column \d+`).MatchString(r.Stderr) {
		t.Fatalf("malformed policy: %d %s", r.Code, r.Stderr)
	}
	// At most two keys; a deactivated key stops working.
	s.JSON(&key, "iam", "create-access-key", "--user-name", "bob")
	if r := s.CLI("", "iam", "create-access-key", "--user-name", "bob"); r.Code != 254 || !strings.Contains(r.Stderr, "LimitExceeded") {
		t.Fatalf("third key: %d %s", r.Code, r.Stderr)
	}
	run("iam", "update-access-key", "--user-name", "bob", "--access-key-id", strings.TrimPrefix(bob[0], "TETHER_ACCESS_KEY_ID="), "--status", "Inactive")
	if r := s.CLIEnv(bob, "", "whoami"); r.Code != 254 || !strings.Contains(r.Stderr, "UnrecognizedClientException") {
		t.Fatalf("inactive key: %d %s", r.Code, r.Stderr)
	}
	var keys struct {
		AccessKeyMetadata []struct{ AccessKeyId, Status string }
	}
	s.JSON(&keys, "iam", "list-access-keys", "--user-name", "bob")
	if len(keys.AccessKeyMetadata) != 2 {
		t.Fatalf("keys %+v", keys)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
