package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
)

// writeTextFile writes size bytes of text shaped like a busy terminal: log
// lines, `ls --color` style listings with ANSI colour codes, tab-separated
// tables and some non-ASCII UTF-8 (arrows, accents, box drawing). The same
// size always gives the same file, readable by every user.
func writeTextFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(6, 1))
	words := make([]string, 512)
	for i := range words {
		b := make([]byte, 2+r.IntN(9))
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyz"[r.IntN(26)]
		}
		words[i] = string(b)
	}
	colours := []string{"31", "32", "33", "34", "1;34", "35", "36", "1;32", "01;31"}
	levels := []string{"INFO ", "DEBUG", "WARN ", "ERROR"}
	unicode := []string{"→", "é", "│", "✓", "ü", "—", "…", "日本"}
	var line []byte
	sentence := func(n int) {
		for i := 0; i < n; i++ {
			if i > 0 {
				line = append(line, ' ')
			}
			if r.IntN(40) == 0 {
				line = append(line, unicode[r.IntN(len(unicode))]...)
			}
			line = append(line, words[r.IntN(len(words))]...)
		}
	}
	var written int64
	for n := 0; written < size; n++ {
		line = line[:0]
		switch k := r.IntN(10); {
		case k < 6: // a log line
			line = fmt.Appendf(line, "2025-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s[%d]: ",
				1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000),
				levels[r.IntN(len(levels))], words[r.IntN(len(words))], 100+r.IntN(30000))
			sentence(3 + r.IntN(15))
		case k < 8: // coloured names, as ls --color prints them
			for i := 0; i < 1+r.IntN(6); i++ {
				line = fmt.Appendf(line, "\x1b[%sm%s.%s\x1b[0m  ", colours[r.IntN(len(colours))],
					words[r.IntN(len(words))], words[r.IntN(8)])
			}
		case k < 9: // a table
			line = fmt.Appendf(line, "%d\t%s\t%d.%d%%\t", r.IntN(99999), words[r.IntN(len(words))], r.IntN(100), r.IntN(10))
			sentence(2)
		default: // a coloured status
			line = fmt.Appendf(line, "\x1b[1m[%4d/%d]\x1b[0m \x1b[32m✓\x1b[0m ", n%10000, 10000)
			sentence(1 + r.IntN(8))
		}
		line = append(line, '\n')
		if rest := size - written; int64(len(line)) > rest {
			line = line[:rest]
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return err
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
