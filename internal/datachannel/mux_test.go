package datachannel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/xtaci/smux"
)

// muxPair connects a client and an agent Stream over an in-memory pipe,
// with faults in both directions when lossy.
func muxPair(t *testing.T, lossy bool) (client, agent *Stream) {
	t.Helper()
	client = NewStream(Config{Role: RoleClient, MaxPayload: SmuxPayload})
	agent = NewStream(Config{Role: RoleAgent, MaxPayload: SmuxPayload})
	a, b, cut := newPipe(64)
	t.Cleanup(cut)
	f := faults{}
	if lossy {
		f = faults{drop: 0.02, dup: 0.02, reorder: 0.02, corrupt: 0.01}
	}
	run(t, client, batcher{f.wrap(a, 1)})
	run(t, agent, batcher{f.wrap(b, 2)})
	t.Cleanup(func() { client.Close(); agent.Close() })
	return client, agent
}

// muxes returns a client Mux (64 KiB frames) and a server Mux with srvCfg
// over a reliable muxPair, closed when the test ends.
func muxes(t *testing.T, srvCfg MuxConfig) (cli, srv *Mux) {
	t.Helper()
	cs, as := muxPair(t, false)
	cli = NewMux(cs, true, MuxConfig{MaxFrameSize: SmuxFrameSize})
	srv = NewMux(as, false, srvCfg)
	t.Cleanup(func() { cli.Close(); srv.Close() })
	return cli, srv
}

// batcher makes a Transport a BatchWriter, so that Stream's batched acks
// are exercised too.
type batcher struct{ Transport }

func (b batcher) WriteMessages(ctx context.Context, frames [][]byte) error {
	for _, f := range frames {
		if err := b.WriteMessage(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// muxEnd is what the tests need of either implementation's session.
type muxEnd struct {
	open   func() (io.ReadWriteCloser, error)
	accept func() (io.ReadWriteCloser, error)
	close  func()
}

func ourMux(s *Stream, client bool, cfg MuxConfig) muxEnd {
	m := NewMux(s, client, cfg)
	return muxEnd{
		open:   func() (io.ReadWriteCloser, error) { return m.OpenStream() },
		accept: func() (io.ReadWriteCloser, error) { return m.AcceptStream() },
		close:  func() { m.Close() },
	}
}

// smuxEnd is xtaci/smux v1 over a Conn, as the official plugin and agent
// run it (default frame size, keep-alive on).
func smuxEnd(t *testing.T, s *Stream, client bool) muxEnd {
	t.Helper()
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	conn := NewConn(s, nil)
	var sess *smux.Session
	var err error
	if client {
		sess, err = smux.Client(conn, cfg)
	} else {
		sess, err = smux.Server(conn, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return muxEnd{
		open:   func() (io.ReadWriteCloser, error) { return sess.OpenStream() },
		accept: func() (io.ReadWriteCloser, error) { return sess.AcceptStream() },
		close:  func() { sess.Close(); conn.Close() },
	}
}

// echoServer accepts streams and echoes each until EOF, then closes it.
func echoServer(t *testing.T, srv muxEnd, wg *sync.WaitGroup) {
	wg.Go(func() {
		for {
			st, err := srv.accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				io.Copy(st, st)
				st.Close()
			})
		}
	})
}

// exchange sends size random bytes on a new stream, reads the echo
// concurrently, and checks it.
func exchange(cli muxEnd, size int, seed uint64) error {
	st, err := cli.open()
	if err != nil {
		return err
	}
	defer st.Close()
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(data)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(st, int64(size)))
		got <- b
	}()
	// Uneven writes, so frames of every size cross; on odd streams, uneven
	// reads by CopyIn (MuxStream.ReadFrom) instead.
	if seed%2 == 1 {
		n, err := CopyIn(st, &unevenReader{data: data, seed: seed})
		if err != nil || n != int64(size) {
			return fmt.Errorf("stream %d: CopyIn copied %d of %d bytes: %v", seed, n, size, err)
		}
	}
	for p := data; len(p) > 0 && seed%2 == 0; {
		n := min(len(p), 1+int(seed*7919+uint64(len(p)))%200_000)
		if _, err := st.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, data) {
			return fmt.Errorf("stream %d: echo of %d bytes differs (got %d bytes, sha %x)", seed, size, len(b), sha256.Sum256(b))
		}
	case <-time.After(60 * time.Second):
		return fmt.Errorf("stream %d: no echo", seed)
	}
	return nil
}

