package datachannel

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Mux multiplexes connections over a Stream's Output payloads with the
// smux protocol version 1 (protocol.md §4.2), wire-compatible with
// github.com/xtaci/smux v1.5.x as the official plugin and agent use it:
// frames of ver(1)=1 | cmd(1) | length(2, LE) | streamId(4, LE) | data, with
// SYN, FIN, PSH and NOP. Like smux v1 it has no per-stream window: when
// MaxReceiveBuffer bytes wait for readers it stops reading the Stream, and
// the data channel pushes back on the sender.
//
// It exists for speed. smux hands every frame to two goroutines (a shaper
// and a sender) and waits for their answer; a Mux stream writes each frame
// from the caller as one message (sent at once when the data channel is
// idle), and readers take received frames without a copy into a session
// buffer first.
type Mux struct {
	s      *Stream
	conn   *Conn
	cfg    MuxConfig
	client bool
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	streams map[uint32]*MuxStream
	nextID  uint32
	err     error // why the Mux ended

	accepts chan *MuxStream
	die     chan struct{}
	dieOnce sync.Once

	// Receive budget, as smux's bucket: bytes waiting for readers.
	bucket     atomic.Int64
	bucketWake chan struct{}
	dataReady  atomic.Bool // a frame arrived since the last keep-alive check
}

// MuxConfig configures a Mux. Zero fields take smux's defaults.
type MuxConfig struct {
	// MaxFrameSize bounds the data of a frame written; at most 65535.
	MaxFrameSize int
	// MaxReceiveBuffer is the receive budget of the whole session.
	MaxReceiveBuffer int
	// KeepAlive sends a NOP every KeepAliveInterval and ends the Mux when
	// nothing arrived for KeepAliveTimeout, as smux does unless disabled.
	KeepAlive         bool
	KeepAliveInterval time.Duration
	KeepAliveTimeout  time.Duration
	// OnOther receives Stream payloads that are not Output (flags); it is
	// called from the Mux's reader goroutine and may keep the payload.
	OnOther func(PayloadType, []byte)
}

const (
	muxVersion = 1

	muxSYN = 0
	muxFIN = 1
	muxPSH = 2
	muxNOP = 3
	muxUPD = 4 // smux v2; skipped

	muxHeaderSize = 8
	muxAccepts    = 1024

	// Received frames at least this large are read into pooled buffers of
	// SmuxFrameSize; smaller ones get their own (a flood of tiny frames
	// must not pin 64 KiB each).
	muxPoolMin = 16 << 10
	// muxFrameCost is what a received frame costs the budget beyond its
	// data, so that empty or tiny frames cannot queue without bound.
	muxFrameCost = 64
)

var (
	// ErrMuxClosed is returned by operations on a closed Mux or MuxStream.
	ErrMuxClosed = errors.New("datachannel: mux closed")
	// ErrMuxProtocol means the peer sent something that is not smux v1.
	ErrMuxProtocol = errors.New("datachannel: invalid smux frame")
)

var muxPool = sync.Pool{New: func() any {
	b := make([]byte, SmuxFrameSize)
	return &b
}}

// NewMux starts a Mux over s: the client opens streams (odd ids, as
// smux's client), the server accepts them. The Mux reads s until Close or
// until s is closed; closing the Mux does not close s.
func NewMux(s *Stream, client bool, cfg MuxConfig) *Mux {
	if cfg.MaxFrameSize <= 0 || cfg.MaxFrameSize > SmuxFrameSize {
		cfg.MaxFrameSize = 32768
	}
	if cfg.MaxReceiveBuffer <= 0 {
		cfg.MaxReceiveBuffer = 4 << 20
	}
	if cfg.KeepAliveInterval <= 0 {
		cfg.KeepAliveInterval = 10 * time.Second
	}
	if cfg.KeepAliveTimeout <= 0 {
		cfg.KeepAliveTimeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{
		s: s, cfg: cfg, client: client, ctx: ctx, cancel: cancel,
		streams:    map[uint32]*MuxStream{},
		accepts:    make(chan *MuxStream, muxAccepts),
		die:        make(chan struct{}),
		bucketWake: make(chan struct{}, 1),
	}
	if client {
		m.nextID = 1 // the first stream is 3, as smux's client
	}
	m.bucket.Store(int64(cfg.MaxReceiveBuffer))
	m.conn = NewConn(s, cfg.OnOther)
	go m.recvLoop()
	if cfg.KeepAlive {
		go m.keepAlive()
	}
	return m
}

// Close ends the Mux and every stream; it does not close the Stream.
func (m *Mux) Close() error {
	m.closeWith(ErrMuxClosed)
	return nil
}

func (m *Mux) closeWith(err error) {
	m.dieOnce.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.die)
		m.cancel()
		m.conn.Close()
	})
}

