package policy

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate measures a user with 10 policies of 10 statements each,
// mixing wildcards, conditions and policy variables, none of which allows
// the request until the last statement of the last policy, so every
// statement is examined.
func BenchmarkEvaluate(b *testing.B) {
	var ps []NamedPolicy
	for p := range 10 {
		var stmts []string
		for s := range 10 {
			var st string
			switch s % 5 {
			case 0:
				st = fmt.Sprintf(`{"Effect":"Allow","Action":["ssm:Describe*","ec2:Describe*"],"Resource":"arn:aws:ssm:*:*:document/team%d-*"}`, p)
			case 1:
				st = fmt.Sprintf(`{"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ssm:*:*:managed-instance/*",
					"Condition":{"StringLike":{"ssm:resourceTag/Environment":["Staging%d","QA*"]}}}`, p)
			case 2:
				st = `{"Effect":"Deny","Action":"ssm:*","Resource":"*",
					"Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]},"BoolIfExists":{"aws:SecureTransport":"false"}}}`
			case 3:
				st = `{"Effect":"Allow","Action":["ssm:TerminateSession","ssm:ResumeSession"],"Resource":"arn:aws:ssm:*:*:session/${aws:username}-*"}`
			case 4:
				st = fmt.Sprintf(`{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:ssm:*:*:managed-instance/mi-%d*",
					"Condition":{"StringEquals":{"ssm:resourceTag/Owner":"${aws:PrincipalTag/team}"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}`, p)
			}
			if p == 9 && s == 9 {
				st = `{"Effect":"Allow","Action":"ssm:StartSession","Resource":"arn:aws:ssm:*:*:managed-instance/*",
					"Condition":{"StringLike":{"ssm:resourceTag/Environment":"Development"}}}`
			}
			stmts = append(stmts, st)
		}
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
		d, err := Parse([]byte(doc))
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, NamedPolicy{Name: fmt.Sprintf("user:alice/managed:P%d", p), Doc: d})
	}
	req := Request{
		Action:   "ssm:StartSession",
		Resource: "arn:aws:ssm:us-east-1:123456789012:managed-instance/mi-0123456789abcdef0",
		Context: map[string][]string{
			"aws:username":                {"alice"},
			"aws:PrincipalTag/team":       {"ops"},
			"aws:SourceIp":                {"192.0.2.10"},
			"aws:SecureTransport":         {"true"},
			"aws:CurrentTime":             {"2026-01-31T12:00:00Z"},
			"ssm:resourceTag/Environment": {"Development"},
			"ssm:resourceTag/Owner":       {"dev"},
		},
	}
	if got := Evaluate(ps, req); got.Decision != Allow || got.Policy != "user:alice/managed:P9" || got.Statement != 9 {
		b.Fatalf("benchmark request: got %+v, want Allow by P9 statement 9", got)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		Evaluate(ps, req)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "evals/s")
}