// unevenReader returns data in reads of varying sizes, up to 100 KB, and
// its last bytes together with io.EOF.
type unevenReader struct {
	data []byte
	seed uint64
}

func (r *unevenReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+int(r.seed*7919+uint64(len(r.data)))%100_000)], r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func TestMux(t *testing.T) {
	cases := []struct {
		name           string
		client, server func(t *testing.T, s *Stream) muxEnd
		lossy          bool
	}{
		{name: "ours both ends", client: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, true, MuxConfig{MaxFrameSize: SmuxFrameSize})
		}, server: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, false, MuxConfig{MaxFrameSize: SmuxFrameSize, MaxReceiveBuffer: 256 << 10})
		}},
		{name: "ours both ends, lossy transport", lossy: true, client: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, true, MuxConfig{MaxFrameSize: SmuxFrameSize})
		}, server: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, false, MuxConfig{MaxFrameSize: SmuxFrameSize})
		}},
		{name: "smux client, our server with keep-alive", client: func(t *testing.T, s *Stream) muxEnd {
			return smuxEnd(t, s, true)
		}, server: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, false, MuxConfig{MaxFrameSize: SmuxFrameSize, KeepAlive: true})
		}},
		{name: "our client, smux server", client: func(t *testing.T, s *Stream) muxEnd {
			return ourMux(s, true, MuxConfig{MaxFrameSize: SmuxFrameSize})
		}, server: func(t *testing.T, s *Stream) muxEnd {
			return smuxEnd(t, s, false)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			cs, as := muxPair(t, tc.lossy)
			cli, srv := tc.client(t, cs), tc.server(t, as)
			var wg sync.WaitGroup
			t.Cleanup(func() { cli.close(); srv.close(); wg.Wait() })
			echoServer(t, srv, &wg)

			sizes := []int{0, 1, 8, 65535, 65536, 300_000, 3 << 20}
			errs := make(chan error, len(sizes))
			var cwg sync.WaitGroup
			for i, n := range sizes {
				cwg.Go(func() { errs <- exchange(cli, n, uint64(i+1)) })
			}
			cwg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestMuxEnds: FIN gives the reader EOF after the data; closing the session
// ends every stream; a closed stream refuses writes.
func TestMuxEnds(t *testing.T) {
	checkLeaks(t)
	cs, as := muxPair(t, false)
	cli := NewMux(cs, true, MuxConfig{MaxFrameSize: SmuxFrameSize})
	srv := NewMux(as, false, MuxConfig{MaxFrameSize: SmuxFrameSize})
	defer cli.Close()
	defer srv.Close()

	a, err := cli.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != 3 {
		t.Errorf("first client stream id %d, want 3 as smux", a.ID())
	}
	b, err := srv.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("last words"))
	a.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last words" {
		t.Fatalf("after FIN: %q, %v", got, err)
	}
	if _, err := a.Write([]byte("x")); err != io.ErrClosedPipe {
		t.Fatalf("write on a closed stream: %v", err)
	}
	b.Close()

	c, _ := cli.OpenStream()
	d, _ := srv.AcceptStream()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(d)
		done <- err
	}()
	srv.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a read did not end with its session")
	}
	if _, err := srv.AcceptStream(); err != ErrMuxClosed {
		t.Fatalf("accept after close: %v", err)
	}
	c.Close()

	// The client's session ends when its Stream does.
	cs.Close()
	select {
	case <-cli.CloseChan():
	case <-time.After(10 * time.Second):
		t.Fatal("the mux outlived its stream")
	}
}

