package policy

import "testing"

// IAM page "IAM policy elements: Variables and tags".
func TestPolicyVariablesInResource(t *testing.T) {
	const user = "arn:aws:iam::123456789012:user/"
	tests := []struct {
		name     string
		version  string
		resource string
		request  string
		ctx      map[string][]string
		want     bool
	}{
		{"aws:username", Version2012, user + "${aws:username}", user + "alice", ctx("aws:username=alice"), true},
		{"aws:username/other user", Version2012, user + "${aws:username}", user + "bob", ctx("aws:username=alice"), false},
		{"aws:username/key case", Version2012, user + "${AWS:UserName}", user + "alice", ctx("aws:username=alice"), true},
		{"aws:userid", Version2012, "arn:aws:s3:::bucket/${aws:userid}/*", "arn:aws:s3:::bucket/AIDAEXAMPLE/report.csv", ctx("aws:userid=AIDAEXAMPLE"), true},
		{"aws:PrincipalTag", Version2012, "arn:aws:s3:::bucket/${aws:PrincipalTag/department}", "arn:aws:s3:::bucket/hr", ctx("aws:PrincipalTag/department=hr"), true},
		{"aws:PrincipalTag/tag key case", Version2012, "arn:aws:s3:::bucket/${aws:PrincipalTag/Department}", "arn:aws:s3:::bucket/hr", ctx("aws:principaltag/department=hr"), true},
		{"aws:SourceIp", Version2012, "arn:aws:ssm:*:*:document/from-${aws:SourceIp}", "arn:aws:ssm:us-east-1:1:document/from-192.0.2.1", ctx("aws:SourceIp=192.0.2.1"), true},
		{"aws:CurrentTime", Version2012, "arn:aws:s3:::logs/${aws:CurrentTime}", "arn:aws:s3:::logs/2026-01-31T12:00:00Z", ctx("aws:CurrentTime=2026-01-31T12:00:00Z"), true},
		{"other context key", Version2012, "arn:aws:ssm:*:*:managed-instance/${ssm:resourceTag/Owner}-*", "arn:aws:ssm:us-east-1:1:managed-instance/ops-1", ctx("ssm:resourceTag/Owner=ops"), true},
		{"value is literal, not a wildcard", Version2012, "arn:aws:s3:::bucket/${aws:PrincipalTag/team}", "arn:aws:s3:::bucket/ops", ctx("aws:PrincipalTag/team=*"), false},
		{"value with wildcard matches itself", Version2012, "arn:aws:s3:::bucket/${aws:PrincipalTag/team}", "arn:aws:s3:::bucket/*", ctx("aws:PrincipalTag/team=*"), true},
		{"variable value with colon", Version2012, "arn:aws:s3:::bucket/${aws:PrincipalTag/team}", "arn:aws:s3:::bucket/a:b", ctx("aws:PrincipalTag/team=a:b"), true},

		{"${*} is a literal star", Version2012, "arn:aws:s3:::bucket/${*}", "arn:aws:s3:::bucket/*", nil, true},
		{"${*} is not a wildcard", Version2012, "arn:aws:s3:::bucket/${*}", "arn:aws:s3:::bucket/x", nil, false},
		{"${?} is a literal question mark", Version2012, "arn:aws:s3:::bucket/what${?}", "arn:aws:s3:::bucket/what?", nil, true},
		{"${?} is not a wildcard", Version2012, "arn:aws:s3:::bucket/what${?}", "arn:aws:s3:::bucket/whatx", nil, false},
		{"${$} is a literal dollar", Version2012, "arn:aws:s3:::bucket/${$}{aws:username}", "arn:aws:s3:::bucket/${aws:username}", ctx("aws:username=alice"), true},
		{"${$} does not start a variable", Version2012, "arn:aws:s3:::bucket/${$}{aws:username}", "arn:aws:s3:::bucket/alice", ctx("aws:username=alice"), false},
		{"escape next to a wildcard", Version2012, "arn:aws:s3:::bucket/${*}*", "arn:aws:s3:::bucket/*anything", nil, true},

		{"default unused", Version2012, "arn:aws:s3:::bucket/${aws:userid, 'anonymous'}", "arn:aws:s3:::bucket/AIDA1", ctx("aws:userid=AIDA1"), true},
		{"default used", Version2012, "arn:aws:s3:::bucket/${aws:userid, 'anonymous'}", "arn:aws:s3:::bucket/anonymous", nil, true},
		{"default with doubled quote", Version2012, "arn:aws:s3:::bucket/${aws:userid, 'it''s'}", "arn:aws:s3:::bucket/it's", nil, true},
		{"default is literal", Version2012, "arn:aws:s3:::bucket/${aws:userid, '*'}", "arn:aws:s3:::bucket/alice", nil, false},
		{"default for multivalued key", Version2012, "arn:aws:s3:::bucket/${aws:TagKeys, 'none'}", "arn:aws:s3:::bucket/none", ctx("aws:TagKeys=a", "aws:TagKeys=b"), true},

		{"unresolvable/no match", Version2012, user + "${aws:username}", user + "alice", nil, false},
		{"unresolvable/does not match literally", Version2012, user + "${aws:username}", user + "${aws:username}", nil, false},
		{"unresolvable/multivalued key", Version2012, "arn:aws:s3:::bucket/${aws:TagKeys}", "arn:aws:s3:::bucket/a", ctx("aws:TagKeys=a", "aws:TagKeys=b"), false},
		{"unresolvable/empty values", Version2012, user + "${aws:username}", user, map[string][]string{"aws:username": {}}, false},

		// Version 2008-10-17 (or no Version) keeps variables as text.
		{"2008/not expanded", Version2008, user + "${aws:username}", user + "alice", ctx("aws:username=alice"), false},
		{"2008/literal text", Version2008, user + "${aws:username}", user + "${aws:username}", ctx("aws:username=alice"), true},
		{"no Version/not expanded", "", user + "${aws:username}", user + "alice", ctx("aws:username=alice"), false},
		{"no Version/literal text", "", user + "${aws:username}", user + "${aws:username}", nil, true},
		{"2008/${*} keeps its wildcard", Version2008, "arn:aws:s3:::bucket/${*}", "arn:aws:s3:::bucket/${anything}", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ""
			if tt.version != "" {
				v = `"Version":"` + tt.version + `",`
			}
			d := mustParse(t, `{`+v+`"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"`+tt.resource+`"}}`)
			got := Evaluate([]NamedPolicy{{Name: "p", Doc: d}}, Request{Action: "s3:GetObject", Resource: tt.request, Context: tt.ctx}).Decision == Allow
			if got != tt.want {
				t.Errorf("Resource %q, request %q, context %v: allowed=%v, want %v", tt.resource, tt.request, tt.ctx, got, tt.want)
			}
		})
	}
}

