package datachannel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// goldenFrame builds the frame of protocol.md §3.3 byte by byte, without
// using the code under test.
func goldenFrame(typ string, schema uint32, createdMS uint64, seq int64, flags uint64, id UUID, pt uint32, payload []byte) []byte {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 116)
	b = append(b, typ...)
	b = append(b, strings.Repeat(" ", 32-len(typ))...)
	b = binary.BigEndian.AppendUint32(b, schema)
	b = binary.BigEndian.AppendUint64(b, createdMS)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = binary.BigEndian.AppendUint64(b, flags)
	b = append(b, id[8:]...)
	b = append(b, id[:8]...)
	d := sha256.Sum256(payload)
	b = append(b, d[:]...)
	b = binary.BigEndian.AppendUint32(b, pt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func TestMarshalGolden(t *testing.T) {
	id, err := ParseUUID("00112233-4455-6677-8899-aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	created := time.UnixMilli(1_700_000_000_123)
	m := Message{
		MessageType:    TypeOutputStreamData,
		SchemaVersion:  1,
		CreatedDate:    created.Add(456 * time.Microsecond), // truncated to ms on the wire
		SequenceNumber: 7,
		Flags:          1,
		MessageID:      id,
		PayloadType:    PayloadOutput,
		Payload:        []byte("hello\r\n"),
	}
	got, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := goldenFrame(TypeOutputStreamData, 1, 1_700_000_000_123, 7, 1, id, 1, []byte("hello\r\n"))
	if !bytes.Equal(got, want) {
		t.Fatalf("frame mismatch\n got %s\nwant %s", hex.EncodeToString(got), hex.EncodeToString(want))
	}

	// Field by field, at the offsets of the table in protocol.md §3.3.
	digest := sha256.Sum256([]byte("hello\r\n"))
	fields := []struct {
		name     string
		off, end int
		want     string // hex
	}{
		{"HeaderLength", 0, 4, "00000074"},
		{"MessageType", 4, 36, hex.EncodeToString([]byte("output_stream_data              "))},
		{"SchemaVersion", 36, 40, "00000001"},
		{"CreatedDate", 40, 48, "0000018bcfe5687b"},
		{"SequenceNumber", 48, 56, "0000000000000007"},
		{"Flags", 56, 64, "0000000000000001"},
		{"MessageId", 64, 80, "8899aabbccddeeff0011223344556677"},
		{"PayloadDigest", 80, 112, hex.EncodeToString(digest[:])},
		{"PayloadType", 112, 116, "00000001"},
		{"PayloadLength", 116, 120, "00000007"},
		{"Payload", 120, 127, hex.EncodeToString([]byte("hello\r\n"))},
	}
	if len(got) != 127 {
		t.Fatalf("frame length %d, want 127", len(got))
	}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			if h := hex.EncodeToString(got[f.off:f.end]); h != f.want {
				t.Errorf("bytes %d-%d = %s, want %s", f.off, f.end, h, f.want)
			}
		})
	}

	// And back.
	p, err := ParseMessage(want)
	if err != nil {
		t.Fatal(err)
	}
	if p.MessageID.String() != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Errorf("MessageID = %s", p.MessageID)
	}
	if !p.CreatedDate.Equal(created) {
		t.Errorf("CreatedDate = %v, want %v", p.CreatedDate, created)
	}
	if p.MessageType != TypeOutputStreamData || p.SequenceNumber != 7 || p.Flags != 1 ||
		p.PayloadType != PayloadOutput || p.SchemaVersion != 1 || string(p.Payload) != "hello\r\n" {
		t.Errorf("parsed %+v", p)
	}
}

