package cli

import "testing"

func TestEscapeFilter(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string // successive reads from the terminal
		want   string   // everything sent, up to the quit
		quit   bool
	}{
		{"plain text", []string{"ls -l\r"}, "ls -l\r", false},
		{"tilde dot at session start quits", []string{"~."}, "", true},
		{"tilde dot after CR quits", []string{"ls\r~."}, "ls\r", true},
		{"tilde dot after LF quits", []string{"ls\n~."}, "ls\n", true},
		{"bytes after the quit are dropped", []string{"echo\r~.rm -rf\r"}, "echo\r", true},
		{"tilde dot mid-line passes through", []string{"ab~."}, "ab~.", false},
		{"tilde mid-line passes through", []string{"a~b~~"}, "a~b~~", false},
		{"double tilde sends one", []string{"~~"}, "~", false},
		{"double tilde then dot does not quit", []string{"~~."}, "~.", false},
		{"double tilde leaves line start", []string{"~~~."}, "~~.", false},
		{"tilde then other sends both", []string{"~x"}, "~x", false},
		{"tilde then CR sends both and stays at line start", []string{"~\r~."}, "~\r", true},
		{"tilde then tilde-dot on next line", []string{"~~\r~."}, "~\r", true},
		{"split tilde and dot", []string{"~", "."}, "", true},
		{"split after newline", []string{"ls\r", "~", "."}, "ls\r", true},
		{"split double tilde", []string{"~", "~", "."}, "~.", false},
		{"split tilde and other", []string{"~", "x"}, "~x", false},
		{"split line end and tilde", []string{"ab", "\n~", "."}, "ab\n", true},
		{"empty reads keep state", []string{"~", "", "."}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f escapeFilter
			var got []byte
			quit := false
			for i, c := range tt.chunks {
				out, q := f.filter([]byte(c))
				got = append(got, out...)
				if q {
					if i != len(tt.chunks)-1 {
						t.Fatalf("quit after chunk %d of %d", i+1, len(tt.chunks))
					}
					quit = true
					break
				}
			}
			if string(got) != tt.want || quit != tt.quit {
				t.Errorf("filter(%q) = %q, quit %v; want %q, quit %v", tt.chunks, got, quit, tt.want, tt.quit)
			}
		})
	}
}

func TestEscapeFilterHoldsTildeUntilNextByte(t *testing.T) {
	var f escapeFilter
	out, quit := f.filter([]byte("~"))
	if len(out) != 0 || quit {
		t.Fatalf("filter(~) = %q, %v; want the tilde held back", out, quit)
	}
}
