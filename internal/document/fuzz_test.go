package document

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics on arbitrary bytes in any
// format, that its errors are *Errors with code InvalidDocument, and that
// whatever parses can be resolved, rendered and substituted without
// panicking, with Render producing JSON. Seeds live in
// testdata/fuzz/FuzzParse: the built-in documents, the examples of AWS's
// pages and broken variants of them.
func FuzzParse(f *testing.F) {
	for _, b := range Builtins() {
		f.Add([]byte(b.Content))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		for _, format := range []string{"", FormatJSON, FormatYAML} {
			d, err := Parse(content, format)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CodeInvalidDocument || e.Message == "" {
					t.Fatalf("Parse(%q): error %#v", format, err)
				}
				continue
			}
			if d.SchemaVersion != SchemaVersion || !slices.Contains(sessionTypes, d.SessionType) {
				t.Fatalf("parsed a document with schemaVersion %q, sessionType %q", d.SchemaVersion, d.SessionType)
			}
			if d.Properties != nil && !json.Valid(d.Properties) {
				t.Fatalf("Properties are not JSON: %q", d.Properties)
			}
			exercise(t, d, nil)
			// Hostile values for every parameter, validated or not.
			given := map[string][]string{}
			raw := map[string]string{}
			for name := range d.Parameters {
				given[name] = []string{"x'; $(id) \"`\n"}
				raw[name] = "x'; $(id) \"`\n"
			}
			exercise(t, d, given)
			if d.SessionType == SessionInteractiveCommands || d.SessionType == SessionNonInteractiveCommands {
				_, _ = d.LinuxCommands(raw)
			}
		}
	})
}

func exercise(t *testing.T, d *Document, given map[string][]string) {
	params, err := d.ResolveParameters(given)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || (e.Code != CodeInvalidDocument && e.Code != CodeValidation) {
			t.Fatalf("ResolveParameters: error %#v", err)
		}
		return
	}
	if len(params) != len(d.Parameters) {
		t.Fatalf("resolved %d of %d parameters", len(params), len(d.Parameters))
	}
	raw, err := d.Render(params)
	if err != nil {
		t.Fatalf("Render after ResolveParameters: %v", err)
	}
	if raw != nil && !json.Valid(raw) {
		t.Fatalf("Render produced %q", raw)
	}
	switch d.SessionType {
	case SessionInteractiveCommands, SessionNonInteractiveCommands:
		_, _ = d.LinuxCommands(params)
	case SessionPort:
		_, _ = d.Port(params)
	}
}
