// Package asciicast reads and writes session transcripts in the asciicast
// v2 format (https://docs.asciinema.org/manual/asciicast/v2/): one JSON
// header line, then one JSON array per event, [seconds, code, data], with
// codes "o" (output), "i" (input), "r" (resize, "COLSxROWS") and "m"
// (marker). Times are seconds since the header's timestamp and never go
// backwards.
//
// The agent writes transcripts (Writer), the server parses them as they
// stream in (Reader, for the live log stream and the plain-text .log copy),
// and the CLI replays them. Output is bytes, but asciicast strings are
// UTF-8: a multi-byte character split across two reads is joined, and bytes
// that are not UTF-8 are written as U+FFFD. That is the format's one loss.
package asciicast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event codes.
const (
	Output = "o"
	Input  = "i"
	Resize = "r"
	Marker = "m"
)

// MaxLine bounds one line of a transcript when reading. The agent's writer
// never produces lines near it: a read of 32 KiB escapes to at most 192 KiB.
const MaxLine = 1 << 20

// Header is the first line of a transcript.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// Tether names the session; asciicast players ignore unknown keys.
	Tether *Meta `json:"tether,omitempty"`
}

// Meta ties a transcript to its session.
type Meta struct {
	SessionID string `json:"sessionId"`
	Target    string `json:"target,omitempty"`
	RunAsUser string `json:"runAsUser,omitempty"`
	Document  string `json:"document,omitempty"`
}

// Event is one event line.
type Event struct {
	Time float64 // seconds since the start
	Code string
	Data string
}

// Writer writes a transcript. It is not safe for concurrent use; the agent
// serialises its calls.
type Writer struct {
	w     io.Writer
	start time.Time
	last  float64
	carry map[string][]byte // an incomplete UTF-8 sequence per code
	buf   []byte
}