// CloseChan is closed when the Mux ends.
func (m *Mux) CloseChan() <-chan struct{} { return m.die }

// IsClosed reports whether the Mux has ended.
func (m *Mux) IsClosed() bool {
	select {
	case <-m.die:
		return true
	default:
		return false
	}
}

// OpenStream opens a stream to the peer.
func (m *Mux) OpenStream() (*MuxStream, error) {
	m.mu.Lock()
	if m.IsClosed() {
		m.mu.Unlock()
		return nil, ErrMuxClosed
	}
	m.nextID += 2
	st := m.newStreamLocked(m.nextID)
	m.mu.Unlock()
	if err := m.writeFrame(muxSYN, st.id, nil); err != nil {
		m.remove(st)
		return nil, err
	}
	return st, nil
}

// AcceptStream waits for a stream the peer opened.
func (m *Mux) AcceptStream() (*MuxStream, error) {
	select {
	case st := <-m.accepts:
		return st, nil
	case <-m.die:
		return nil, ErrMuxClosed
	}
}

func (m *Mux) newStreamLocked(id uint32) *MuxStream {
	ctx, cancel := context.WithCancel(m.ctx)
	st := &MuxStream{m: m, id: id, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), fin: make(chan struct{}), die: make(chan struct{})}
	m.streams[id] = st
	return st
}

func (m *Mux) remove(st *MuxStream) {
	m.mu.Lock()
	if m.streams[st.id] == st {
		delete(m.streams, st.id)
	}
	m.mu.Unlock()
}

// writeFrame sends one frame as one message.
func (m *Mux) writeFrame(cmd byte, id uint32, data []byte) error {
	var h [muxHeaderSize]byte
	h[0], h[1] = muxVersion, cmd
	binary.LittleEndian.PutUint16(h[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(h[4:], id)
	if err := m.s.sendChunk(m.ctx, PayloadOutput, h[:], data); err != nil {
		if m.IsClosed() {
			return ErrMuxClosed
		}
		return err
	}
	return nil
}

// recvLoop reads frames until the Stream ends or the peer breaks the
// protocol.
func (m *Mux) recvLoop() {
	var h [muxHeaderSize]byte
	for {
		for m.bucket.Load() <= 0 {
			select {
			case <-m.bucketWake:
			case <-m.die:
				return
			}
		}
		if _, err := io.ReadFull(m.conn, h[:]); err != nil {
			m.closeWith(ErrMuxClosed)
			return
		}
		m.dataReady.Store(true)
		if h[0] != muxVersion {
			m.closeWith(ErrMuxProtocol)
			return
		}
		n := int(binary.LittleEndian.Uint16(h[2:]))
		id := binary.LittleEndian.Uint32(h[4:])
		switch h[1] {
		case muxNOP:
		case muxSYN:
			m.mu.Lock()
			if _, ok := m.streams[id]; ok || m.client {
				m.mu.Unlock()
				break
			}
			st := m.newStreamLocked(id)
			m.mu.Unlock()
			select {
			case m.accepts <- st:
			case <-m.die:
				return
			}
		case muxFIN:
			m.mu.Lock()
			st := m.streams[id]
			m.mu.Unlock()
			if st != nil {
				st.finOnce.Do(func() { close(st.fin) })
			}
		case muxPSH:
			if n == 0 {
				break
			}
			var buf, head []byte
			if n >= muxPoolMin {
				p := muxPool.Get().(*[]byte)
				head, buf = *p, (*p)[:n]
			} else {
				buf = make([]byte, n)
			}
			if _, err := io.ReadFull(m.conn, buf); err != nil {
				m.closeWith(ErrMuxClosed)
				return
			}
			m.mu.Lock()
			st := m.streams[id]
			m.mu.Unlock()
			if st == nil || !st.push(buf, head) {
				putMuxBuf(head)
			}
		case muxUPD:
			if _, err := io.ReadFull(m.conn, h[:]); err != nil {
				m.closeWith(ErrMuxClosed)
				return
			}
		default:
			m.closeWith(ErrMuxProtocol)
			return
		}
	}
}

func putMuxBuf(head []byte) {
	if head != nil {
		muxPool.Put(&head)
	}
}

// returnTokens gives n bytes of receive budget back.
func (m *Mux) returnTokens(n int) {
	if m.bucket.Add(int64(n)) > 0 {
		select {
		case m.bucketWake <- struct{}{}:
		default:
		}
	}
}

func (m *Mux) keepAlive() {
	ping := time.NewTicker(m.cfg.KeepAliveInterval)
	check := time.NewTicker(m.cfg.KeepAliveTimeout)
	defer ping.Stop()
	defer check.Stop()
	for {
		select {
		case <-ping.C:
			m.writeFrame(muxNOP, 0, nil)
		case <-check.C:
			// A reader that stopped for the budget is not a dead peer.
			if !m.dataReady.Swap(false) && m.bucket.Load() > 0 {
				m.closeWith(errors.New("datachannel: smux keep-alive timeout"))
				return
			}
		case <-m.die:
			return
		}
	}
}

// MuxStream is one multiplexed connection (io.ReadWriteCloser).
type MuxStream struct {
	m      *Mux
	id     uint32
	ctx    context.Context // ends on Close, or with the Mux
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool       // Close was called; guarded by mu
	bufs   []muxChunk // received, unread
	wake   chan struct{}
	fin    chan struct{} // closed when the peer's FIN arrives
	die    chan struct{} // closed by Close
	close  sync.Once

	finOnce sync.Once
}

type muxChunk struct {
	b    []byte // unread data
	head []byte // pooled buffer b is in, or nil
	cost int    // budget charged, returned when b is used up
}

// ID returns the stream id.
func (st *MuxStream) ID() uint32 { return st.id }

// push queues received data; false if the stream is closed.
func (st *MuxStream) push(b, head []byte) bool {
	cost := len(b) + muxFrameCost
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	st.m.bucket.Add(-int64(cost))
	st.bufs = append(st.bufs, muxChunk{b: b, head: head, cost: cost})
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
	return true
}

// next waits for received data: the first chunk, or EOF once the peer's
// FIN arrived and everything was read, or ErrMuxClosed.
func (st *MuxStream) next() ([]byte, error) {
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return nil, io.EOF
		}
		if len(st.bufs) > 0 {
			b := st.bufs[0].b
			st.mu.Unlock()
			return b, nil
		}
		st.mu.Unlock()
		select {
		case <-st.wake:
			continue
		case <-st.fin:
		case <-st.die:
			return nil, io.EOF
		case <-st.m.die:
		}
		// Ended: what arrived before the end is still read.
		st.mu.Lock()
		n := len(st.bufs)
		st.mu.Unlock()
		if n == 0 {
			return nil, io.EOF
		}
	}
}