// TestMuxBackpressure: a stream nobody reads holds at most the receive
// budget; the rest waits in the sender's window, and all of it arrives once
// read.
func TestMuxBackpressure(t *testing.T) {
	checkLeaks(t)
	const budget = 512 << 10
	cli, srv := muxes(t, MuxConfig{MaxReceiveBuffer: budget})
	a, _ := cli.OpenStream()
	b, _ := srv.AcceptStream()
	const size = 32 << 20
	written := make(chan error, 1)
	go func() {
		_, err := a.Write(make([]byte, size))
		written <- err
	}()
	// Let the sender run into the limits.
	time.Sleep(500 * time.Millisecond)
	held := int64(budget) - srv.bucket.Load()
	if held > budget+SmuxFrameSize+muxFrameCost {
		t.Fatalf("the receiver holds %d bytes, budget %d", held, budget)
	}
	if st := srv.s.Stats(); st.Buffered > defaultMaxBufferedBytes+int64(SmuxPayload)+HeaderLength {
		t.Fatalf("the stream buffers %d bytes", st.Buffered)
	}
	select {
	case err := <-written:
		t.Fatalf("all %d bytes were taken without a reader: %v", size, err)
	default:
	}
	n, err := io.Copy(io.Discard, io.LimitReader(b, size))
	if n != size || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}

// muxWire builds the smux v1 byte stream of a client that opens one stream
// per entry of data, interleaves their PSH frames (at most maxFrame bytes
// each, with NOPs and a smux v2 UPD between), and FINs each stream after its
// data.
func muxWire(data [][]byte, maxFrame int, r *rand.Rand) []byte {
	frame := func(dst []byte, cmd byte, id uint32, body []byte) []byte {
		dst = append(dst, muxVersion, cmd, byte(len(body)), byte(len(body)>>8),
			byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
		return append(dst, body...)
	}
	var w []byte
	left := make([][]byte, len(data))
	for i, d := range data {
		w = frame(w, muxSYN, uint32(3+2*i), nil)
		left[i] = d
	}
	for open := len(data); open > 0; {
		i := r.IntN(len(data))
		if left[i] == nil {
			continue
		}
		id := uint32(3 + 2*i)
		switch {
		case len(left[i]) == 0:
			w = frame(w, muxFIN, id, nil)
			left[i] = nil
			open--
		case r.IntN(10) == 0:
			w = frame(w, muxNOP, 0, nil)
		case r.IntN(20) == 0:
			w = frame(w, muxUPD, id, make([]byte, 8))
		default:
			n := min(len(left[i]), 1+r.IntN(maxFrame))
			w = frame(w, muxPSH, id, left[i][:n])
			left[i] = left[i][n:]
		}
	}
	return w
}

// TestMuxSplitFrames: smux frames may start and end anywhere in the
// data-channel payloads (the official plugin's frames are not aligned with
// its messages); every way of cutting them delivers the same bytes.
func TestMuxSplitFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		data := make([][]byte, 1+r.IntN(5))
		for i := range data {
			data[i] = make([]byte, r.IntN(200_000))
			for j := range data[i] {
				data[i][j] = byte(r.IntN(256))
			}
		}
		wire := muxWire(data, SmuxFrameSize, r)
		s := NewStream(Config{Role: RoleAgent})
		m := NewMux(s, false, MuxConfig{MaxReceiveBuffer: 64 << 20})
		var wg sync.WaitGroup
		got := make([][]byte, len(data))
		// Cut the wire: round 0 at every frame-sized step, the others at
		// random points from 1 byte to a few frames.
		for p := wire; len(p) > 0; {
			n := 1 + r.IntN(3*SmuxFrameSize)
			if round%4 == 1 {
				n = 1 + r.IntN(16)
			}
			n = min(n, len(p))
			chunk := append([]byte(nil), p[:n]...)
			m.feed(inMsg{pt: PayloadOutput, payload: chunk})
			p = p[n:]
		}
		for range data {
			st, err := m.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			i := (int(st.ID()) - 3) / 2
			wg.Go(func() { got[i], _ = io.ReadAll(st) })
		}
		wg.Wait()
		for i := range data {
			if !bytes.Equal(got[i], data[i]) {
				t.Fatalf("round %d stream %d: got %d bytes, want %d (equal prefix: %v)", round, 3+2*i, len(got[i]), len(data[i]),
					bytes.HasPrefix(data[i], got[i]))
			}
		}
		if m.IsClosed() {
			t.Fatalf("round %d: the mux ended: %v", round, m.err)
		}
		m.Close()
		s.Close()
	}
}

