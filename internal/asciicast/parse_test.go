package asciicast

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// parseSeeds are lines for the fast path and for the fallback.
var parseSeeds = []string{
	`[0.000000, "o", "hello"]`,
	`[1.5, "o", "\u001b[1;32mok\u001b[0m\r\n"]`,
	`[ 2 , "i" , "a\"b\\c\/d\b\f\n\r\t" ]`,
	`[3e2, "r", "80x24"]`,
	`[3E-2, "m", ""]`,
	`[0.1, "o", "caf\u00e9 \u2028 日本 \ufffd"]`,
	`[0.1, "o", "\ud83d\ude00"]`, // a surrogate pair: JSON path
	`[0.1, "o", "\ud800"]`,       // a lone surrogate: U+FFFD
	"[0.1, \"o\", \"\xff\xfe\"]", // not UTF-8: U+FFFD
	"[0.1, \"o\", \"a\x01b\"]",   // a raw control character: invalid
	`[-1, "o", "x"]`,             // negative
	`[01, "o", "x"]`,             // not a JSON number
	`[1., "o", "x"]`,             // not a JSON number
	`[1e999, "o", "x"]`,          // out of range
	`[null, "o", "x"]`,           // null time
	`[1, null, "x"]`,             // null code
	`[1, "", "x"]`,               // empty code
	`[1, "o", "x"] x`,            // trailing garbage
	`[1, "o", "x", 4]`,           // four elements
	`[1, "o"]`,                   // two
	`[1, "r", "80x"]`,            // bad size
	`[1, "o", "\u00zz"]`,         // bad escape
	`[1, "o", "\x"]`,             // bad escape
	`[1, "o", "unterminated]`,    // no closing quote
	"[1, \"o\", \"x\"]\r",        // trailing whitespace
}

func sameParse(t *testing.T, line []byte) {
	t.Helper()
	fast, ok := parseEventFast(line)
	slow, err := parseEventJSON(line)
	if ok && (err != nil || fast != slow) {
		t.Fatalf("%q: fast path %+v, encoding/json %+v, %v", line, fast, slow, err)
	}
	got, gerr := ParseEvent(line)
	if got != slow || (gerr == nil) != (err == nil) || (err != nil && gerr.Error() != err.Error()) {
		t.Fatalf("%q: ParseEvent %+v, %v; encoding/json %+v, %v", line, got, gerr, slow, err)
	}
}

func TestParseEventFastMatchesJSON(t *testing.T) {
	for _, s := range parseSeeds {
		sameParse(t, []byte(s))
	}
	// Lines the Writer makes from random bytes all take the fast path.
	r := rand.New(rand.NewPCG(1, 2))
	var buf bytes.Buffer
	start := time.Unix(0, 0)
	w, err := NewWriter(&buf, Header{Width: 80, Height: 24}, start)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		b := make([]byte, r.IntN(300))
		for j := range b {
			b[j] = byte(r.IntN(256))
			if r.IntN(2) == 0 {
				b[j] = byte(0x20 + r.IntN(0x60))
			}
		}
		w.Write(start.Add(time.Duration(i)*time.Millisecond), Output, b)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")[1:]
	for _, l := range lines {
		if _, ok := parseEventFast([]byte(l)); !ok {
			t.Errorf("the writer's line %q takes the slow path", l)
		}
		sameParse(t, []byte(l))
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { sameParse(t, line) })
}

func BenchmarkParseEvent(b *testing.B) {
	line := AppendString([]byte(`[12.345678, "o", `), []byte(strings.Repeat("2025-01-02T03:04:05Z INFO \x1b[32mok\x1b[0m café\tdone\n", 200)))
	line = append(line, ']')
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := ParseEvent(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEventJSON(b *testing.B) {
	line := AppendString([]byte(`[12.345678, "o", `), []byte(strings.Repeat("2025-01-02T03:04:05Z INFO \x1b[32mok\x1b[0m café\tdone\n", 200)))
	line = append(line, ']')
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := parseEventJSON(line); err != nil {
			b.Fatal(err)
		}
	}
}

// plainRef is Plain.Write as it was before it took runs of text at once.
func plainRef(p *Plain, s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch p.state {
		case 1:
			switch c {
			case '[':
				p.state = 2
			case ']', 'P', 'X', '^', '_':
				p.state = 3
			case '(', ')', '*', '+', '#', '%':
				if i+1 < len(s) {
					i++
				}
				p.state = 0
			default:
				p.state = 0
			}
			continue
		case 2:
			if c >= 0x40 && c <= 0x7e {
				p.state = 0
			}
			continue
		case 3:
			if c == 0x07 {
				p.state = 0
			} else if c == 0x1b {
				p.state = 4
			}
			continue
		case 4:
			p.state = 0
			if c != '\\' {
				p.state = 3
			}
			continue
		}
		switch {
		case c == 0x1b:
			p.state = 1
		case c == '\n':
			out = append(out, string(p.line))
			p.line = p.line[:0]
		case c == '\b':
			if n := len(p.line); n > 0 {
				j := n - 1
				for j > 0 && p.line[j]&0xC0 == 0x80 {
					j--
				}
				p.line = p.line[:j]
			}
		case c == '\t' || c >= 0x20 && c != 0x7f:
			p.line = append(p.line, c)
		}
	}
	return out
}

func FuzzPlain(f *testing.F) {
	f.Add("ab\x1b[1mc\x1b]0;t\x07d\x1b(Be\bf\tg\r\nh\x1b", 3)
	f.Fuzz(func(t *testing.T, s string, cut int) {
		if cut < 0 || cut > len(s) {
			cut = len(s) / 2
		}
		var a, b Plain
		got := append(a.Write(s[:cut]), a.Write(s[cut:])...)
		want := append(plainRef(&b, s[:cut]), plainRef(&b, s[cut:])...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) || a.Pending() != b.Pending() || a.state != b.state {
			t.Fatalf("%q: %q %q, want %q %q", s, got, a.Pending(), want, b.Pending())
		}
	})
}

func BenchmarkPlain(b *testing.B) {
	s := strings.Repeat("2025-01-02T03:04:05Z INFO \x1b[32mok\x1b[0m café\tdone and some more words\n", 200)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		var p Plain
		p.Write(s)
	}
}
