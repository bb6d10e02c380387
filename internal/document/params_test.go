package document

import (
	"reflect"
	"testing"
)

const paramsDoc = `{
  "schemaVersion": "1.0",
  "sessionType": "InteractiveCommands",
  "parameters": {
    "name":  {"type": "String", "allowedPattern": "^[a-z]+$", "minChars": 2, "maxChars": 5, "default": "abc"},
    "free":  {"type": "String"},
    "short": {"type": "String", "maxChars": 3, "default": "äöü"},
    "color": {"type": "String", "allowedValues": ["red", "green"], "default": "red"},
    "tags":  {"type": "StringList", "allowedValues": ["a", "b", "c"], "minItems": 1, "maxItems": 2, "default": ["a"]},
    "words": {"type": "StringList", "allowedPattern": "^[a-z]+$", "maxChars": 3, "default": []},
    "count": {"type": "Integer", "default": 5},
    "level": {"type": "Integer", "allowedValues": ["1", "2"], "default": "1"},
    "debug": {"type": "Boolean", "default": false},
    "env":   {"type": "StringMap", "default": {"A": "1"}},
    "hosts": {"type": "MapList", "minItems": 1, "maxItems": 2, "default": [{"h": "x"}]}
  },
  "properties": {"linux": {"commands": "echo {{ free }}"}}
}`

