package policy

import (
	"sync"
	"testing"
)

func TestActionAndResourceMatching(t *testing.T) {
	const inst = "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0"
	tests := []struct {
		name     string
		action   string // Action element, JSON
		resource string // Resource element, JSON
		req      Request
		want     bool
	}{
		{"exact", `"ssm:StartSession"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"action case in policy", `"SSM:startsession"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"action case in request", `"ssm:StartSession"`, `"*"`, Request{Action: "SSM:STARTSESSION", Resource: inst}, true},
		{"different action", `"ssm:StartSession"`, `"*"`, Request{Action: "ssm:TerminateSession", Resource: inst}, false},
		{"action prefix is not enough", `"ssm:Start"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, false},
		{"star", `"*"`, `"*"`, Request{Action: "ec2:DescribeInstances", Resource: "*"}, true},
		{"service star", `"ssm:*"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"service star other service", `"ssm:*"`, `"*"`, Request{Action: "ssmmessages:OpenDataChannel", Resource: inst}, false},
		{"star in the middle", `"iam:*AccessKey*"`, `"*"`, Request{Action: "iam:CreateAccessKey", Resource: "*"}, true},
		{"question mark", `"ssm:?tartSession"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"question mark is one char", `"ssm:?tartSession"`, `"*"`, Request{Action: "ssm:RestartSession", Resource: inst}, false},
		{"wildcard service", `"s*:Start*"`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"action list", `["ssm:DescribeSessions","ssm:StartSession"]`, `"*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},

		{"resource exact", `"ssm:*"`, `"` + inst + `"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"resource case-sensitive", `"ssm:*"`, `"arn:aws:ssm:us-east-1:123456789012:Managed-Instance/*"`, Request{Action: "ssm:StartSession", Resource: inst}, false},
		{"resource wildcards", `"ssm:*"`, `"arn:aws:ssm:*:*:managed-instance/*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"resource other type", `"ssm:*"`, `"arn:aws:ssm:*:*:document/*"`, Request{Action: "ssm:StartSession", Resource: inst}, false},
		{"resource region pattern", `"ssm:*"`, `"arn:aws:ssm:us-*:*:*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"resource region mismatch", `"ssm:*"`, `"arn:aws:ssm:eu-*:*:*"`, Request{Action: "ssm:StartSession", Resource: inst}, false},
		{"resource question mark", `"ssm:*"`, `"arn:aws:ssm:us-east-?:123456789012:managed-instance/mi-*"`, Request{Action: "ssm:StartSession", Resource: inst}, true},
		{"resource wildcard stays in its part", `"ssm:*"`, `"arn:aws:ssm:*:*:managed-instance/*"`, Request{Action: "ssm:StartSession", Resource: "arn:aws:ssm:us-east-1:extra:123456789012:managed-instance/mi-1"}, false},
		{"resource part keeps its colons", `"logs:*"`, `"arn:aws:logs:us-east-1:123456789012:log-group:app:*"`, Request{Action: "logs:PutLogEvents", Resource: "arn:aws:logs:us-east-1:123456789012:log-group:app:log-stream:x"}, true},
		{"ARN does not match the star resource", `"ssm:*"`, `"arn:aws:ssm:*:*:*"`, Request{Action: "ssm:DescribeSessions", Resource: "*"}, false},
		{"star matches the star resource", `"ssm:*"`, `"*"`, Request{Action: "ssm:DescribeSessions", Resource: "*"}, true},
		{"empty region and account", `"iam:*"`, `"arn:aws:iam::123456789012:user/*"`, Request{Action: "iam:GetUser", Resource: "arn:aws:iam::123456789012:user/alice"}, true},
		{"non-ASCII resource", `"s3:*"`, `"arn:aws:s3:::b/caf?"`, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/café"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":`+tt.action+`,"Resource":`+tt.resource+`}}`)
			got := Evaluate([]NamedPolicy{{Name: "p", Doc: d}}, tt.req).Decision == Allow
			if got != tt.want {
				t.Errorf("Action %s Resource %s, request %+v: allowed=%v, want %v", tt.action, tt.resource, tt.req, got, tt.want)
			}
		})
	}
}

func TestNotActionNotResource(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		req  Request
		want Decision
	}{
		// IAM page "IAM JSON policy elements: NotAction".
		{"NotAction allow/other service", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`,
			Request{Action: "ssm:StartSession", Resource: "*"}, Allow},
		{"NotAction allow/excluded service", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`,
			Request{Action: "iam:CreateUser", Resource: "*"}, ImplicitDeny},
		{"NotAction list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["iam:*","ssm:Delete*"],"Resource":"*"}}`,
			Request{Action: "ssm:DeleteDocument", Resource: "*"}, ImplicitDeny},
		{"NotAction with Resource scope", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"arn:aws:s3:::*"}}`,
			Request{Action: "s3:ListAllMyBuckets", Resource: "*"}, ImplicitDeny},
		{"NotAction with Resource scope/allowed", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:DeleteBucket","Resource":"arn:aws:s3:::*"}}`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allow},
		{"NotResource allow", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}}`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::public/a"}, Allow},
		{"NotResource allow/excluded", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}}`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::secret/a"}, ImplicitDeny},
		{"NotAction and NotResource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"s3:Delete*","NotResource":["arn:aws:s3:::secret","arn:aws:s3:::secret/*"]}}`,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::public/a"}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate([]NamedPolicy{{Name: "p", Doc: mustParse(t, tt.doc)}}, tt.req).Decision
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	allowSSM := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"Describe","Effect":"Allow","Action":"ssm:Describe*","Resource":"*"},
		{"Sid":"Sessions","Effect":"Allow","Action":"ssm:*Session","Resource":"*"}]}`)
	allowAll := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}}`)
	denyTerminate := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"Unrelated","Effect":"Deny","Action":"iam:*","Resource":"*"},
		{"Sid":"NoTerminate","Effect":"Deny","Action":"ssm:TerminateSession","Resource":"*"}]}`)
	denyProd := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"NoProd","Effect":"Deny","Action":"ssm:*","Resource":"*",
		"Condition":{"StringEquals":{"ssm:resourceTag/Environment":"Production"}}}}`)

	user := []NamedPolicy{
		{Name: "user:alice/inline:Sessions", Doc: allowSSM},
		{Name: "group:admins/managed:Admin", Doc: allowAll},
		{Name: "user:alice/managed:Guard", Doc: denyTerminate},
		{Name: "user:alice/managed:NoProd", Doc: denyProd},
		{Name: "detached", Doc: nil},
	}
	tests := []struct {
		name     string
		policies []NamedPolicy
		req      Request
		want     Result
	}{
		{"default deny", nil, Request{Action: "ssm:StartSession", Resource: "*"}, Result{}},
		{"default deny with policies", user[:1], Request{Action: "ec2:RunInstances", Resource: "*"}, Result{}},
		{"first allowing statement", user, Request{Action: "ssm:StartSession", Resource: "*"},
			Result{Decision: Allow, Policy: "user:alice/inline:Sessions", Sid: "Sessions", Statement: 1}},
		{"allow from a later policy", user, Request{Action: "ec2:RunInstances", Resource: "*"},
			Result{Decision: Allow, Policy: "group:admins/managed:Admin", Sid: "Admin", Statement: 0}},
		{"deny over allow in another policy", user, Request{Action: "ssm:TerminateSession", Resource: "*"},
			Result{Decision: ExplicitDeny, Policy: "user:alice/managed:Guard", Sid: "NoTerminate", Statement: 1}},
		{"deny over allow from a wildcard", user, Request{Action: "iam:CreateUser", Resource: "*"},
			Result{Decision: ExplicitDeny, Policy: "user:alice/managed:Guard", Sid: "Unrelated", Statement: 0}},
		{"conditional deny applies", user, Request{Action: "ssm:StartSession", Resource: "*", Context: ctx("ssm:resourceTag/Environment=Production")},
			Result{Decision: ExplicitDeny, Policy: "user:alice/managed:NoProd", Sid: "NoProd", Statement: 0}},
		{"conditional deny does not apply", user, Request{Action: "ssm:StartSession", Resource: "*", Context: ctx("ssm:resourceTag/Environment=Development")},
			Result{Decision: Allow, Policy: "user:alice/inline:Sessions", Sid: "Sessions", Statement: 1}},
		{"deny without any allow", user[2:], Request{Action: "ssm:TerminateSession", Resource: "*"},
			Result{Decision: ExplicitDeny, Policy: "user:alice/managed:Guard", Sid: "NoTerminate", Statement: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.policies, tt.req); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Examples from the IAM pages on policy evaluation.
func TestAWSDocumentedExamples(t *testing.T) {
	// "Policy evaluation logic", section "Example identity-based and
	// resource-based policy evaluation" (the identity-based half).
	carlos := mustParse(t, `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowS3ListRead",
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketLocation",
                "s3:GetAccountPublicAccessBlock",
                "s3:ListAccessPoints",
                "s3:ListAllMyBuckets"
            ],
            "Resource": "arn:aws:s3:::*"
        },
        {
            "Sid": "AllowS3Self",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": [
                "arn:aws:s3:::carlossalazar/*",
                "arn:aws:s3:::carlossalazar"
            ]
        },
        {
            "Sid": "DenyS3Logs",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::*log*"
        }
    ]
}`)
	// "The difference between explicit and implicit denies".
	getList := mustParse(t, `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowGetList",
            "Effect": "Allow",
            "Action": [
                "iam:Get*",
                "iam:List*"
            ],
            "Resource": "*"
        },
        {
            "Sid": "DenyReports",
            "Effect": "Deny",
            "Action": "iam:*Report",
            "Resource": "*"
        }
    ]
}`)
	allowReports := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GenerateCredentialReport","Resource":"*"}}`)
	// "IAM JSON policy elements: NotAction", DenyAllUsersNotUsingMFA, with an
	// allow-everything policy beside it.
	mfa := mustParse(t, `{
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "DenyAllUsersNotUsingMFA",
        "Effect": "Deny",
        "NotAction": "iam:*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    }]
}`)
	// "IAM JSON policy elements: NotResource", the HRPayroll group.
	payroll := mustParse(t, `{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Deny",
    "Action": "s3:*",
    "NotResource": [
      "arn:aws:s3:::HRBucket/Payroll",
      "arn:aws:s3:::HRBucket/Payroll/*"
    ]
  }
}`)
	// "IAM JSON policy elements: Condition operators", ...IfExists example.
	runInstance := mustParse(t, `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "RunInstance",
            "Effect": "Allow",
            "Action": "ec2:RunInstances",
            "Resource": "*",
            "Condition": {
                "StringLikeIfExists": {
                    "ec2:InstanceType": [
                        "t1.*",
                        "t2.*",
                        "m3.*"
             ]}}
        }]
}`)
	admin := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)

	tests := []struct {
		name     string
		policies []NamedPolicy
		req      Request
		want     Decision
	}{
		{"carlos/log bucket denied", []NamedPolicy{{"carlos", carlos}}, Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::carlossalazar-logs/file.txt"}, ExplicitDeny},
		{"carlos/own bucket allowed", []NamedPolicy{{"carlos", carlos}}, Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::carlossalazar/file.txt"}, Allow},
		{"carlos/list buckets", []NamedPolicy{{"carlos", carlos}}, Request{Action: "s3:GetBucketLocation", Resource: "arn:aws:s3:::other"}, Allow},
		{"carlos/other bucket", []NamedPolicy{{"carlos", carlos}}, Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::other/file.txt"}, ImplicitDeny},
		{"explicit vs implicit/Get allowed", []NamedPolicy{{"p", getList}}, Request{Action: "iam:GetUser", Resource: "*"}, Allow},
		{"explicit vs implicit/CreatePolicy implicit", []NamedPolicy{{"p", getList}}, Request{Action: "iam:CreatePolicy", Resource: "*"}, ImplicitDeny},
		{"explicit vs implicit/report explicit", []NamedPolicy{{"p", getList}}, Request{Action: "iam:GetOrganizationsAccessReport", Resource: "*"}, ExplicitDeny},
		{"explicit vs implicit/report allowed elsewhere", []NamedPolicy{{"p", getList}, {"q", allowReports}}, Request{Action: "iam:GenerateCredentialReport", Resource: "*"}, ExplicitDeny},
		{"MFA/no key", []NamedPolicy{{"admin", admin}, {"mfa", mfa}}, Request{Action: "ssm:StartSession", Resource: "*"}, ExplicitDeny},
		{"MFA/false", []NamedPolicy{{"admin", admin}, {"mfa", mfa}}, Request{Action: "ssm:StartSession", Resource: "*", Context: ctx("aws:MultiFactorAuthPresent=false")}, ExplicitDeny},
		{"MFA/true", []NamedPolicy{{"admin", admin}, {"mfa", mfa}}, Request{Action: "ssm:StartSession", Resource: "*", Context: ctx("aws:MultiFactorAuthPresent=true")}, Allow},
		{"MFA/IAM action not denied", []NamedPolicy{{"admin", admin}, {"mfa", mfa}}, Request{Action: "iam:ListUsers", Resource: "*"}, Allow},
		{"payroll/folder", []NamedPolicy{{"admin", admin}, {"hr", payroll}}, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::HRBucket/Payroll/2026.csv"}, Allow},
		{"payroll/elsewhere", []NamedPolicy{{"admin", admin}, {"hr", payroll}}, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::HRBucket/Other/x"}, ExplicitDeny},
		{"payroll/other service", []NamedPolicy{{"admin", admin}, {"hr", payroll}}, Request{Action: "ssm:StartSession", Resource: "arn:aws:s3:::HRBucket/Other/x"}, Allow},
		{"RunInstance/instance t2", []NamedPolicy{{"p", runInstance}}, Request{Action: "ec2:RunInstances", Resource: "arn:aws:ec2:us-east-1:1:instance/*", Context: ctx("ec2:InstanceType=t2.micro")}, Allow},
		{"RunInstance/instance m5", []NamedPolicy{{"p", runInstance}}, Request{Action: "ec2:RunInstances", Resource: "arn:aws:ec2:us-east-1:1:instance/*", Context: ctx("ec2:InstanceType=m5.large")}, ImplicitDeny},
		{"RunInstance/image has no type", []NamedPolicy{{"p", runInstance}}, Request{Action: "ec2:RunInstances", Resource: "arn:aws:ec2:us-east-1::image/ami-1"}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Evaluate(tt.policies, tt.req).Decision; got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// seedPolicy is the policy of the Session Manager article Tether started
// from, with the instance resource rewritten for managed instances.
const seedPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ssm:StartSession"],"Resource":["arn:aws:ssm:*:*:managed-instance/*"],"Condition":{"StringLike":{"ssm:resourceTag/Environment":["Development"]}}},
 {"Effect":"Allow","Action":["ssm:DescribeSessions","ssm:GetConnectionStatus","ssm:DescribeInstanceInformation","ssm:DescribeInstanceProperties","ec2:DescribeInstances"],"Resource":"*"},
 {"Effect":"Allow","Action":["ssm:CreateDocument","ssm:UpdateDocument","ssm:GetDocument","ssm:StartSession"],"Resource":"arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell","Condition":{"BoolIfExists":{"ssm:SessionDocumentAccessCheck":"true"}}},
 {"Effect":"Allow","Action":["ssm:TerminateSession","ssm:ResumeSession"],"Resource":["arn:aws:ssm:*:*:session/${aws:username}-*"]}]}`

func TestSeedPolicy(t *testing.T) {
	d := mustParse(t, seedPolicy)
	ps := []NamedPolicy{{Name: "user:alice/inline:SessionManager", Doc: d}}
	const (
		inst    = "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0"
		shell   = "arn:aws:ssm:us-east-1:123456789012:document/SSM-SessionManagerRunShell"
		session = "arn:aws:ssm:us-east-1:123456789012:session/alice-0123456789abcdef0"
	)
	tests := []struct {
		name          string
		req           Request
		want          Decision
		wantStatement int
	}{
		{"StartSession on a Development instance", Request{Action: "ssm:StartSession", Resource: inst,
			Context: ctx("aws:username=alice", "ssm:resourceTag/Environment=Development")}, Allow, 0},
		{"StartSession on a Production instance", Request{Action: "ssm:StartSession", Resource: inst,
			Context: ctx("aws:username=alice", "ssm:resourceTag/Environment=Production")}, ImplicitDeny, 0},
		{"StartSession on an untagged instance", Request{Action: "ssm:StartSession", Resource: inst,
			Context: ctx("aws:username=alice")}, ImplicitDeny, 0},
		{"StartSession tag value case matters", Request{Action: "ssm:StartSession", Resource: inst,
			Context: ctx("ssm:resourceTag/Environment=development")}, ImplicitDeny, 0},
		{"StartSession tag key case does not", Request{Action: "ssm:StartSession", Resource: inst,
			Context: ctx("ssm:ResourceTag/environment=Development")}, Allow, 0},
		{"StartSession on an EC2 instance", Request{Action: "ssm:StartSession", Resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
			Context: ctx("ssm:resourceTag/Environment=Development")}, ImplicitDeny, 0},
		{"TerminateSession own session", Request{Action: "ssm:TerminateSession", Resource: session,
			Context: ctx("aws:username=alice")}, Allow, 3},
		{"ResumeSession own session", Request{Action: "ssm:ResumeSession", Resource: session,
			Context: ctx("aws:username=alice")}, Allow, 3},
		{"TerminateSession someone else's session", Request{Action: "ssm:TerminateSession", Resource: session,
			Context: ctx("aws:username=bob")}, ImplicitDeny, 0},
		{"TerminateSession without a username", Request{Action: "ssm:TerminateSession", Resource: session}, ImplicitDeny, 0},
		{"TerminateSession prefix only", Request{Action: "ssm:TerminateSession", Resource: "arn:aws:ssm:us-east-1:123456789012:session/alicex-0123456789abcdef0",
			Context: ctx("aws:username=alice")}, ImplicitDeny, 0},
		{"DescribeSessions", Request{Action: "ssm:DescribeSessions", Resource: "*", Context: ctx("aws:username=alice")}, Allow, 1},
		{"ec2:DescribeInstances", Request{Action: "ec2:DescribeInstances", Resource: "*"}, Allow, 1},
		{"StartSession with the default document, no check", Request{Action: "ssm:StartSession", Resource: shell}, Allow, 2},
		{"StartSession with the default document, check on", Request{Action: "ssm:StartSession", Resource: shell,
			Context: ctx("ssm:SessionDocumentAccessCheck=true")}, Allow, 2},
		{"StartSession with the default document, check false", Request{Action: "ssm:StartSession", Resource: shell,
			Context: ctx("ssm:SessionDocumentAccessCheck=false")}, ImplicitDeny, 0},
		{"StartSession with another document", Request{Action: "ssm:StartSession", Resource: "arn:aws:ssm:us-east-1:123456789012:document/AWS-StartPortForwardingSession"}, ImplicitDeny, 0},
		{"GetDocument", Request{Action: "ssm:GetDocument", Resource: shell}, Allow, 2},
		{"DeleteDocument", Request{Action: "ssm:DeleteDocument", Resource: shell}, ImplicitDeny, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(ps, tt.req)
			if got.Decision != tt.want || got.Statement != tt.wantStatement {
				t.Errorf("got %+v, want %v by statement %d", got, tt.want, tt.wantStatement)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{ImplicitDeny: "implicitDeny", Allow: "allowed", ExplicitDeny: "explicitDeny", 7: "Decision(7)"} {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestEvaluateConcurrently(t *testing.T) {
	d := mustParse(t, seedPolicy)
	ps := []NamedPolicy{{Name: "seed", Doc: d}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			user := "alice"
			if i%2 == 1 {
				user = "bob"
			}
			for range 200 {
				got := Evaluate(ps, Request{Action: "ssm:TerminateSession",
					Resource: "arn:aws:ssm:us-east-1:123456789012:session/alice-0123456789abcdef0",
					Context:  ctx("aws:username=" + user)}).Decision
				if want := map[string]Decision{"alice": Allow, "bob": ImplicitDeny}[user]; got != want {
					t.Errorf("%s: got %v, want %v", user, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