// NewWriter writes the header and returns a Writer whose event times count
// from start.
func NewWriter(w io.Writer, h Header, start time.Time) (*Writer, error) {
	h.Version = 2
	if h.Timestamp == 0 {
		h.Timestamp = start.Unix()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return &Writer{w: w, start: start, carry: map[string][]byte{}}, nil
}

// Write records data under code ("o" or "i") at time now. It writes one
// line with one write call, so a process killed afterwards loses nothing
// that Write returned for.
func (cw *Writer) Write(now time.Time, code string, data []byte) error {
	if c := cw.carry[code]; len(c) > 0 {
		data = append(c, data...)
		cw.carry[code] = nil
	}
	// Keep back an incomplete trailing UTF-8 sequence for the next call.
	if tail := incompleteTail(data); tail > 0 {
		cw.carry[code] = append([]byte(nil), data[len(data)-tail:]...)
		data = data[:len(data)-tail]
	}
	// Long writes become several events, cut at character boundaries, so
	// one line never exceeds maxEventData escaped (6 bytes per byte at most).
	for len(data) > maxEventData {
		cut := maxEventData
		for cut > maxEventData-utf8.UTFMax && !utf8.RuneStart(data[cut]) {
			cut--
		}
		if err := cw.event(now, code, data[:cut]); err != nil {
			return err
		}
		data = data[cut:]
	}
	if len(data) == 0 {
		return nil
	}
	return cw.event(now, code, data)
}

// maxEventData bounds the bytes of one event.
const maxEventData = 16 << 10

// Resize records a terminal size.
func (cw *Writer) Resize(now time.Time, cols, rows int) error {
	return cw.event(now, Resize, []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

// Flush writes out what Write kept back (an incomplete UTF-8 sequence at
// the very end, as U+FFFD).
func (cw *Writer) Flush(now time.Time) error {
	for code, c := range cw.carry {
		if len(c) > 0 {
			cw.carry[code] = nil
			if err := cw.event(now, code, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (cw *Writer) event(now time.Time, code string, data []byte) error {
	t := now.Sub(cw.start).Seconds()
	if t < cw.last {
		t = cw.last // the clock stepped back: times must not
	}
	cw.last = t
	b := cw.buf[:0]
	b = append(b, '[')
	b = strconv.AppendFloat(b, t, 'f', 6, 64)
	b = append(b, `, "`...)
	b = append(b, code...)
	b = append(b, `", `...)
	b = AppendString(b, data)
	b = append(b, "]\n"...)
	cw.buf = b
	_, err := cw.w.Write(b)
	return err
}

// incompleteTail returns how many bytes at the end of b start a UTF-8
// sequence that is not finished yet.
func incompleteTail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a leading byte
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

const hexDigits = "0123456789abcdef"

// AppendString appends data to dst as a JSON string. Bytes that are not
// UTF-8 become U+FFFD; control characters are escaped.
func AppendString(dst, data []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, data[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, data[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript readers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, data[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, data[start:]...)
	return append(dst, '"')
}

// Reader reads a transcript, checking it as it goes.
type Reader struct {
	sc     *bufio.Scanner
	line   int
	last   float64
	Header Header
}

// NewReader reads and checks the header.
func NewReader(r io.Reader) (*Reader, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	rd := &Reader{sc: sc}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("asciicast header: %w", err)
		}
		return nil, errors.New("asciicast: empty transcript")
	}
	rd.line = 1
	h, err := ParseHeader(sc.Bytes())
	if err != nil {
		return nil, err
	}
	rd.Header = h
	return rd, nil
}

// ParseHeader parses and checks a header line.
func ParseHeader(line []byte) (Header, error) {
	var h Header
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("asciicast header: %w", err)
	}
	if h.Version != 2 {
		return h, fmt.Errorf("asciicast header: version %d, want 2", h.Version)
	}
	if h.Width <= 0 || h.Height <= 0 || h.Width > 10000 || h.Height > 10000 {
		return h, fmt.Errorf("asciicast header: terminal size %dx%d is not valid", h.Width, h.Height)
	}
	return h, nil
}

// Next returns the next event, or io.EOF after the last one.
func (rd *Reader) Next() (Event, error) {
	for rd.sc.Scan() {
		rd.line++
		if len(bytes.TrimSpace(rd.sc.Bytes())) == 0 {
			continue
		}
		ev, err := ParseEvent(rd.sc.Bytes())
		if err != nil {
			return ev, fmt.Errorf("asciicast line %d: %w", rd.line, err)
		}
		if ev.Time < rd.last {
			return ev, fmt.Errorf("asciicast line %d: time %.6f goes back from %.6f", rd.line, ev.Time, rd.last)
		}
		rd.last = ev.Time
		return ev, nil
	}
	if err := rd.sc.Err(); err != nil {
		return Event{}, fmt.Errorf("asciicast line %d: %w", rd.line+1, err)
	}
	return Event{}, io.EOF
}

// ParseEvent parses one event line.
func ParseEvent(line []byte) (Event, error) {
	// The server parses every line an agent sends, and again when it
	// writes the .log copy: most lines take the fast path, which accepts
	// only what encoding/json would decode to the same event.
	if ev, ok := parseEventFast(line); ok {
		return ev, nil
	}
	return parseEventJSON(line)
}

// parseEventJSON is ParseEvent through encoding/json.
func parseEventJSON(line []byte) (Event, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Event{}, fmt.Errorf("event: %w", err)
	}
	if len(raw) != 3 {
		return Event{}, fmt.Errorf("event: %d elements, want 3", len(raw))
	}
	var ev Event
	if err := json.Unmarshal(raw[0], &ev.Time); err != nil {
		return ev, errors.New("event: time is not a number")
	}
	if ev.Time < 0 || math.IsNaN(ev.Time) || math.IsInf(ev.Time, 0) {
		return ev, errors.New("event: time is negative")
	}
	if err := json.Unmarshal(raw[1], &ev.Code); err != nil || ev.Code == "" {
		return ev, errors.New("event: code is not a string")
	}
	if err := json.Unmarshal(raw[2], &ev.Data); err != nil {
		return ev, errors.New("event: data is not a string")
	}
	if ev.Code == Resize {
		if _, _, err := ParseSize(ev.Data); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// parseEventFast parses a line shaped as Writer writes them: [TIME,
// "CODE", "DATA"] with optional JSON whitespace. It gives up (ok false) on
// anything else, including what it could decode but encoding/json would
// decode differently (lone surrogates, bytes that are not UTF-8), so that
// ParseEvent's result never depends on which path took the line.
func parseEventFast(line []byte) (ev Event, ok bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '[' {
		return ev, false
	}
	i = skipSpace(line, i+1)
	j := i
	if j < len(line) && line[j] == '-' {
		return ev, false // a negative time: the JSON path says why
	}
	// A JSON number: int [frac] [exp].
	switch {
	case j < len(line) && line[j] == '0':
		j++
	case j < len(line) && line[j] >= '1' && line[j] <= '9':
		j = skipDigits(line, j)
	default:
		return ev, false
	}
	if j < len(line) && line[j] == '.' {
		k := skipDigits(line, j+1)
		if k == j+1 {
			return ev, false
		}
		j = k
	}
	if j < len(line) && (line[j] == 'e' || line[j] == 'E') {
		j++
		if j < len(line) && (line[j] == '+' || line[j] == '-') {
			j++
		}
		k := skipDigits(line, j)
		if k == j {
			return ev, false
		}
		j = k
	}
	t, err := strconv.ParseFloat(string(line[i:j]), 64)
	if err != nil || math.IsInf(t, 0) || math.IsNaN(t) {
		return ev, false
	}
	i = skipSpace(line, j)
	if i >= len(line) || line[i] != ',' {
		return ev, false
	}
	code, i, ok := fastString(line, skipSpace(line, i+1))
	if !ok || code == "" {
		return ev, false
	}
	i = skipSpace(line, i)
	if i >= len(line) || line[i] != ',' {
		return ev, false
	}
	data, i, ok := fastString(line, skipSpace(line, i+1))
	if !ok {
		return ev, false
	}
	i = skipSpace(line, i)
	if i >= len(line) || line[i] != ']' || skipSpace(line, i+1) != len(line) {
		return ev, false
	}
	ev = Event{Time: t, Code: code, Data: data}
	if ev.Code == Resize {
		if _, _, err := ParseSize(ev.Data); err != nil {
			return ev, false
		}
	}
	return ev, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// fastString decodes the JSON string starting at b[i] and returns it with
// the index after its closing quote. It gives up on bytes that are not
// UTF-8 and on \u escapes of surrogates, which encoding/json replaces.
func fastString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	i++
	start := i
	// The common case: no escapes at all.
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
		i++
	}
	if i < len(b) && b[i] == '"' {
		if !utf8.Valid(b[start:i]) {
			return "", 0, false
		}
		return string(b[start:i]), i + 1, true
	}
	out := make([]byte, 0, len(b)-start)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", 0, false
			}
			return string(out), i + 1, true
		case c < 0x20:
			return "", 0, false
		case c != '\\':
			k := i + 1
			for k < len(b) && b[k] != '"' && b[k] != '\\' && b[k] >= 0x20 {
				k++
			}
			out = append(out, b[i:k]...)
			i = k
			continue
		}
		if i+1 >= len(b) {
			return "", 0, false
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'u':
			if i+6 > len(b) {
				return "", 0, false
			}
			var r rune
			for _, h := range b[i+2 : i+6] {
				var d byte
				switch {
				case h >= '0' && h <= '9':
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", 0, false
				}
				r = r<<4 | rune(d)
			}
			if r >= 0xD800 && r <= 0xDFFF {
				return "", 0, false
			}
			out = utf8.AppendRune(out, r)
			i += 6
			continue
		default:
			return "", 0, false
		}
		i += 2
	}
	return "", 0, false
}

// ParseSize parses a resize event's "COLSxROWS".
func ParseSize(s string) (cols, rows int, err error) {
	i := bytes.IndexByte([]byte(s), 'x')
	if i < 0 {
		return 0, 0, fmt.Errorf("resize %q: want COLSxROWS", s)
	}
	cols, err1 := strconv.Atoi(s[:i])
	rows, err2 := strconv.Atoi(s[i+1:])
	if err1 != nil || err2 != nil || cols <= 0 || rows <= 0 || cols > 10000 || rows > 10000 {
		return 0, 0, fmt.Errorf("resize %q: want COLSxROWS", s)
	}
	return cols, rows, nil
}
