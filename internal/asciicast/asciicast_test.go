package asciicast

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteReadRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	start := time.Unix(1700000000, 0)
	w, err := NewWriter(&buf, Header{Width: 80, Height: 24, Tether: &Meta{SessionID: "alice-0123456789abcdef0"}}, start)
	if err != nil {
		t.Fatal(err)
	}
	// "é" is 0xC3 0xA9: split across two writes it must still arrive whole.
	writes := []struct {
		at   time.Duration
		code string
		data []byte
	}{
		{10 * time.Millisecond, Output, []byte("hello \x1b[1mworld\x1b[0m\r\n")},
		{20 * time.Millisecond, Output, []byte("caf\xc3")},
		{30 * time.Millisecond, Output, []byte("\xa9 \"quoted\" \\ \t tab\n")},
		{40 * time.Millisecond, Input, []byte("ls\r")},
		{35 * time.Millisecond, Output, []byte("clock went back\n")}, // times must not
		{50 * time.Millisecond, Output, []byte("bad \xff byte\u2028\n")},
	}
	for _, wr := range writes {
		if err := w.Write(start.Add(wr.at), wr.code, wr.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Resize(start.Add(60*time.Millisecond), 120, 40); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(start.Add(70 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// Every line must be valid JSON for any asciicast player.
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("line %d is not JSON: %s", i+1, line)
		}
	}
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Header.Version != 2 || rd.Header.Width != 80 || rd.Header.Timestamp != 1700000000 || rd.Header.Tether.SessionID != "alice-0123456789abcdef0" {
		t.Fatalf("header %+v", rd.Header)
	}
	var out, in strings.Builder
	var times []float64
	var resize string
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, ev.Time)
		switch ev.Code {
		case Output:
			out.WriteString(ev.Data)
		case Input:
			in.WriteString(ev.Data)
		case Resize:
			resize = ev.Data
		}
	}
	want := "hello \x1b[1mworld\x1b[0m\r\ncafé \"quoted\" \\ \t tab\nclock went back\nbad \ufffd byte\u2028\n"
	if out.String() != want {
		t.Fatalf("output %q, want %q", out.String(), want)
	}
	if in.String() != "ls\r" || resize != "120x40" {
		t.Fatalf("input %q resize %q", in.String(), resize)
	}
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			t.Fatalf("times go back: %v", times)
		}
	}
	if times[0] != 0.01 {
		t.Fatalf("first time %v, want 0.01", times[0])
	}
}

func TestLongWritesAreSplit(t *testing.T) {
	var buf bytes.Buffer
	start := time.Unix(0, 0)
	w, _ := NewWriter(&buf, Header{Width: 80, Height: 24}, start)
	big := bytes.Repeat([]byte("\x1bé"), 40<<10) // 120 KiB, each byte escapes to 6
	if err := w.Write(start, Output, big); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if len(l) > 7*maxEventData {
			t.Fatalf("line of %d bytes", len(l))
		}
	}
	rd, _ := NewReader(&buf)
	var got []byte
	for {
		ev, err := rd.Next()
		if err != nil {
			break
		}
		got = append(got, ev.Data...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("split output does not join back")
	}
}

func TestReaderRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"version 1":    `{"version":1,"width":80,"height":24}`,
		"no size":      `{"version":2}`,
		"not json":     "garbage",
		"bad event":    `{"version":2,"width":80,"height":24}` + "\n" + `[1, "o"]`,
		"time back":    `{"version":2,"width":80,"height":24}` + "\n" + `[1, "o", "a"]` + "\n" + `[0.5, "o", "b"]`,
		"neg time":     `{"version":2,"width":80,"height":24}` + "\n" + `[-1, "o", "a"]`,
		"bad resize":   `{"version":2,"width":80,"height":24}` + "\n" + `[1, "r", "80-24"]`,
		"data number":  `{"version":2,"width":80,"height":24}` + "\n" + `[1, "o", 5]`,
		"huge line":    `{"version":2,"width":80,"height":24}` + "\n" + `[1, "o", "` + strings.Repeat("a", MaxLine) + `"]`,
		"code not str": `{"version":2,"width":80,"height":24}` + "\n" + `[1, 2, "a"]`,
	} {
		t.Run(name, func(t *testing.T) {
			rd, err := NewReader(strings.NewReader(in))
			if err != nil {
				return
			}
			for {
				_, err := rd.Next()
				if err == io.EOF {
					t.Fatal("accepted")
				}
				if err != nil {
					return
				}
			}
		})
	}
}

func TestPlain(t *testing.T) {
	var p Plain
	var lines []string
	for _, chunk := range []string{
		"\x1b]0;user@host: ~\x07$ ls\r\n",
		"file1\tfile2\r\n\x1b[01;3", // a CSI split across chunks
		"4mdir\x1b[0m\r\n",
		"abc\bd\n",
		"\x1b(Bplain\x1b]2;title\x1b\\ end\n",
		"partial",
	} {
		lines = append(lines, p.Write(chunk)...)
	}
	want := []string{"$ ls", "file1\tfile2", "dir", "abd", "plain end"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	if p.Pending() != "partial" {
		t.Fatalf("pending %q", p.Pending())
	}
	if LogLine("a\tb") != "a b" {
		t.Fatal("tabs")
	}
}

func FuzzReader(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.cast")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":2,"width":80,"height":24}` + "\n" + `[0.1, "o", "\u001b[1mhi"]` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		var p Plain
		for {
			ev, err := rd.Next()
			if err != nil {
				return
			}
			p.Write(ev.Data)
		}
	})
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte("hello\xc3"), []byte("\xa9\xff\x1b[0m"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var buf bytes.Buffer
		start := time.Unix(0, 0)
		w, err := NewWriter(&buf, Header{Width: 80, Height: 24}, start)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(start.Add(time.Millisecond), Output, a)
		w.Write(start.Add(2*time.Millisecond), Output, b)
		w.Flush(start.Add(3 * time.Millisecond))
		rd, err := NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for {
			ev, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("writer produced an unreadable transcript: %v\n%s", err, buf.String())
			}
			got.WriteString(ev.Data)
		}
		// Valid UTF-8 input must come back byte for byte.
		in := string(a) + string(b)
		if strings.ToValidUTF8(in, "\ufffd") == in && got.String() != in {
			t.Fatalf("got %q, want %q", got.String(), in)
		}
	})
}