func TestPolicyVariablesInConditions(t *testing.T) {
	tests := []struct {
		name    string
		version string
		cond    string
		ctx     map[string][]string
		want    bool
	}{
		// The "home directory" example of the Condition operators page.
		{"StringLike home", Version2012, `{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}`, ctx("aws:username=alice", "s3:prefix=home/alice/"), true},
		{"StringLike home/other user", Version2012, `{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/"]}}`, ctx("aws:username=alice", "s3:prefix=home/bob/"), false},
		{"StringLike with wildcard after variable", Version2012, `{"StringLike":{"s3:prefix":"${aws:username}/*"}}`, ctx("aws:username=alice", "s3:prefix=alice/docs"), true},
		{"StringEquals", Version2012, `{"StringEquals":{"ssm:resourceTag/Owner":"${aws:username}"}}`, ctx("aws:username=alice", "ssm:resourceTag/Owner=alice"), true},
		{"StringEquals/different", Version2012, `{"StringEquals":{"ssm:resourceTag/Owner":"${aws:username}"}}`, ctx("aws:username=alice", "ssm:resourceTag/Owner=bob"), false},
		{"StringEqualsIgnoreCase", Version2012, `{"StringEqualsIgnoreCase":{"ssm:resourceTag/Owner":"${aws:username}"}}`, ctx("aws:username=alice", "ssm:resourceTag/Owner=ALICE"), true},
		{"StringNotEquals", Version2012, `{"StringNotEquals":{"ssm:resourceTag/Owner":"${aws:username}"}}`, ctx("aws:username=alice", "ssm:resourceTag/Owner=bob"), true},
		{"PrincipalTag matches ResourceTag", Version2012, `{"StringEquals":{"ssm:resourceTag/team":"${aws:PrincipalTag/team}"}}`, ctx("aws:PrincipalTag/team=ops", "ssm:resourceTag/team=ops"), true},
		{"SourceIp", Version2012, `{"StringEquals":{"custom:ip":"${aws:SourceIp}"}}`, ctx("aws:SourceIp=192.0.2.1", "custom:ip=192.0.2.1"), true},
		{"CurrentTime", Version2012, `{"StringEquals":{"custom:t":"${aws:CurrentTime}"}}`, ctx("aws:CurrentTime=2026-01-31T12:00:00Z", "custom:t=2026-01-31T12:00:00Z"), true},
		{"userid", Version2012, `{"StringEquals":{"custom:id":"${aws:userid}"}}`, ctx("aws:userid=AIDA1", "custom:id=AIDA1"), true},
		{"ArnLike", Version2012, `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:username}"}}`, ctx("aws:username=alice", "aws:PrincipalArn=arn:aws:iam::123456789012:user/alice"), true},
		{"ArnLike/whole ARN from a variable", Version2012, `{"ArnEquals":{"custom:arn":"${aws:PrincipalArn}"}}`, ctx("aws:PrincipalArn=arn:aws:iam::1:user/a", "custom:arn=arn:aws:iam::1:user/a"), true},
		{"${*} in StringLike is literal", Version2012, `{"StringLike":{"custom:k":"a${*}"}}`, ctx("custom:k=a*"), true},
		{"${*} in StringLike is not a wildcard", Version2012, `{"StringLike":{"custom:k":"a${*}"}}`, ctx("custom:k=abc"), false},
		{"${?} in StringLike", Version2012, `{"StringLike":{"custom:k":"a${?}"}}`, ctx("custom:k=ab"), false},
		{"${$} in StringEquals", Version2012, `{"StringEquals":{"custom:k":"${$}5"}}`, ctx("custom:k=$5"), true},
		{"default", Version2012, `{"StringEquals":{"custom:k":"${aws:PrincipalTag/team, 'company-wide'}"}}`, ctx("custom:k=company-wide"), true},
		{"unresolvable value matches nothing", Version2012, `{"StringEquals":{"custom:k":"${aws:username}"}}`, ctx("custom:k="), false},
		{"unresolvable value, other value matches", Version2012, `{"StringEquals":{"custom:k":["${aws:username}","x"]}}`, ctx("custom:k=x"), true},
		{"unresolvable value fails a negated operator", Version2012, `{"StringNotEquals":{"custom:k":"${aws:username}"}}`, ctx("custom:k=x"), false},
		{"unresolvable value fails ForAllValues negated", Version2012, `{"ForAllValues:StringNotLike":{"custom:k":"${aws:username}"}}`, ctx("custom:k=x"), false},
		{"2008/not expanded", Version2008, `{"StringEquals":{"custom:k":"${aws:username}"}}`, ctx("aws:username=alice", "custom:k=alice"), false},
		{"2008/literal", Version2008, `{"StringEquals":{"custom:k":"${aws:username}"}}`, ctx("aws:username=alice", "custom:k=${aws:username}"), true},
		{"2008/malformed is fine", Version2008, `{"StringEquals":{"custom:k":"${aws:username"}}`, ctx("custom:k=${aws:username"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, conditionDoc(tt.version, tt.cond))
			got := Evaluate([]NamedPolicy{{Name: "p", Doc: d}}, Request{Action: "ssm:StartSession", Resource: "*", Context: tt.ctx}).Decision == Allow
			if got != tt.want {
				t.Errorf("condition %s, context %v: allowed=%v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}
}

func TestUnresolvableVariableStatements(t *testing.T) {
	// Several resources are ORed: one that cannot resolve drops out.
	d := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
		"Resource":["arn:aws:s3:::home/${aws:username}/*","arn:aws:s3:::public/*"]}}`)
	ps := []NamedPolicy{{Name: "p", Doc: d}}
	if got := Evaluate(ps, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::public/a"}).Decision; got != Allow {
		t.Errorf("public object without username: got %v, want %v", got, Allow)
	}
	if got := Evaluate(ps, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/a"}).Decision; got != ImplicitDeny {
		t.Errorf("home object without username: got %v, want %v", got, ImplicitDeny)
	}

	// A NotResource that cannot resolve does not apply: it cannot say what
	// it leaves out.
	deny := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Sid":"OnlyHome","Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}]}`)
	ps = []NamedPolicy{{Name: "p", Doc: deny}}
	if got := Evaluate(ps, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::other/a", Context: ctx("aws:username=alice")}).Decision; got != ExplicitDeny {
		t.Errorf("other bucket as alice: got %v, want %v", got, ExplicitDeny)
	}
	if got := Evaluate(ps, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/a", Context: ctx("aws:username=alice")}).Decision; got != Allow {
		t.Errorf("own home as alice: got %v, want %v", got, Allow)
	}
	if got := Evaluate(ps, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::other/a"}).Decision; got != Allow {
		t.Errorf("no username: got %v, want the Deny not to apply", got)
	}
}