// TestMuxDirectToSocket: a stream copied into a TCP socket (io.Copy, as the
// agent and the CLI do) gets its data written by the Mux's reader while the
// socket has room, and queued while it has not; either way the socket
// receives every byte in order, and WriteTo counts them all.
func TestMuxDirectToSocket(t *testing.T) {
	checkLeaks(t)
	cli, srv := muxes(t, MuxConfig{MaxFrameSize: SmuxFrameSize})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name  string
		size  int
		write int           // bytes per Write on the client stream
		stall time.Duration // before the socket's reader starts
	}{
		{"echo-sized writes", 2000, 1, 0},
		{"bulk into a stalled reader", 24 << 20, 1 << 20, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			rand.NewChaCha8([32]byte{byte(tc.size)}).Read(data)
			a, err := cli.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			b, err := srv.AcceptStream()
			if err != nil {
				t.Fatal(err)
			}
			dial, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer dial.Close()
			peer, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			copied := make(chan int64, 1)
			go func() {
				n, _ := io.Copy(dial, b) // MuxStream.WriteTo into a *net.TCPConn
				dial.(*net.TCPConn).CloseWrite()
				copied <- n
			}()
			go func() {
				for p := data; len(p) > 0; {
					n := min(len(p), tc.write)
					if _, err := a.Write(p[:n]); err != nil {
						return
					}
					p = p[n:]
				}
				a.Close()
			}()
			time.Sleep(tc.stall)
			got, err := io.ReadAll(peer)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("socket got %d bytes, want %d (prefix equal: %v)", len(got), len(data), bytes.HasPrefix(data, got))
			}
			if n := <-copied; n != int64(tc.size) {
				t.Fatalf("WriteTo returned %d, want %d", n, tc.size)
			}
			b.mu.Lock()
			queued := len(b.bufs)
			b.mu.Unlock()
			if queued != 0 {
				t.Fatalf("%d chunks left queued", queued)
			}
			b.sinkMu.Lock()
			sunk := b.sunk
			b.sinkMu.Unlock()
			if tc.stall == 0 && sunk == 0 {
				t.Error("no byte went straight from the reader to the socket")
			}
		})
	}
}

// TestMuxSYNFlood: SYNs beyond the accept backlog are refused from one
// goroutine, even when the peer never acks the FINs that refuse them; the
// reader is never blocked, and closing the Mux ends it all.
func TestMuxSYNFlood(t *testing.T) {
	checkLeaks(t)
	s := NewStream(Config{Role: RoleAgent}) // no transport: nothing is ever acked
	defer s.Close()
	m := NewMux(s, false, MuxConfig{})
	before := runtime.NumGoroutine()
	const syns = muxAccepts + 3*maxInFlight
	wire := make([]byte, 0, syns*muxHeaderSize)
	for id := range uint32(syns) {
		wire = append(wire, muxVersion, muxSYN, 0, 0)
		wire = binary.LittleEndian.AppendUint32(wire, 2*id+1)
	}
	done := make(chan struct{})
	go func() {
		m.feed(inMsg{pt: PayloadOutput, payload: wire})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("feeding SYNs blocked the reader")
	}
	if n := runtime.NumGoroutine(); n > before+10 {
		t.Fatalf("%d goroutines after %d SYNs, %d before", n, syns, before)
	}
	if got := len(m.accepts); got != muxAccepts {
		t.Fatalf("%d streams wait to be accepted, want %d", got, muxAccepts)
	}
	m.mu.Lock()
	open := len(m.streams)
	m.mu.Unlock()
	// The backlog's streams, and at most one refusal under way and a
	// backlog of refusals waiting for their FIN; the rest were dropped.
	if open > 2*muxAccepts+1 {
		t.Fatalf("%d streams still open", open)
	}
	m.Close()
}
