package document

import (
	"errors"
	"strings"
	"testing"
)

// wantError fails unless err is an *Error with the code and a message
// containing every fragment.
func wantError(t *testing.T, err error, code string, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s containing %q", code, fragments)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	if e.Code != code {
		t.Errorf("code %s, want %s (message %q)", e.Code, code, e.Message)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Message, f) {
			t.Errorf("message %q does not contain %q", e.Message, f)
		}
	}
}

func mustParse(t *testing.T, content, format string) *Document {
	t.Helper()
	d, err := Parse([]byte(content), format)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}
