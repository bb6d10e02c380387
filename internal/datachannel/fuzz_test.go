package datachannel

import (
	"errors"
	"math/rand/v2"
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

// FuzzMuxFeed feeds hostile bytes, cut into payloads at fuzzed points, to a
// server Mux: it must never panic or block, and cannot hand its streams
// more data than it was given. Seeds: valid wires from muxWire.
func FuzzMuxFeed(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sizes := range [][]int{{0}, {5, 70_000}, {1, 2, 3}} {
		data := make([][]byte, len(sizes))
		for i, n := range sizes {
			data[i] = make([]byte, n)
		}
		f.Add(muxWire(data, 1000, r), uint64(7))
	}
	f.Add([]byte{1, 2, 3, 0, 3, 0, 0, 0}, uint64(0)) // PSH of 3 with no body
	f.Add([]byte{2, 0, 0, 0, 3, 0, 0, 0}, uint64(0)) // version 2
	f.Fuzz(func(t *testing.T, wire []byte, seed uint64) {
		s := NewStream(Config{Role: RoleAgent})
		defer s.Close()
		m := NewMux(s, false, MuxConfig{MaxReceiveBuffer: 1 << 30})
		defer m.Close()
		r := rand.New(rand.NewPCG(seed, seed))
		for p := wire; len(p) > 0; {
			n := min(len(p), 1+r.IntN(len(wire)))
			m.feed(inMsg{pt: PayloadOutput, payload: p[:n:n]})
			p = p[n:]
		}
		m.mu.Lock()
		streams := make([]*MuxStream, 0, len(m.streams))
		for _, st := range m.streams {
			streams = append(streams, st)
		}
		m.mu.Unlock()
		total := 0
		for _, st := range streams {
			st.mu.Lock()
			for _, c := range st.bufs {
				total += len(c.b)
			}
			st.mu.Unlock()
		}
		if total > len(wire) {
			t.Fatalf("streams hold %d bytes from a wire of %d", total, len(wire))
		}
	})
}
