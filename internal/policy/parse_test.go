package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// marker shows where a test expects Parse to point; it is removed before
// parsing.
const marker = "‸"

func TestParseErrors(t *testing.T) {
	const stmt = `"Effect":"Allow","Action":"ssm:StartSession","Resource":"*"`
	tests := []struct {
		name string
		doc  string
		msg  string // substring of the message
	}{
		{"missing comma", `{"Version":"2012-10-17" ‸"Statement":{` + stmt + `}}`, `expected ',' or '}'`},
		{"trailing comma", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ssm:StartSession",‸],"Resource":"*"}}`, "trailing comma"},
		{"unterminated string", `{"Version":"2012-10-17","Statement":{"Effect":‸"Allow}}`, "unterminated string"},
		{"single quotes", `{"Version":‸'2012-10-17'}`, "double quotes"},
		{"duplicate key", `{"Version":"2012-10-17","Statement":{"Effect":"Allow",‸"Effect":"Deny","Action":"ssm:*","Resource":"*"}}`, `duplicate key "Effect" (first used at line 1, column 38)`},
		{"unclosed object", `{"Version":"2012-10-17","Statement":‸{"Effect":"Allow","Action":"ssm:*"`, "the object opened here is not closed"},
		{"unclosed array", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":‸["ssm:*"`, "the array opened here is not closed"},
		{"trailing data", `{"Version":"2012-10-17","Statement":{` + stmt + `}} ‸}`, "after the end"},
		{"empty document", "  \n ‸", "empty document"},
		{"not an object", `‸["Version"]`, "must be a JSON object"},
		{"unknown top-level element", `{‸"Versoin":"2012-10-17","Statement":{` + stmt + `}}`, `unknown top-level element "Versoin"`},
		{"element case", `{"Version":"2012-10-17","Statement":{‸"effect":"Allow","Action":"ssm:*","Resource":"*"}}`, `did you mean "Effect"?`},
		{"unsupported Version", `{"Version":‸"2012-10-18","Statement":{` + stmt + `}}`, `unsupported Version "2012-10-18"`},
		{"Version not a string", `{"Version":‸2012,"Statement":{` + stmt + `}}`, "Version must be a string"},
		{"missing Statement", `‸{"Version":"2012-10-17"}`, `no "Statement"`},
		{"Statement a string", `{"Version":"2012-10-17","Statement":‸"Allow"}`, "Statement must be an object or an array"},
		{"empty Statement", `{"Version":"2012-10-17","Statement":‸[]}`, "at least one statement"},
		{"statement not an object", `{"Version":"2012-10-17","Statement":[{` + stmt + `},‸"x"]}`, "each statement must be an object"},
		{"missing Effect", "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    ‸{\"Action\": \"ssm:*\", \"Resource\": \"*\"}\n  ]\n}", `statement 0 has no "Effect"`},
		{"bad Effect", `{"Version":"2012-10-17","Statement":{"Effect":‸"allow","Action":"ssm:*","Resource":"*"}}`, `Effect must be "Allow" or "Deny", not "allow"`},
		{"Action and NotAction", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*",‸"NotAction":"iam:*","Resource":"*"}}`, `both "Action" and "NotAction"`},
		{"no Action", `{"Version":"2012-10-17","Statement":‸{"Effect":"Allow","Resource":"*"}}`, `neither "Action" nor "NotAction"`},
		{"no Resource", `{"Version":"2012-10-17","Statement":[{` + stmt + `},‸{"Effect":"Allow","Action":"ssm:*"}]}`, `statement 1 has neither "Resource" nor "NotResource"`},
		{"Principal", `{"Version":"2012-10-17","Statement":{` + stmt + `,‸"Principal":{"AWS":"*"}}}`, `"Principal" is not allowed in an identity-based policy`},
		{"NotPrincipal", `{"Version":"2012-10-17","Statement":{` + stmt + `,‸"NotPrincipal":"*"}}`, `"NotPrincipal" is not allowed`},
		{"empty Action list", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":‸[],"Resource":"*"}}`, "Action is an empty array"},
		{"Action not a string", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ssm:*",‸7],"Resource":"*"}}`, "Action entries must be strings"},
		{"bad action", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":‸"StartSession","Resource":"*"}}`, `action "StartSession" must be "*" or "service:Action"`},
		{"action with space", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ssm:*",‸"ssm:Start Session"],"Resource":"*"}}`, "may contain only"},
		{"resource not an ARN", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":‸"mi-0123456789abcdef0"}}`, `resource "mi-0123456789abcdef0" must be "*" or an ARN`},
		{"resource too short", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":‸"arn:aws:ssm:*"}}`, "must be \"*\" or an ARN"},
		{"resource empty service", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":‸"arn:aws:::1:x"}}`, "service (e.g. ssm) is empty"},
		{"unknown operator", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{‸"StringEqualz":{"aws:username":"alice"}}}}`, `unknown condition operator "StringEqualz" (did you mean "StringEquals"?)`},
		{"unknown operator, nothing close", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{‸"Foo":{"aws:username":"alice"}}}}`, `unknown condition operator "Foo"`},
		{"operator case", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{‸"ForAnyValue:stringlike":{"aws:TagKeys":"a"}}}}`, `(did you mean "ForAnyValue:StringLike"?)`},
		{"NullIfExists", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{‸"NullIfExists":{"aws:username":"true"}}}}`, "Null cannot take IfExists"},
		{"ForAllValues:Null", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{‸"ForAllValues:Null":{"aws:TagKeys":"true"}}}}`, "Null cannot take ForAnyValue: or ForAllValues:"},
		{"Condition not an object", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":‸["StringEquals"]}}`, "Condition must be an object"},
		{"operator block not an object", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":‸"aws:username"}}}`, "needs an object of keys and values"},
		{"condition key without prefix", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":{‸"username":"alice"}}}}`, `condition key "username" must be of the form service:name`},
		{"condition value object", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":{"aws:username":‸{"a":"b"}}}}}`, "must be strings, booleans or numbers, not an object"},
		{"condition value null", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":{"aws:username":["a",‸null]}}}}`, "not null"},
		{"condition values empty", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":{"aws:username":‸[]}}}}`, "empty array of values"},
		{"bad number", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"NumericLessThan":{"s3:max-keys":‸"ten"}}}}`, `NumericLessThan value "ten" is not a number`},
		{"bad date", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"DateGreaterThan":{"aws:CurrentTime":‸"31/01/2026"}}}}`, "is not a date"},
		{"bad bool", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"Bool":{"aws:SecureTransport":‸"yes"}}}}`, "must be true or false"},
		{"bad IP", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8",‸"10.0.0.0/33"]}}}}`, "is not an IP address or CIDR range"},
		{"bad base64", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"BinaryEquals":{"custom:b":‸"!!"}}}}`, "is not base64"},
		{"unterminated variable", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":‸"arn:aws:ssm:*:*:session/${aws:username-*"}}`, "is not closed with '}'"},
		{"variable outside the resource part", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":‸"arn:aws:ssm:${aws:region}:*:session/*"}}`, "only in the resource part"},
		{"variable without a key", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringEquals":{"custom:k":‸"${username}"}}}}`, "does not name a condition key"},
		{"empty variable", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringLike":{"custom:k":‸"a${}"}}}}`, "empty policy variable"},
		{"default without quotes", `{"Version":"2012-10-17","Statement":{` + stmt + `,"Condition":{"StringLike":{"custom:k":‸"${aws:username, anon}"}}}}`, "must be in single quotes"},
		{"bad Sid", `{"Version":"2012-10-17","Statement":{"Sid":‸"allow-all",` + stmt + `}}`, `Sid "allow-all" may contain only`},
		{"duplicate Sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A",` + stmt + `},{"Sid":‸"A",` + stmt + `}]}`, `duplicate Sid "A"`},
		{"columns count characters", "{\"Id\":\"é€\", ‸\"Bogus\":1}", `unknown top-level element "Bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := strings.Index(tt.doc, marker)
			if at < 0 {
				t.Fatal("test doc has no marker")
			}
			doc := strings.Replace(tt.doc, marker, "", 1)
			wantLine := strings.Count(doc[:at], "\n") + 1
			wantCol := utf8.RuneCountInString(doc[strings.LastIndex(doc[:at], "\n")+1:at]) + 1
			checkParseError(t, []byte(doc), wantLine, wantCol, tt.msg)
		})
	}
}

func checkParseError(t *testing.T, doc []byte, wantLine, wantCol int, msg string) {
	t.Helper()
	_, err := Parse(doc)
	if err == nil {
		t.Fatalf("Parse succeeded, want an error containing %q", msg)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is %T, want *ParseError", err, err)
	}
	if pe.Line != wantLine || pe.Column != wantCol || !strings.Contains(pe.Msg, msg) {
		t.Errorf("got %q,\nwant line %d, column %d: ...%s...", err, wantLine, wantCol, msg)
	}
	if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d, column %d: ", pe.Line, pe.Column)) {
		t.Errorf("Error() = %q does not start with the position", err)
	}
}

func TestParseErrorExample(t *testing.T) {
	doc := `{
  "Version": "2012-10-17",
  "Statement": {"Effect": "Allow", "Action": "ssm:StartSession", "Resource": "*",
  "Condition": {"StringEqualz": {"aws:username": "alice"}}}
}`
	_, err := Parse([]byte(doc))
	want := `line 4, column 17: unknown condition operator "StringEqualz" (did you mean "StringEquals"?)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestParseErrorsWithoutMarker(t *testing.T) {
	t.Run("invalid UTF-8", func(t *testing.T) {
		doc := []byte("{\"Id\":\"ab\xff\"}")
		checkParseError(t, doc, 1, 10, "invalid UTF-8")
	})
	t.Run("document too large", func(t *testing.T) {
		doc := []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"},"Id":"` +
			strings.Repeat("x", MaxDocumentSize) + `"}`)
		checkParseError(t, doc, 1, MaxDocumentSize+1, "more than the limit of 10240")
	})
	t.Run("deep nesting", func(t *testing.T) {
		doc := []byte(`{"Id":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`)
		checkParseError(t, doc, 1, 6+maxDepth+1, "nests deeper")
	})
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"exactly the size limit", func() string {
			base := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"},"Id":""}`
			return base[:len(base)-2] + strings.Repeat("x", MaxDocumentSize-len(base)) + `"}`
		}()},
		{"no Version", `{"Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}`},
		{"2008 Version", `{"Version":"2008-10-17","Statement":[{"Effect":"Deny","NotAction":"ssm:*","NotResource":"arn:aws:ssm:*:*:document/*"}]}`},
		{"whitespace and escapes", "\t{ \"Statement\" :\r\n [ { \"Effect\" : \"Allow\" , \"Action\" : \"ssm:\\u0053tart*\" , \"Resource\" : \"*\" } ] }\n"},
		{"every operator", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"StringEquals":{"a:b":"x"},"StringNotEquals":{"a:b":"x"},"StringEqualsIgnoreCase":{"a:b":"x"},"StringNotEqualsIgnoreCase":{"a:b":"x"},
			"StringLike":{"a:b":"x*"},"StringNotLike":{"a:b":"x*"},"NumericEquals":{"a:b":1},"NumericNotEquals":{"a:b":"1.5"},
			"NumericLessThan":{"a:b":"-2"},"NumericLessThanEquals":{"a:b":"1e3"},"NumericGreaterThan":{"a:b":0},"NumericGreaterThanEquals":{"a:b":"+4"},
			"DateEquals":{"a:b":"2026-01-31"},"DateNotEquals":{"a:b":"2026-01-31T12:00Z"},"DateLessThan":{"a:b":"2026-01-31T12:00:00.5+02:00"},
			"DateLessThanEquals":{"a:b":1769860800},"DateGreaterThan":{"a:b":"20260131T120000Z"},"DateGreaterThanEquals":{"a:b":"2026-01"},
			"Bool":{"a:b":true},"BinaryEquals":{"a:b":"QQ"},"IpAddress":{"a:b":"::1"},"NotIpAddress":{"a:b":"10.0.0.0/8"},
			"ArnEquals":{"a:b":"arn:aws:s3:::x"},"ArnLike":{"a:b":"arn:*:s3:::*"},"ArnNotEquals":{"a:b":"*"},"ArnNotLike":{"a:b":"arn:aws:iam::1:user/*"},
			"Null":{"a:b":"false"},"StringLikeIfExists":{"a:b":"x"},"ForAnyValue:StringEquals":{"a:b":"x"},"ForAllValues:ArnLikeIfExists":{"a:b":"arn:aws:*:*:*:*"}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustParse(t, tt.doc)
		})
	}
}

func TestParseFields(t *testing.T) {
	d := mustParse(t, `{"Version":"2012-10-17","Id":"p1","Statement":[
		{"Sid":"A","Effect":"Allow","Action":"ssm:StartSession","Resource":["arn:aws:ssm:*:*:managed-instance/*"],
		 "Condition":{"StringLike":{"ssm:resourceTag/Environment":["Development","Staging"]},"Bool":{"aws:SecureTransport":true}}},
		{"Effect":"Deny","NotAction":["iam:*"],"NotResource":"*"}]}`)
	if d.Version != Version2012 || d.ID != "p1" || len(d.Statements) != 2 {
		t.Fatalf("document = %+v", d)
	}
	s0, s1 := d.Statements[0], d.Statements[1]
	if s0.Sid != "A" || s0.Effect != EffectAllow || s0.Index != 0 || len(s0.Action) != 1 || s0.NotAction != nil || s0.Resource[0] != "arn:aws:ssm:*:*:managed-instance/*" {
		t.Errorf("statement 0 = %+v", s0)
	}
	if len(s0.Conditions) != 2 {
		t.Fatalf("conditions = %+v", s0.Conditions)
	}
	c := s0.Conditions[0]
	if c.Operator != "StringLike" || c.Key != "ssm:resourceTag/Environment" || strings.Join(c.Values, ",") != "Development,Staging" {
		t.Errorf("condition 0 = %+v", c)
	}
	if c := s0.Conditions[1]; c.Operator != "Bool" || c.Values[0] != "true" {
		t.Errorf("condition 1 = %+v", c)
	}
	if s1.Effect != EffectDeny || s1.Index != 1 || s1.Action != nil || s1.NotAction[0] != "iam:*" || s1.NotResource[0] != "*" {
		t.Errorf("statement 1 = %+v", s1)
	}
	if d := mustParse(t, `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`); d.Version != Version2008 {
		t.Errorf("default Version = %q, want %q", d.Version, Version2008)
	}
}
