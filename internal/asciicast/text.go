package asciicast

import (
	"bufio"
	"io"
	"strings"
)

// Plain turns terminal output into plain text, as a reader of a log wants
// it: escape sequences (colours, cursor movement, window titles) and
// carriage returns are removed, a backspace erases the character before it,
// tabs stay. It keeps state across calls, so a sequence split between two
// output events is still removed.
type Plain struct {
	state int // 0 text, 1 after ESC, 2 in CSI, 3 in OSC/DCS string, 4 ESC inside a string
	line  []byte
}

// Write adds output and returns the lines it completed (without "\n").
func (p *Plain) Write(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch p.state {
		case 1: // after ESC
			switch c {
			case '[':
				p.state = 2
			case ']', 'P', 'X', '^', '_':
				p.state = 3
			case '(', ')', '*', '+', '#', '%':
				// A charset designation takes one more byte: drop it too.
				if i+1 < len(s) {
					i++
				}
				p.state = 0
			default:
				p.state = 0
			}
			continue
		case 2: // CSI: parameters until a final byte 0x40–0x7e
			if c >= 0x40 && c <= 0x7e {
				p.state = 0
			}
			continue
		case 3: // a string, ended by BEL or ESC \
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
		if c >= 0x20 && c != 0x7f {
			// A run of text, added at once.
			k := i + 1
			for k < len(s) && s[k] >= 0x20 && s[k] != 0x7f {
				k++
			}
			p.line = append(p.line, s[i:k]...)
			i = k - 1
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
				// Erase one character, which may be several bytes.
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

// Clone returns a copy that shares no memory with p.
func (p Plain) Clone() Plain {
	p.line = append([]byte(nil), p.line...)
	return p
}

// Reset drops the unfinished last line.
func (p *Plain) Reset() { p.line = p.line[:0] }

// Pending returns the unfinished last line.
func (p *Plain) Pending() string { return string(p.line) }

// LogLine shapes a line the way AWS's CloudWatch session stream does: tabs
// become spaces.
func LogLine(s string) string { return strings.ReplaceAll(s, "\t", " ") }

// WritePlain writes a transcript's output as plain-text lines (the .log
// copy of a transcript).
func WritePlain(w io.Writer, cast io.Reader) error {
	rd, err := NewReader(cast)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	var p Plain
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if ev.Code != Output {
			continue
		}
		for _, l := range p.Write(ev.Data) {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	if rest := p.Pending(); rest != "" {
		bw.WriteString(rest)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
