package policy

import (
	"fmt"
	"strings"
	"testing"
)

func mustParse(t testing.TB, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return d
}

// ctx builds a request context from "key=value" pairs; a key may repeat to
// give it several values, and "key=" alone gives it the empty string.
func ctx(pairs ...string) map[string][]string {
	m := map[string][]string{}
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		m[k] = append(m[k], v)
	}
	return m
}

// conditionDoc wraps one Condition block in an Allow-everything statement.
func conditionDoc(version, condition string) string {
	v := ""
	if version != "" {
		v = fmt.Sprintf(`"Version":%q,`, version)
	}
	return fmt.Sprintf(`{%s"Statement":{"Effect":"Allow","Action":"ssm:StartSession","Resource":"*","Condition":%s}}`, v, condition)
}

// conditionHolds reports whether a 2012-10-17 condition block lets the
// request through.
func conditionHolds(t *testing.T, condition string, c map[string][]string) bool {
	t.Helper()
	d := mustParse(t, conditionDoc(Version2012, condition))
	res := Evaluate([]NamedPolicy{{Name: "p", Doc: d}}, Request{Action: "ssm:StartSession", Resource: "*", Context: c})
	return res.Decision == Allow
}
