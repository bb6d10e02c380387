package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"unicode/utf8"
)

// Redacted replaces the value of every field Redact considers secret.
const Redacted = "REDACTED"

// Limits on what Redact keeps of a request, so that one call cannot turn
// into a megabyte of audit trail.
const (
	MaxParamString = 1024     // bytes of one string value (document content, commands)
	MaxParamItems  = 100      // elements of one array, members of one object
	MaxParamDepth  = 16       // nesting
	MaxParamsSize  = 16 << 10 // bytes of the whole redacted JSON
	truncatedMark  = "…[truncated "
)

// secretKey matches field names whose values are secrets, whatever the
// operation: the rule is deny by default, so a field added tomorrow named
// FooToken or DbPassword is redacted without anyone remembering to list it.
// Identifiers that only look alike (AccessKeyId, SessionId, SSHPublicKey)
// do not match; NextToken does, and losing a pagination token is harmless.
var secretKey = regexp.MustCompile(`(?i)secret|token|passw|passphrase|credential|private|signature|authorization|cookie|activationcode|apikey|api_key|sealed`)

// IsSecretKey reports whether a field of this name is redacted.
func IsSecretKey(name string) bool { return secretKey.MatchString(name) }

// Redact returns body (a JSON request) with the value of every field whose
// name IsSecretKey replaced by "REDACTED", at any depth (including the keys
// of free-form maps such as StartSession's Parameters), long strings cut to
// MaxParamString bytes, long arrays and objects cut to MaxParamItems, and
// nesting beyond MaxParamDepth dropped. A body that is empty gives nil; one
// that is not a JSON object, or whose redacted form exceeds MaxParamsSize,
// gives a small object that says so and keeps nothing of its content.
func Redact(body []byte) json.RawMessage {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return summary("not valid JSON", len(body))
	}
	if _, ok := v.(map[string]any); !ok {
		return summary("not a JSON object", len(body))
	}
	out, err := json.Marshal(redactValue(v, 0))
	if err != nil {
		return summary("not representable", len(body))
	}
	if len(out) > MaxParamsSize {
		return summary(fmt.Sprintf("redacted parameters exceed %d bytes", MaxParamsSize), len(body))
	}
	return out
}

func summary(why string, n int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"_omitted": why, "_bytes": n})
	return b
}

func redactValue(v any, depth int) any {
	if depth >= MaxParamDepth {
		return "…[nested too deep]"
	}
	switch x := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x)) // which members survive a cut is not left to chance
		out := make(map[string]any, min(len(x), MaxParamItems))
		for i, k := range keys {
			if i == MaxParamItems {
				out["_omittedMembers"] = len(x) - i
				break
			}
			val := x[k]
			k = truncate(k)
			if IsSecretKey(k) {
				out[k] = Redacted
				continue
			}
			out[k] = redactValue(val, depth+1)
		}
		return out
	case []any:
		if len(x) > MaxParamItems {
			out := make([]any, 0, MaxParamItems+1)
			for _, e := range x[:MaxParamItems] {
				out = append(out, redactValue(e, depth+1))
			}
			return append(out, fmt.Sprintf("…[%d more]", len(x)-MaxParamItems))
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, depth+1)
		}
		return out
	case string:
		return truncate(x)
	case json.Number:
		if len(x) > 64 {
			return truncate(string(x))
		}
		return x
	default:
		return x
	}
}

// truncate cuts s to MaxParamString bytes on a rune boundary and says how
// much it dropped.
func truncate(s string) string {
	if len(s) <= MaxParamString {
		return s
	}
	cut := MaxParamString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("%s%d bytes]", truncatedMark, len(s)-cut)
}