func TestResolveParameters(t *testing.T) {
	d := mustParse(t, paramsDoc, "JSON")
	defaults := map[string]string{
		"name": "abc", "short": "äöü", "color": "red", "tags": "a", "words": "", "count": "5", "level": "1",
		"debug": "false", "env": `{"A":"1"}`, "hosts": `[{"h":"x"}]`,
	}
	with := func(kv map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range defaults {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name string
		in   map[string][]string
		want map[string]string // nil when an error is expected
		code string
		msg  []string
	}{
		{name: "defaults", in: map[string][]string{"free": {"x"}}, want: with(map[string]string{"free": "x"})},
		{name: "no values counts as not given", in: map[string][]string{"free": {"x"}, "name": {}}, want: with(map[string]string{"free": "x"})},
		{name: "String list joined", in: map[string][]string{"free": {"a", "b"}}, want: with(map[string]string{"free": "a\nb"})},
		{name: "every type", in: map[string][]string{
			"free": {""}, "name": {"hello"}, "color": {"green"}, "tags": {"b", "c"}, "words": {"ab", "cd", "e"},
			"count": {"-12"}, "level": {"2"}, "debug": {"true"}, "env": {`{ "B" : "2" }`}, "hosts": {`[{"h":"y"}, {"h":"z"}]`},
		}, want: map[string]string{
			"free": "", "name": "hello", "short": "äöü", "color": "green", "tags": "b\nc", "words": "ab\ncd\ne",
			"count": "-12", "level": "2", "debug": "true", "env": `{"B":"2"}`, "hosts": `[{"h":"y"},{"h":"z"}]`,
		}},
		{name: "unknown parameter", in: map[string][]string{"free": {"x"}, "nope": {"1"}},
			code: CodeInvalidDocument, msg: []string{`parameter "nope": the document does not declare it`}},
		{name: "required", in: nil,
			code: CodeValidation, msg: []string{`parameter "free": required; no value was given and the document has no default`}},
		{name: "pattern", in: map[string][]string{"free": {"x"}, "name": {"ABC"}},
			code: CodeValidation, msg: []string{`parameter "name": value "ABC" does not match allowedPattern ^[a-z]+$`}},
		{name: "pattern is anchored", in: map[string][]string{"free": {"x"}, "name": {"ab\ncd"}},
			code: CodeValidation, msg: []string{`parameter "name": value "ab\ncd"`}},
		{name: "minChars", in: map[string][]string{"free": {"x"}, "name": {"a"}},
			code: CodeValidation, msg: []string{`parameter "name": value "a" has 1 characters; minChars is 2`}},
		{name: "maxChars counts characters", in: map[string][]string{"free": {"x"}, "short": {"ééééé"}},
			code: CodeValidation, msg: []string{`parameter "short": value "ééééé" has 5 characters; maxChars is 3`}},
		{name: "allowedValues", in: map[string][]string{"free": {"x"}, "color": {"blue"}},
			code: CodeValidation, msg: []string{`parameter "color": value "blue" is not one of the allowedValues "red", "green"`}},
		{name: "allowedValues per list item", in: map[string][]string{"free": {"x"}, "tags": {"a", "z"}},
			code: CodeValidation, msg: []string{`parameter "tags": value "z" is not one of the allowedValues`}},
		{name: "maxItems", in: map[string][]string{"free": {"x"}, "tags": {"a", "b", "c"}},
			code: CodeValidation, msg: []string{`parameter "tags": 3 items; maxItems is 2`}},
		{name: "MapList minItems", in: map[string][]string{"free": {"x"}, "hosts": {`[]`}},
			code: CodeValidation, msg: []string{`parameter "hosts": 0 items; minItems is 1`}},
		{name: "Integer", in: map[string][]string{"free": {"x"}, "count": {"5.5"}},
			code: CodeValidation, msg: []string{`parameter "count": value "5.5" is not an integer`}},
		{name: "Integer one value", in: map[string][]string{"free": {"x"}, "count": {"1", "2"}},
			code: CodeValidation, msg: []string{`parameter "count": takes one value, not 2`}},
		{name: "Integer allowedValues", in: map[string][]string{"free": {"x"}, "level": {"3"}},
			code: CodeValidation, msg: []string{`parameter "level": value "3" is not one of the allowedValues "1", "2"`}},
		{name: "Boolean", in: map[string][]string{"free": {"x"}, "debug": {"yes"}},
			code: CodeValidation, msg: []string{`parameter "debug": value "yes" is not true or false`}},
		{name: "StringMap", in: map[string][]string{"free": {"x"}, "env": {`["A"]`}},
			code: CodeValidation, msg: []string{`parameter "env": value "[\"A\"]" is not a JSON object`}},
		{name: "MapList", in: map[string][]string{"free": {"x"}, "hosts": {`{"h":"x"}`}},
			code: CodeValidation, msg: []string{`parameter "hosts": value "{\"h\":\"x\"}" is not a JSON list of objects`}},
		{name: "NUL", in: map[string][]string{"free": {"a\x00b"}},
			code: CodeValidation, msg: []string{`parameter "free": value contains a NUL byte`}},
		{name: "UTF-8", in: map[string][]string{"free": {"a\xffb"}},
			code: CodeValidation, msg: []string{`parameter "free": value is not valid UTF-8`}},
		{name: "Parameter Store", in: map[string][]string{"free": {"{{ssm:mycommand}}"}},
			code: CodeValidation, msg: []string{`parameter "free": value "{{ssm:mycommand}}" refers to Parameter Store`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.ResolveParameters(tt.in)
			if tt.want == nil {
				wantError(t, err, tt.code, tt.msg...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestResolvePortPattern checks the message the port pattern of the
// built-in documents gives, in the form the API reports it.
func TestResolvePortPattern(t *testing.T) {
	b, _ := FindBuiltin("AWS-StartPortForwardingSession")
	d := mustParse(t, b.Content, b.DocumentFormat)
	_, err := d.ResolveParameters(map[string][]string{"portNumber": {"99999"}})
	wantError(t, err, CodeValidation, `parameter "portNumber": value "99999" does not match allowedPattern `+portPattern)
	for _, ok := range []string{"1", "22", "65535"} {
		if _, err := d.ResolveParameters(map[string][]string{"portNumber": {ok}, "localPortNumber": {"0"}}); err != nil {
			t.Errorf("port %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"0", "65536", "22 ", "-1", "1e3"} {
		if _, err := d.ResolveParameters(map[string][]string{"portNumber": {bad}}); err == nil {
			t.Errorf("port %q accepted", bad)
		}
	}
}

// TestPatternAlternationAnchored checks that anchoring covers every
// branch of an alternation written without its own anchors.
func TestPatternAlternationAnchored(t *testing.T) {
	d := mustParse(t, `{"schemaVersion":"1.0","sessionType":"Port","parameters":{"p":{"type":"String","allowedPattern":"22|80","default":"22"}},"properties":{"portNumber":"{{p}}"}}`, "")
	if _, err := d.ResolveParameters(map[string][]string{"p": {"2222"}}); err == nil {
		t.Error("2222 matched 22|80")
	}
	if _, err := d.ResolveParameters(map[string][]string{"p": {"80"}}); err != nil {
		t.Error(err)
	}
}