func TestMarshalDefaults(t *testing.T) {
	before := time.Now().Truncate(time.Millisecond)
	m := Message{MessageType: TypeAcknowledge}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != (UUID{}) || !m.CreatedDate.IsZero() {
		t.Error("MarshalBinary modified the message")
	}
	p, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.SchemaVersion != 1 {
		t.Errorf("SchemaVersion = %d, want 1", p.SchemaVersion)
	}
	if p.MessageID == (UUID{}) {
		t.Error("MessageID left zero")
	}
	if p.CreatedDate.Before(before) || p.CreatedDate.After(time.Now()) {
		t.Errorf("CreatedDate = %v, want about now", p.CreatedDate)
	}
	if len(p.Payload) != 0 {
		t.Errorf("payload %q", p.Payload)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"empty type", Message{}},
		{"type too long", Message{MessageType: strings.Repeat("x", 33)}},
		{"leading space", Message{MessageType: " acknowledge"}},
		{"trailing NUL", Message{MessageType: "acknowledge\x00"}},
		{"payload too large", Message{MessageType: TypeAcknowledge, Payload: make([]byte, MaxMessagePayload+1)}},
		{"epoch", Message{MessageType: TypeAcknowledge, CreatedDate: time.UnixMilli(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := tt.m.AppendBinary(dst)
			if err == nil {
				t.Fatal("no error")
			}
			if string(out) != "prefix" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
	// The largest payload fits.
	m := Message{MessageType: TypeOutputStreamData, Payload: make([]byte, MaxMessagePayload)}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxFrameSize {
		t.Errorf("frame of %d bytes, want %d", len(b), MaxFrameSize)
	}
	if _, err := ParseMessage(b); err != nil {
		t.Error(err)
	}
}

func TestAppendBinaryAppends(t *testing.T) {
	m := Message{MessageType: TypeInputStreamData, Payload: []byte("x"), CreatedDate: time.UnixMilli(5)}
	out, err := m.AppendBinary([]byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:3]) != "abc" {
		t.Fatalf("prefix lost: %q", out[:3])
	}
	if _, err := ParseMessage(out[3:]); err != nil {
		t.Fatal(err)
	}
}

func randomMessage(r *rand.Rand) Message {
	types := []string{TypeInputStreamData, TypeOutputStreamData, TypeAcknowledge, TypeChannelClosed,
		TypeAgentSessionState, "x", strings.Repeat("t", 32), "with space inside"}
	var id UUID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	var payload []byte
	switch r.IntN(4) {
	case 0:
	case 1:
		payload = make([]byte, r.IntN(16))
	default:
		payload = make([]byte, r.IntN(70_000))
	}
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	return Message{
		MessageType:    types[r.IntN(len(types))],
		SchemaVersion:  1 + r.Uint32N(3),
		CreatedDate:    time.UnixMilli(1 + r.Int64N(1<<45)),
		SequenceNumber: r.Int64() - r.Int64(),
		Flags:          r.Uint64(),
		MessageID:      id,
		PayloadType:    PayloadType(r.Uint32N(13)),
		Payload:        payload,
	}
}

func messagesEqual(a, b Message) bool {
	return a.MessageType == b.MessageType &&
		a.SchemaVersion == b.SchemaVersion &&
		a.CreatedDate.Equal(b.CreatedDate) &&
		a.SequenceNumber == b.SequenceNumber &&
		a.Flags == b.Flags &&
		a.MessageID == b.MessageID &&
		a.PayloadType == b.PayloadType &&
		bytes.Equal(a.Payload, b.Payload)
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for i := range 500 {
		m := randomMessage(r)
		var err error
		buf, err = m.AppendBinary(buf[:0])
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(buf) != payloadOffset+len(m.Payload) {
			t.Fatalf("message %d: frame of %d bytes", i, len(buf))
		}
		p, err := ParseMessage(buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !messagesEqual(m, p) {
			t.Fatalf("message %d: round trip\n got %+v\nwant %+v", i, p, m)
		}
		typ, err := PeekMessageType(buf)
		if err != nil || typ != m.MessageType {
			t.Fatalf("message %d: PeekMessageType = %q, %v", i, typ, err)
		}
		seq, err := PeekSequence(buf)
		if err != nil || seq != m.SequenceNumber {
			t.Fatalf("message %d: PeekSequence = %d, %v", i, seq, err)
		}
	}
}

func TestParseTrimsType(t *testing.T) {
	tests := []struct{ field, want string }{
		{"acknowledge" + strings.Repeat("\x00", 21), "acknowledge"},
		{"\x00 acknowledge\t\r\n" + strings.Repeat(" ", 17), "acknowledge"},
		{"odd type" + strings.Repeat(" ", 24), "odd type"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b := validFrame(t)
			copy(b[4:36], tt.field)
			m, err := ParseMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.MessageType != tt.want {
				t.Errorf("MessageType = %q, want %q", m.MessageType, tt.want)
			}
		})
	}
}

func validFrame(t testing.TB) []byte {
	t.Helper()
	m := Message{MessageType: TypeOutputStreamData, PayloadType: PayloadOutput, SequenceNumber: 3, Payload: []byte("payload")}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMalformed(t *testing.T) {
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	tests := []struct {
		name       string
		mutate     func([]byte) []byte
		wantDigest bool
		peekOK     bool // the cheap header readers accept it
	}{
		{name: "empty", mutate: func(b []byte) []byte { return nil }},
		{name: "header only", mutate: func(b []byte) []byte { return b[:116] }},
		{name: "119 bytes", mutate: func(b []byte) []byte { return b[:119] }},
		{name: "too long", mutate: func(b []byte) []byte {
			m := Message{MessageType: TypeOutputStreamData, Payload: make([]byte, MaxMessagePayload)}
			f, _ := m.MarshalBinary()
			f = append(f, 0)
			binary.BigEndian.PutUint32(f[116:], uint32(len(f)-120))
			return f
		}},
		{name: "header length 0", mutate: put32(0, 0)},
		{name: "header length 120", mutate: put32(0, 120)},
		{name: "empty type", mutate: func(b []byte) []byte { copy(b[4:36], strings.Repeat(" ", 32)); return b }},
		{name: "NUL type", mutate: func(b []byte) []byte { clear(b[4:36]); return b }},
		{name: "zero created date", mutate: func(b []byte) []byte { clear(b[40:48]); return b }, peekOK: true},
		{name: "year one created date", mutate: func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[40:], uint64(time.Time{}.UnixMilli()))
			return b
		}, peekOK: true},
		{name: "payload length short", mutate: put32(116, 6)},
		{name: "payload length long", mutate: put32(116, 8)},
		{name: "payload length huge", mutate: put32(116, 0xffffffff)},
		{name: "truncated payload", mutate: func(b []byte) []byte { return b[:len(b)-1] }},
		{name: "digest", mutate: func(b []byte) []byte { b[80] ^= 1; return b }, wantDigest: true, peekOK: true},
		{name: "payload changed", mutate: func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, wantDigest: true, peekOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.mutate(validFrame(t))
			_, err := ParseMessage(b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseMessage error = %v, want ErrMalformed", err)
			}
			if got := errors.Is(err, ErrDigestMismatch); got != tt.wantDigest {
				t.Errorf("errors.Is(%v, ErrDigestMismatch) = %v", err, got)
			}
			_, perr := PeekSequence(b)
			_, terr := PeekMessageType(b)
			if tt.peekOK {
				if perr != nil || terr != nil {
					t.Errorf("peek errors %v, %v", perr, terr)
				}
			} else if !errors.Is(terr, ErrMalformed) {
				t.Errorf("PeekMessageType error = %v, want ErrMalformed", terr)
			}
		})
	}
}

