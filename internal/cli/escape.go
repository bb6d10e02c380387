package cli

// escapeFilter implements ssh's `~.` escape on terminal input: a `~` at the
// start of a line is held back; `~.` ends the session, `~~` sends one `~`,
// and `~` followed by anything else sends both.
type escapeFilter struct {
	started bool // false at the start of a line
	tilde   bool // a `~` at line start is pending
}

// filter returns the bytes to send and whether the user asked to quit.
func (f *escapeFilter) filter(in []byte) (out []byte, quit bool) {
	out = make([]byte, 0, len(in)+1)
	for _, b := range in {
		if f.tilde {
			f.tilde = false
			switch b {
			case '.':
				return out, true
			case '~':
				out = append(out, '~')
				f.started = true
				continue
			default:
				out = append(out, '~')
			}
		} else if !f.started && b == '~' {
			f.tilde = true
			continue
		}
		out = append(out, b)
		f.started = !(b == '\r' || b == '\n')
	}
	return out, false
}