// consumed drops n bytes from the first chunk, which next returned.
func (st *MuxStream) consumed(n int) {
	st.mu.Lock()
	if len(st.bufs) == 0 { // Close dropped it meanwhile
		st.mu.Unlock()
		return
	}
	c := &st.bufs[0]
	c.b = c.b[n:]
	var done muxChunk
	if len(c.b) == 0 {
		done = *c
		st.bufs[0] = muxChunk{}
		st.bufs = st.bufs[1:]
		if len(st.bufs) == 0 {
			st.bufs = st.bufs[:0:0]
		}
	}
	st.mu.Unlock()
	if done.cost > 0 {
		putMuxBuf(done.head)
		st.m.returnTokens(done.cost)
	}
}

// Read implements io.Reader.
func (st *MuxStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := st.next()
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	st.consumed(n)
	return n, nil
}

// WriteTo implements io.WriterTo: io.Copy from a stream writes each
// received frame as it is, without another buffer.
func (st *MuxStream) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		b, err := st.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(b)
		total += int64(n)
		st.consumed(len(b))
		if err != nil {
			return total, err
		}
	}
}

// Write implements io.Writer: each frame of up to MaxFrameSize bytes is one
// message.
func (st *MuxStream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		select {
		case <-st.die:
			return n, io.ErrClosedPipe
		default:
		}
		chunk := p[:min(len(p), st.m.cfg.MaxFrameSize)]
		if err := st.writeFrame(muxPSH, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

func (st *MuxStream) writeFrame(cmd byte, data []byte) error {
	var h [muxHeaderSize]byte
	h[0], h[1] = muxVersion, cmd
	binary.LittleEndian.PutUint16(h[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(h[4:], st.id)
	if err := st.m.s.sendChunk(st.ctx, PayloadOutput, h[:], data); err != nil {
		if st.ctx.Err() != nil {
			return io.ErrClosedPipe
		}
		return err
	}
	return nil
}

// Close sends FIN and ends the stream, as smux's Close does: unread data
// is dropped, Read returns io.EOF and Write io.ErrClosedPipe.
func (st *MuxStream) Close() error {
	err := io.ErrClosedPipe
	st.close.Do(func() {
		st.mu.Lock()
		st.closed = true
		bufs := st.bufs
		st.bufs = nil
		close(st.die)
		st.mu.Unlock()
		err = nil
		if !st.m.IsClosed() {
			err = st.writeFrame(muxFIN, nil)
		}
		st.cancel()
		st.m.remove(st)
		// Unread data gives its budget back. Its buffers are left to the
		// garbage collector: a reader may still be copying from the first.
		for _, c := range bufs {
			st.m.returnTokens(c.cost)
		}
	})
	return err
}