func TestParseSkipsDigestForPublication(t *testing.T) {
	for _, typ := range []string{TypeStartPublication, TypePausePublication, TypeChannelClosed} {
		t.Run(typ, func(t *testing.T) {
			m := Message{MessageType: typ, Payload: []byte("{}")}
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			clear(b[80:112])
			_, err = ParseMessage(b)
			skip := typ != TypeChannelClosed
			if skip && err != nil {
				t.Errorf("ParseMessage: %v", err)
			}
			if !skip && !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("ParseMessage error = %v, want ErrDigestMismatch", err)
			}
		})
	}
}

func TestParseAliasesPayload(t *testing.T) {
	b := validFrame(t)
	m, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if &m.Payload[0] != &b[120] {
		t.Error("payload does not alias the frame")
	}
	if cap(m.Payload) != len(m.Payload) {
		t.Error("appending to the payload could overwrite the caller's buffer")
	}
}

func TestParseAllocs(t *testing.T) {
	b := validFrame(t)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseMessage(b); err != nil {
			t.Fatal(err)
		}
		if _, err := PeekMessageType(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseMessage of a known type: %v allocs, want 0", allocs)
	}
}

func TestUUID(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means invalid
	}{
		{"00112233-4455-6677-8899-aabbccddeeff", "00112233-4455-6677-8899-aabbccddeeff"},
		{"00112233-4455-6677-8899-AABBCCDDEEFF", "00112233-4455-6677-8899-aabbccddeeff"},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
		{"", ""},
		{"00112233445566778899aabbccddeeff", ""},
		{"00112233-4455-6677-8899-aabbccddeef", ""},
		{"00112233-4455-6677-8899-aabbccddeeff0", ""},
		{"0011223-44455-6677-8899-aabbccddeeff", ""},
		{"00112233-4455-6677-8899-aabbccddeefg", ""},
		{"-0112233-4455-6677-8899-aabbccddeeff", ""},
		{"{0112233-4455-6677-8899-aabbccddeef}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseUUID(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseUUID(%q) = %s, want error", tt.in, u)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tt.want {
				t.Errorf("String() = %s, want %s", u, tt.want)
			}
		})
	}
	seen := map[UUID]bool{}
	for range 100 {
		u := NewUUID()
		if u[6]>>4 != 4 || u[8]>>6 != 2 {
			t.Fatalf("%s is not a version 4 variant 1 UUID", u)
		}
		if seen[u] {
			t.Fatalf("duplicate %s", u)
		}
		seen[u] = true
		if p, err := ParseUUID(u.String()); err != nil || p != u {
			t.Fatalf("round trip %s: %s, %v", u, p, err)
		}
	}
}

func TestCreatedDateExtremes(t *testing.T) {
	// Whatever non-zero millisecond count a peer writes survives a
	// parse and re-marshal unchanged.
	for _, ms := range []uint64{1, 1 << 40, 1<<63 - 1, 1 << 63, 1<<64 - 1, uint64(time.Now().UnixMilli())} {
		t.Run(strconv.FormatUint(ms, 10), func(t *testing.T) {
			b := validFrame(t)
			binary.BigEndian.PutUint64(b[40:], ms)
			m, err := ParseMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				t.Errorf("re-marshal changed the frame: created %x, want %x", out[40:48], b[40:48])
			}
		})
	}
}
