package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestRun runs the whole benchmark small, so that CI proves it still works:
// both agents, the transcript stored and downloaded, the table printed.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs tetherd; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, options{size: 2 << 20, rounds: 1, timeout: time.Minute}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recording on ", "recording off ", "recording on/off: throughput", "stored transcript: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWriteTextFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	const size = 1<<20 + 7
	if err := writeTextFile(path, size); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("%d bytes, want %d", len(b), size)
	}
	if !bytes.Contains(b, []byte("\x1b[")) || !bytes.Contains(b, []byte("\t")) || bytes.Count(b, []byte("\n")) < size/200 {
		t.Error("no ANSI colours, tabs or short lines")
	}
	// Valid UTF-8 but for the last line, which is cut to size.
	if i := bytes.LastIndexByte(b, '\n'); !utf8.Valid(b[:i]) {
		t.Error("not UTF-8")
	}
}
