package policy

import "testing"

// Operator behaviour follows the IAM page "IAM JSON policy elements:
// Condition operators".
func TestConditionOperators(t *testing.T) {
	const date = `"2026-01-31T12:00:00Z"`
	const epoch = "1769860800" // 2026-01-31T12:00:00Z
	tests := []struct {
		name string
		cond string
		ctx  map[string][]string
		want bool
	}{
		{"StringEquals/match", `{"StringEquals":{"aws:username":"alice"}}`, ctx("aws:username=alice"), true},
		{"StringEquals/case differs", `{"StringEquals":{"aws:username":"alice"}}`, ctx("aws:username=Alice"), false},
		{"StringEquals/no wildcards", `{"StringEquals":{"aws:username":"al*"}}`, ctx("aws:username=alice"), false},
		{"StringEquals/star is literal", `{"StringEquals":{"aws:username":"al*"}}`, ctx("aws:username=al*"), true},
		{"StringEquals/missing key", `{"StringEquals":{"aws:username":"alice"}}`, nil, false},
		{"StringNotEquals/equal", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx("aws:username=alice"), false},
		{"StringNotEquals/different", `{"StringNotEquals":{"aws:username":"alice"}}`, ctx("aws:username=bob"), true},
		{"StringNotEquals/missing key is true", `{"StringNotEquals":{"aws:username":"alice"}}`, nil, true},
		{"StringEqualsIgnoreCase/match", `{"StringEqualsIgnoreCase":{"aws:username":"alice"}}`, ctx("aws:username=ALICE"), true},
		{"StringEqualsIgnoreCase/no match", `{"StringEqualsIgnoreCase":{"aws:username":"alice"}}`, ctx("aws:username=bob"), false},
		{"StringNotEqualsIgnoreCase/equal", `{"StringNotEqualsIgnoreCase":{"aws:username":"alice"}}`, ctx("aws:username=ALICE"), false},
		{"StringNotEqualsIgnoreCase/different", `{"StringNotEqualsIgnoreCase":{"aws:username":"alice"}}`, ctx("aws:username=bob"), true},
		{"StringLike/star", `{"StringLike":{"ssm:resourceTag/Env":"dev-*"}}`, ctx("ssm:resourceTag/Env=dev-1"), true},
		{"StringLike/star no match", `{"StringLike":{"ssm:resourceTag/Env":"dev-*"}}`, ctx("ssm:resourceTag/Env=prod"), false},
		{"StringLike/question", `{"StringLike":{"ssm:resourceTag/Env":"a?c"}}`, ctx("ssm:resourceTag/Env=abc"), true},
		{"StringLike/question is one char", `{"StringLike":{"ssm:resourceTag/Env":"a?c"}}`, ctx("ssm:resourceTag/Env=abbc"), false},
		{"StringLike/case-sensitive", `{"StringLike":{"ssm:resourceTag/Env":"Dev*"}}`, ctx("ssm:resourceTag/Env=dev"), false},
		{"StringLike/empty value", `{"StringLike":{"s3:prefix":["","home/"]}}`, ctx("s3:prefix="), true},
		{"StringNotLike/no match", `{"StringNotLike":{"ssm:resourceTag/Env":"dev-*"}}`, ctx("ssm:resourceTag/Env=prod"), true},
		{"StringNotLike/match", `{"StringNotLike":{"ssm:resourceTag/Env":"dev-*"}}`, ctx("ssm:resourceTag/Env=dev-1"), false},
		{"StringNotLike/missing key is true", `{"StringNotLike":{"ssm:resourceTag/Env":"dev-*"}}`, nil, true},

		{"NumericEquals/match", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=10"), true},
		{"NumericEquals/decimal", `{"NumericEquals":{"s3:max-keys":10}}`, ctx("s3:max-keys=10.0"), true},
		{"NumericEquals/no match", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=11"), false},
		{"NumericEquals/not a number", `{"NumericEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=ten"), false},
		{"NumericEquals/missing key", `{"NumericEquals":{"s3:max-keys":"10"}}`, nil, false},
		{"NumericNotEquals/different", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=11"), true},
		{"NumericNotEquals/equal", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=10"), false},
		{"NumericNotEquals/not a number", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=ten"), false},
		{"NumericNotEquals/missing key is true", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, nil, true},
		{"NumericLessThan/less", `{"NumericLessThan":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=9.5"), true},
		{"NumericLessThan/equal", `{"NumericLessThan":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=10"), false},
		{"NumericLessThanEquals/equal", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=10"), true},
		{"NumericLessThanEquals/greater", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=11"), false},
		{"NumericGreaterThan/greater", `{"NumericGreaterThan":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=11"), true},
		{"NumericGreaterThan/equal", `{"NumericGreaterThan":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=10"), false},
		{"NumericGreaterThanEquals/equal", `{"NumericGreaterThanEquals":{"s3:max-keys":"-1.5"}}`, ctx("s3:max-keys=-1.5"), true},
		{"NumericGreaterThanEquals/less", `{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=9"), false},
		{"Numeric/large integers stay exact", `{"NumericEquals":{"s3:max-keys":"9007199254740993"}}`, ctx("s3:max-keys=9007199254740992"), false},

		{"DateEquals/ISO", `{"DateEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T12:00:00Z"), true},
		{"DateEquals/other zone", `{"DateEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T13:00:00+01:00"), true},
		{"DateEquals/epoch request", `{"DateEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:EpochTime=0", "aws:CurrentTime="+epoch), true},
		{"DateEquals/epoch policy", `{"DateEquals":{"aws:EpochTime":` + epoch + `}}`, ctx("aws:EpochTime=2026-01-31T12:00:00Z"), true},
		{"DateEquals/no match", `{"DateEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T12:00:01Z"), false},
		{"DateEquals/not a date", `{"DateEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=yesterday"), false},
		{"DateNotEquals/different", `{"DateNotEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-02-01"), true},
		{"DateNotEquals/equal", `{"DateNotEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T12:00:00.000Z"), false},
		{"DateLessThan/before", `{"DateLessThan":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T11:59:59Z"), true},
		{"DateLessThan/equal", `{"DateLessThan":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T12:00:00Z"), false},
		{"DateLessThanEquals/equal", `{"DateLessThanEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-01-31T12:00:00Z"), true},
		{"DateLessThanEquals/after", `{"DateLessThanEquals":{"aws:CurrentTime":` + date + `}}`, ctx("aws:CurrentTime=2026-02-01T00:00:00Z"), false},
		{"DateGreaterThan/after", `{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, ctx("aws:TokenIssueTime=2020-06-01T00:00:00Z"), true},
		{"DateGreaterThan/before", `{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, ctx("aws:TokenIssueTime=2019-12-31T23:59:59Z"), false},
		{"DateGreaterThan/missing key", `{"DateGreaterThan":{"aws:TokenIssueTime":"2020-01-01T00:00:01Z"}}`, nil, false},
		{"DateGreaterThanEquals/equal epoch", `{"DateGreaterThanEquals":{"aws:EpochTime":` + epoch + `}}`, ctx("aws:EpochTime=" + epoch), true},
		{"DateGreaterThanEquals/before", `{"DateGreaterThanEquals":{"aws:EpochTime":` + epoch + `}}`, ctx("aws:EpochTime=1769860799"), false},
		{"Date/day only", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-31"}}`, ctx("aws:CurrentTime=2026-01-31T00:00:00Z"), true},

		{"Bool/true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport=true"), true},
		{"Bool/JSON boolean", `{"Bool":{"aws:SecureTransport":true}}`, ctx("aws:SecureTransport=TRUE"), true},
		{"Bool/false", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport=false"), false},
		{"Bool/not a boolean", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport=yes"), false},
		{"Bool/missing key", `{"Bool":{"aws:SecureTransport":"false"}}`, nil, false},

		{"BinaryEquals/match", `{"BinaryEquals":{"custom:blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, ctx("custom:blob=BinaryValueInBase64"), true},
		{"BinaryEquals/no match", `{"BinaryEquals":{"custom:blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, ctx("custom:blob=BinaryValue"), false},

		{"IpAddress/IPv4 in range", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=203.0.113.7"), true},
		{"IpAddress/IPv4 out of range", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=198.51.100.1"), false},
		{"IpAddress/IPv4-mapped request", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=::ffff:203.0.113.7"), true},
		{"IpAddress/IPv6 in range", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, ctx("aws:SourceIp=2001:db8:1234:5678::1"), true},
		{"IpAddress/IPv6 out of range", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}`, ctx("aws:SourceIp=2001:db8::1"), false},
		{"IpAddress/bare address is /32", `{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}`, ctx("aws:SourceIp=203.0.113.6"), false},
		{"IpAddress/bare address matches itself", `{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}`, ctx("aws:SourceIp=203.0.113.5"), true},
		{"IpAddress/not an address", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, ctx("aws:SourceIp=localhost"), false},
		{"IpAddress/missing key", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, nil, false},
		{"NotIpAddress/outside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=198.51.100.1"), true},
		{"NotIpAddress/inside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=203.0.113.9"), false},
		{"NotIpAddress/missing key is true", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},

		{"ArnEquals/match", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:topic"), true},
		{"ArnEquals/wildcards like ArnLike", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:topic"), true},
		{"ArnEquals/no match", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:other"), false},
		{"ArnLike/match", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/*"}}`, ctx("aws:PrincipalArn=arn:aws:iam::123456789012:user/alice"), true},
		{"ArnLike/case-sensitive", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/*"}}`, ctx("aws:PrincipalArn=arn:aws:iam::123456789012:User/alice"), false},
		{"ArnLike/not an ARN", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, ctx("aws:PrincipalArn=alice"), false},
		// The example on the Condition operators page: StringLike's first
		// '*' swallows colons, ArnLike's stays inside one ARN part.
		{"ArnLike/wildcard stays in its part", `{"ArnLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}`,
			ctx("aws:SourceArn=arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), false},
		{"StringLike/wildcard spans colons", `{"StringLike":{"aws:SourceArn":"arn:aws:someservice:*:111122223333:finance/*"}}`,
			ctx("aws:SourceArn=arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"), true},
		{"ArnNotEquals/different", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:other"), true},
		{"ArnNotEquals/equal", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:sns:*:*:topic"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:topic"), false},
		{"ArnNotLike/different", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:t*"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:other"), true},
		{"ArnNotLike/like", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:t*"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:123456789012:topic"), false},
		{"ArnNotLike/missing key is true", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:t*"}}`, nil, true},

		{"Null true/absent", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"Null true/present", `{"Null":{"aws:TokenIssueTime":"true"}}`, ctx("aws:TokenIssueTime=2020-01-01T00:00:00Z"), false},
		{"Null false/present", `{"Null":{"aws:TokenIssueTime":false}}`, ctx("aws:TokenIssueTime=2020-01-01T00:00:00Z"), true},
		{"Null false/absent", `{"Null":{"aws:TokenIssueTime":false}}`, nil, false},
		{"Null/key with no values is absent", `{"Null":{"aws:TagKeys":"true"}}`, map[string][]string{"aws:TagKeys": {}}, true},

		// Condition key names ignore case (IAM page "IAM JSON policy
		// elements: Condition"), tag keys included.
		{"keys/name case", `{"StringEquals":{"AWS:UserName":"alice"}}`, ctx("aws:username=alice"), true},
		{"keys/context case", `{"StringEquals":{"aws:username":"alice"}}`, ctx("Aws:UserName=alice"), true},
		{"keys/tag key case", `{"StringEquals":{"ssm:resourceTag/Environment":"Development"}}`, ctx("ssm:ResourceTag/environment=Development"), true},
		{"keys/tag value case matters", `{"StringEquals":{"ssm:resourceTag/Environment":"Development"}}`, ctx("ssm:resourceTag/Environment=development"), false},
		{"keys/principal tag", `{"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}}`, ctx("aws:principaltag/Job-Category=iamuser-admin"), true},
		{"keys/resource tag", `{"StringEquals":{"aws:ResourceTag/Team":"ops"}}`, ctx("aws:resourcetag/team=ops"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conditionHolds(t, tt.cond, tt.ctx); got != tt.want {
				t.Errorf("condition %s with context %v: got %v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}
}

// IAM page "IAM JSON policy elements: Condition operators", section
// "...IfExists condition operators": a missing key makes the condition true;
// a present key is checked as usual.
func TestIfExists(t *testing.T) {
	tests := []struct {
		name string
		cond string
		ctx  map[string][]string
		want bool
	}{
		{"StringEqualsIfExists/absent", `{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}`, nil, true},
		{"StringEqualsIfExists/present match", `{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}`, ctx("ec2:InstanceType=t2.micro"), true},
		{"StringEqualsIfExists/present mismatch", `{"StringEqualsIfExists":{"ec2:InstanceType":"t2.micro"}}`, ctx("ec2:InstanceType=m5.large"), false},
		{"StringLikeIfExists/absent", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, nil, true},
		{"StringLikeIfExists/present", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, ctx("ec2:InstanceType=m3.xlarge"), true},
		{"StringLikeIfExists/present mismatch", `{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}`, ctx("ec2:InstanceType=m5.xlarge"), false},
		{"StringNotEqualsIfExists/absent", `{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"ops"}}`, nil, true},
		{"StringNotEqualsIfExists/present equal", `{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"ops"}}`, ctx("aws:PrincipalTag/team=ops"), false},
		{"StringNotEqualsIfExists/present different", `{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"ops"}}`, ctx("aws:PrincipalTag/team=dev"), true},
		{"NumericLessThanIfExists/absent", `{"NumericLessThanIfExists":{"s3:max-keys":"10"}}`, nil, true},
		{"NumericLessThanIfExists/present", `{"NumericLessThanIfExists":{"s3:max-keys":"10"}}`, ctx("s3:max-keys=100"), false},
		{"DateLessThanIfExists/absent", `{"DateLessThanIfExists":{"aws:TokenIssueTime":"2020-01-01T00:00:00Z"}}`, nil, true},
		{"BoolIfExists/absent", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, nil, true},
		{"BoolIfExists/present false", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}`, ctx("aws:MultiFactorAuthPresent=false"), false},
		{"BinaryEqualsIfExists/absent", `{"BinaryEqualsIfExists":{"custom:blob":"QQ=="}}`, nil, true},
		{"IpAddressIfExists/absent", `{"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},
		{"IpAddressIfExists/present outside", `{"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=192.0.2.1"), false},
		{"NotIpAddressIfExists/present inside", `{"NotIpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp=203.0.113.1"), false},
		{"ArnLikeIfExists/absent", `{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, nil, true},
		{"ArnNotLikeIfExists/present like", `{"ArnNotLikeIfExists":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}`, ctx("aws:SourceArn=arn:aws:sns:us-east-1:1:t"), false},
		{"ForAnyValue:StringEqualsIfExists/absent", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"a"}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conditionHolds(t, tt.cond, tt.ctx); got != tt.want {
				t.Errorf("condition %s with context %v: got %v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}

	// The same page: "If you are using an "Effect": "Deny" element with a
	// negated condition operator like StringNotEqualsIfExists, the request
	// is still denied even if the tag is missing."
	t.Run("Deny with StringNotEqualsIfExists and a missing tag", func(t *testing.T) {
		allow := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
		deny := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
			"Condition":{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"ops"}}}}`)
		ps := []NamedPolicy{{Name: "allow", Doc: allow}, {Name: "deny", Doc: deny}}
		if got := Evaluate(ps, Request{Action: "ssm:StartSession", Resource: "*"}).Decision; got != ExplicitDeny {
			t.Errorf("missing tag: got %v, want %v", got, ExplicitDeny)
		}
		if got := Evaluate(ps, Request{Action: "ssm:StartSession", Resource: "*", Context: ctx("aws:PrincipalTag/team=ops")}).Decision; got != Allow {
			t.Errorf("tag ops: got %v, want %v", got, Allow)
		}
	})
}

// IAM page "Creating a condition that tests multiple key values (set
// operations)", including its DynamoDB examples and its note that an empty
// set makes ForAllValues true and ForAnyValue false.
func TestSetOperators(t *testing.T) {
	const allowed = `{"ForAllValues:StringLike":{"dynamodb:requestedAttributes":["PostDateTime","Message","Tags"]}}`
	const forbidden = `{"ForAnyValue:StringLike":{"dynamodb:requestedAttributes":["ID","PostDateTime"]}}`
	empty := map[string][]string{"dynamodb:requestedAttributes": {}}
	tests := []struct {
		name string
		cond string
		ctx  map[string][]string
		want bool
	}{
		{"ForAllValues/all listed", allowed, ctx("dynamodb:requestedAttributes=PostDateTime", "dynamodb:requestedAttributes=Message"), true},
		{"ForAllValues/one not listed", allowed, ctx("dynamodb:requestedAttributes=PostDateTime", "dynamodb:requestedAttributes=UserName"), false},
		{"ForAllValues/missing key is true", allowed, nil, true},
		{"ForAllValues/empty set is true", allowed, empty, true},
		{"ForAnyValue/one listed", forbidden, ctx("dynamodb:requestedAttributes=UserName", "dynamodb:requestedAttributes=Message", "dynamodb:requestedAttributes=PostDateTime"), true},
		{"ForAnyValue/none listed", forbidden, ctx("dynamodb:requestedAttributes=UserName"), false},
		{"ForAnyValue/missing key is false", forbidden, nil, false},
		{"ForAnyValue/empty set is false", forbidden, empty, false},
		{"ForAllValues:StringEquals/subset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctx("aws:TagKeys=env"), true},
		{"ForAllValues:StringNotEquals/none forbidden", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx("aws:TagKeys=env", "aws:TagKeys=team"), true},
		{"ForAllValues:StringNotEquals/one forbidden", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx("aws:TagKeys=env", "aws:TagKeys=secret"), false},
		{"ForAllValues:StringNotEquals/missing key is true", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, nil, true},
		{"ForAnyValue:StringNotEquals/one other", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx("aws:TagKeys=env", "aws:TagKeys=secret"), true},
		{"ForAnyValue:StringNotEquals/only forbidden", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, ctx("aws:TagKeys=secret"), false},
		{"ForAnyValue:StringNotEquals/missing key is false", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["secret"]}}`, nil, false},
		{"ForAnyValue:IpAddress", `{"ForAnyValue:IpAddress":{"custom:ips":"10.0.0.0/8"}}`, ctx("custom:ips=192.0.2.1", "custom:ips=10.1.2.3"), true},
		{"ForAllValues:NumericLessThan", `{"ForAllValues:NumericLessThan":{"custom:sizes":"10"}}`, ctx("custom:sizes=1", "custom:sizes=12"), false},
		// Without a set operator a multivalued key matches a positive
		// operator when any value matches, and a negated one when none does.
		{"no set operator/positive any", `{"StringEquals":{"aws:TagKeys":"env"}}`, ctx("aws:TagKeys=team", "aws:TagKeys=env"), true},
		{"no set operator/negated none", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx("aws:TagKeys=team", "aws:TagKeys=env"), false},
		{"no set operator/negated none match", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, ctx("aws:TagKeys=team", "aws:TagKeys=owner"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conditionHolds(t, tt.cond, tt.ctx); got != tt.want {
				t.Errorf("condition %s with context %v: got %v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}
}

// IAM page "Conditions with multiple context keys or values": operators and
// keys are ANDed, values ORed, and values of a negated operator NORed.
func TestConditionLogic(t *testing.T) {
	tests := []struct {
		name string
		cond string
		ctx  map[string][]string
		want bool
	}{
		{"keys AND/both", `{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"ops"}}`, ctx("aws:username=alice", "aws:PrincipalTag/team=ops"), true},
		{"keys AND/one", `{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"ops"}}`, ctx("aws:username=alice", "aws:PrincipalTag/team=dev"), false},
		{"operators AND/both", `{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx("aws:username=alice", "aws:SourceIp=192.0.2.1"), true},
		{"operators AND/one", `{"StringEquals":{"aws:username":"alice"},"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, ctx("aws:username=alice", "aws:SourceIp=198.51.100.1"), false},
		{"values OR/first", `{"StringEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=alice"), true},
		{"values OR/second", `{"StringEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=bob"), true},
		{"values OR/neither", `{"StringEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=carol"), false},
		{"negated values NOR/first", `{"StringNotEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=alice"), false},
		{"negated values NOR/second", `{"StringNotEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=bob"), false},
		{"negated values NOR/neither", `{"StringNotEquals":{"aws:username":["alice","bob"]}}`, ctx("aws:username=carol"), true},
		{"NotIpAddress NOR", `{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}`, ctx("aws:SourceIp=203.0.113.1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conditionHolds(t, tt.cond, tt.ctx); got != tt.want {
				t.Errorf("condition %s with context %v: got %v, want %v", tt.cond, tt.ctx, got, tt.want)
			}
		})
	}
}

func TestContextKeyCaseCollision(t *testing.T) {
	// Two spellings of one key: both sets of values count, whatever the
	// map's iteration order.
	c := map[string][]string{"ssm:resourceTag/Foo": {"bar1"}, "ssm:resourceTag/foo": {"bar2"}}
	for range 20 {
		if !conditionHolds(t, `{"StringEquals":{"ssm:resourceTag/Foo":"bar2"}}`, c) {
			t.Fatal("value under the other spelling was not seen")
		}
		if conditionHolds(t, `{"ForAllValues:StringEquals":{"ssm:resourceTag/Foo":"bar1"}}`, c) {
			t.Fatal("ForAllValues ignored one spelling")
		}
	}
}
