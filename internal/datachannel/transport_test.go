package datachannel

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var errCut = errors.New("transport cut")

// memConn is one end of an in-memory frame pipe.
type memConn struct {
	in   <-chan []byte
	out  chan<- []byte
	done <-chan struct{}
}

// newPipe returns two connected transports and a function that cuts both,
// losing whatever is in flight, like a dropped websocket.
func newPipe(buffer int) (a, b *memConn, cut func()) {
	ab := make(chan []byte, buffer)
	ba := make(chan []byte, buffer)
	done := make(chan struct{})
	var once sync.Once
	return &memConn{in: ba, out: ab, done: done},
		&memConn{in: ab, out: ba, done: done},
		func() { once.Do(func() { close(done) }) }
}

func (c *memConn) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.done:
		return nil, errCut
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) WriteMessage(ctx context.Context, b []byte) error {
	// Check first, so that a cut pipe never accepts a frame.
	select {
	case <-c.done:
		return errCut
	default:
	}
	select {
	case c.out <- bytes.Clone(b):
		return nil
	case <-c.done:
		return errCut
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lossy wraps a Transport's writes: it drops, duplicates, reorders and
// corrupts (detectably) a fraction of frames.
type lossy struct {
	Transport
	drop, dup, reorder, corrupt float64

	mu   sync.Mutex
	r    *rand.Rand
	held []byte // a frame delayed until after the next one
}

func newLossy(t Transport, seed uint64, drop, dup, reorder, corrupt float64) *lossy {
	return &lossy{Transport: t, drop: drop, dup: dup, reorder: reorder, corrupt: corrupt, r: rand.New(rand.NewPCG(seed, 99))}
}

func (l *lossy) WriteMessage(ctx context.Context, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	x := l.r.Float64()
	var frames [][]byte
	switch {
	case x < l.drop:
	case x < l.drop+l.dup:
		frames = [][]byte{b, b}
	case x < l.drop+l.dup+l.reorder:
		if l.held != nil {
			frames = [][]byte{b}
		} else {
			l.held = bytes.Clone(b)
		}
	case x < l.drop+l.dup+l.reorder+l.corrupt:
		// Only the digest and the payload: the header is not integrity
		// protected by the protocol, and websockets do not corrupt.
		c := bytes.Clone(b)
		i := offDigest + l.r.IntN(len(c)-offDigest)
		if i >= offPayloadType && i < payloadOffset {
			i = offDigest
		}
		c[i] ^= 1 << l.r.IntN(8)
		frames = [][]byte{c}
	default:
		frames = [][]byte{b}
	}
	if len(frames) > 0 && l.held != nil {
		frames = append(frames, l.held)
		l.held = nil
	}
	for _, f := range frames {
		if err := l.Transport.WriteMessage(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// rawPeer drives one end of a pipe by hand.
type rawPeer struct {
	t    testing.TB
	conn *memConn
}

func (p rawPeer) read() Message {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := p.conn.ReadMessage(ctx)
	if err != nil {
		p.t.Fatalf("raw peer read: %v", err)
	}
	m, err := ParseMessage(b)
	if err != nil {
		p.t.Fatalf("raw peer parse: %v", err)
	}
	return m
}

// runWithRawPeer runs a new Stream on one end of a pipe and returns it with
// a rawPeer on the other end.
func runWithRawPeer(t *testing.T, cfg Config) (*Stream, rawPeer) {
	t.Helper()
	s := NewStream(cfg)
	t.Cleanup(func() { s.Close() })
	a, b, cut := newPipe(1000)
	t.Cleanup(cut)
	run(t, s, a)
	return s, rawPeer{t, b}
}

// readUntil reads frames until f returns true.
func (p rawPeer) readUntil(f func(Message) bool) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if f(p.read()) {
			return
		}
	}
	p.t.Fatal("raw peer: condition not met before the deadline")
}

func (p rawPeer) write(m Message) {
	p.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		p.t.Fatal(err)
	}
	p.writeRaw(b)
}

func (p rawPeer) writeRaw(b []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.conn.WriteMessage(ctx, b); err != nil {
		p.t.Fatalf("raw peer write: %v", err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, not synchronisation
	}
}

// checkLeaks fails the test if goroutines started during it are still
// running once its cleanups (registered later, so run earlier) are done.
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// run starts s.Run in the background and returns a channel with its result.
// The test's cleanup cancels it and waits.
func run(t *testing.T, s *Stream, tr Transport) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { done <- s.Run(ctx, tr) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return done
}

func waitErr(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

func TestLossyTransportHelpers(t *testing.T) {
	// The fault injector itself: everything it delivers parses or is one
	// of its corruptions, and it does lose, repeat and reorder.
	a, b, cut := newPipe(10_000)
	defer cut()
	l := newLossy(a, 1, 0.1, 0.1, 0.1, 0.1)
	for i := range 1000 {
		m := Message{MessageType: TypeInputStreamData, SequenceNumber: int64(i), Payload: []byte(strings.Repeat("x", 10))}
		f, _ := m.MarshalBinary()
		if err := l.WriteMessage(t.Context(), f); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]int{}
	reordered, corrupt, last := 0, 0, int64(-1)
	for len(b.in) > 0 {
		f, _ := b.ReadMessage(t.Context())
		m, err := ParseMessage(f)
		if err != nil {
			corrupt++
			continue
		}
		if m.SequenceNumber < last {
			reordered++
		}
		last = m.SequenceNumber
		seen[m.SequenceNumber]++
	}
	dups := 0
	for _, n := range seen {
		if n > 1 {
			dups++
		}
	}
	if len(seen) > 950 || dups == 0 || reordered == 0 || corrupt == 0 {
		t.Errorf("distinct %d, duplicated %d, reordered %d, corrupt %d", len(seen), dups, reordered, corrupt)
	}
}
