package datachannel

import (
	"errors"
	"testing"
)

// FuzzParseMessage checks that ParseMessage never panics, that the header
// readers agree with it, and that whatever parses survives a re-marshal.
// The seed corpus is in testdata/fuzz/FuzzParseMessage.
func FuzzParseMessage(f *testing.F) {
	f.Add(validFrame(f))
	f.Add(validFrame(f)[:119])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		typ, terr := PeekMessageType(b)
		seq, serr := PeekSequence(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if terr != nil || serr != nil || typ != m.MessageType || seq != m.SequenceNumber {
			t.Fatalf("peek = %q, %d, %v, %v; parse = %q, %d", typ, seq, terr, serr, m.MessageType, m.SequenceNumber)
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("re-marshal %+v: %v", m, err)
		}
		m2, err := ParseMessage(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		// Marshal fills these defaults.
		if m.SchemaVersion == 0 {
			m.SchemaVersion = 1
		}
		if m.MessageID == (UUID{}) {
			m.MessageID = m2.MessageID
		}
		if !messagesEqual(m, m2) {
			t.Fatalf("re-parse differs\n got %+v\nwant %+v", m2, m)
		}
	})
}
