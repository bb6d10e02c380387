package datachannel

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/internal/sockio"
)

// SmuxPayload is a MaxPayload that carries one whole smux frame (a body of
// up to SmuxFrameSize bytes and its 8-byte header, written in one call) in
// one message, instead of a full message followed by an 8-byte one, each
// acknowledged.
const SmuxPayload = 64<<10 + 512

// SmuxFrameSize is the largest smux v1 frame body (its length field has 16
// bits). Tether's Mux uses it as MaxFrameSize: every message
// then carries 64 KiB, half the messages, acks and digests of smux's
// default 32 KiB frames. The official plugin reads frames of any length.
const SmuxFrameSize = 65535

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
	cfg    MuxConfig
	client bool
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	streams map[uint32]*MuxStream
	nextID  uint32
	err     error // why the Mux ended

	accepts chan *MuxStream
	// refusals are streams the accept backlog had no room for, waiting
	// for refuser to send their FIN.
	refusals    chan *MuxStream
	refuserOnce sync.Once
	die         chan struct{}
	dieOnce     sync.Once

	// Receive budget, as smux's bucket: bytes waiting for readers.
	bucket     atomic.Int64
	bucketWake chan struct{}
	dataReady  atomic.Bool // a frame arrived since the last keep-alive check

	// Frame parser state, owned by whoever feeds (the Stream's reader, or
	// recvLoop while the Stream is parked; never both at once).
	rx muxParser
}

// muxParser is where the frame parser stands between payloads: smux frames
// need not start or end where data-channel messages do.
type muxParser struct {
	hdr  [muxHeaderSize]byte
	hdrN int    // header bytes collected
	need int    // body bytes of the current frame still to come
	cmd  byte   // the current frame's command
	id   uint32 // and stream
	buf  []byte // a PSH body being collected: len(buf)-need bytes so far
	head []byte // buf's pooled buffer, or nil
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
		refusals:   make(chan *MuxStream, muxAccepts),
		die:        make(chan struct{}),
		bucketWake: make(chan struct{}, 1),
	}
	if client {
		m.nextID = 1 // the first stream is 3, as smux's client
	}
	m.bucket.Store(int64(cfg.MaxReceiveBuffer))
	s.SetReceiver(m.receive)
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

// putMuxHeader writes the header of a frame with n bytes of data into h.
func putMuxHeader(h []byte, cmd byte, n int, id uint32) {
	h[0], h[1] = muxVersion, cmd
	binary.LittleEndian.PutUint16(h[2:], uint16(n))
	binary.LittleEndian.PutUint32(h[4:], id)
}

// writeFrame sends one frame as one message.
func (m *Mux) writeFrame(cmd byte, id uint32, data []byte) error {
	var h [muxHeaderSize]byte
	putMuxHeader(h[:], cmd, len(data), id)
	if err := m.s.sendChunk(m.ctx, PayloadOutput, h[:], data); err != nil {
		if m.IsClosed() {
			return ErrMuxClosed
		}
		return err
	}
	return nil
}

// receive is the Stream's receiver: the Stream's reader goroutine hands it
// each in-order payload, and the frames in it go to their streams (or
// straight to their sockets, see MuxStream.WriteTo) without another
// goroutine. With the receive budget spent it refuses, and recvLoop feeds
// what queued meanwhile once readers have made room.
func (m *Mux) receive(in inMsg) bool {
	if m.bucket.Load() <= 0 {
		return false
	}
	m.feed(in)
	return true
}

// recvLoop feeds what receive refused, as the budget allows, and ends the
// Mux when the Stream ends.
func (m *Mux) recvLoop() {
	for {
		in, err := m.s.recvParked(m.ctx)
		if err != nil {
			m.closeWith(ErrMuxClosed)
			return
		}
		for m.bucket.Load() <= 0 {
			select {
			case <-m.bucketWake:
			case <-m.die:
				in.recycle()
				return
			}
		}
		m.feed(in)
	}
}

// feed parses the smux frames in one payload. It never blocks. A payload
// that is exactly one PSH frame (what Tether and the plugin send in bulk)
// is handed to its stream without a copy; otherwise bodies are copied out,
// frame by frame, across payload boundaries.
func (m *Mux) feed(in inMsg) {
	if in.pt != PayloadOutput {
		if m.cfg.OnOther != nil {
			m.cfg.OnOther(in.pt, in.payload) // theirs to keep: not recycled
		} else {
			in.recycle()
		}
		return
	}
	if m.IsClosed() {
		in.recycle()
		return
	}
	m.dataReady.Store(true)
	p := in.payload
	rx := &m.rx
	if rx.hdrN == 0 && rx.need == 0 && len(p) > muxHeaderSize && p[0] == muxVersion && p[1] == muxPSH &&
		int(binary.LittleEndian.Uint16(p[2:])) == len(p)-muxHeaderSize {
		st := m.stream(binary.LittleEndian.Uint32(p[4:]))
		if st == nil || !st.push(muxChunk{b: p[muxHeaderSize:], frame: in.frame, reuse: in.reuse}) {
			in.recycle()
		}
		return
	}
	for len(p) > 0 {
		if rx.need == 0 {
			k := copy(rx.hdr[rx.hdrN:], p)
			rx.hdrN += k
			p = p[k:]
			if rx.hdrN < muxHeaderSize {
				break
			}
			rx.hdrN = 0
			if !m.frameStart() {
				in.recycle()
				return
			}
			continue
		}
		k := min(rx.need, len(p))
		if rx.cmd == muxPSH {
			copy(rx.buf[len(rx.buf)-rx.need:], p[:k])
		}
		rx.need -= k
		p = p[k:]
		if rx.need == 0 && rx.cmd == muxPSH {
			st := m.stream(rx.id)
			if st == nil || !st.push(muxChunk{b: rx.buf, head: rx.head}) {
				putMuxBuf(rx.head)
			}
			rx.buf, rx.head = nil, nil
		}
	}
	in.recycle()
}

// frameStart acts on the frame header in m.rx.hdr; false if the Mux ended
// because the peer broke the protocol.
func (m *Mux) frameStart() bool {
	rx := &m.rx
	h := rx.hdr[:]
	if h[0] != muxVersion {
		m.closeWith(ErrMuxProtocol)
		return false
	}
	n := int(binary.LittleEndian.Uint16(h[2:]))
	rx.cmd, rx.id = h[1], binary.LittleEndian.Uint32(h[4:])
	switch rx.cmd {
	case muxNOP:
	case muxSYN:
		m.mu.Lock()
		if _, ok := m.streams[rx.id]; ok || m.client {
			m.mu.Unlock()
			break
		}
		st := m.newStreamLocked(rx.id)
		m.mu.Unlock()
		select {
		case m.accepts <- st:
		default:
			m.refuse(st)
		}
	case muxFIN:
		if st := m.stream(rx.id); st != nil {
			st.finOnce.Do(func() { close(st.fin) })
		}
	case muxPSH:
		if n == 0 {
			break
		}
		if n >= muxPoolMin {
			p := muxPool.Get().(*[]byte)
			rx.head, rx.buf = *p, (*p)[:n]
		} else {
			rx.buf = make([]byte, n)
		}
		rx.need = n
	case muxUPD:
		rx.need = muxHeaderSize // smux v2's window update body; skipped
	default:
		m.closeWith(ErrMuxProtocol)
		return false
	}
	return true
}

// refuse ends st, for which the accept backlog had no room, without
// blocking the reader on the FIN that says so: one goroutine sends the FINs
// of up to muxAccepts refused streams. Beyond that (a peer that floods SYNs
// and does not ack) a stream is dropped without a FIN.
func (m *Mux) refuse(st *MuxStream) {
	m.refuserOnce.Do(func() { go m.refuser() })
	select {
	case m.refusals <- st:
	default:
		st.end(false)
	}
}

func (m *Mux) refuser() {
	for {
		select {
		case st := <-m.refusals:
			st.Close()
		case <-m.die:
			for {
				select {
				case st := <-m.refusals:
					st.end(false)
				default:
					return
				}
			}
		}
	}
}

// stream returns the open stream id, or nil.
func (m *Mux) stream(id uint32) *MuxStream {
	m.mu.Lock()
	st := m.streams[id]
	m.mu.Unlock()
	return st
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

	// While WriteTo copies into a socket, the Mux's reader writes data that
	// finds nothing queued straight into it (deliverDirect).
	sinkMu sync.Mutex
	sink   *sockio.Socket // guarded by sinkMu
	sunk   int64          // bytes written into sink directly; guarded by sinkMu
}

type muxChunk struct {
	b     []byte        // unread data
	head  []byte        // pooled buffer b is in, or nil
	frame []byte        // or the received message b is in,
	reuse FrameRecycler // to be handed back to its transport
	cost  int           // budget charged, returned when b is used up
}

// release gives the chunk's buffer back.
func (c *muxChunk) release() {
	if c.reuse != nil {
		c.reuse.RecycleFrame(c.frame)
	} else {
		putMuxBuf(c.head)
	}
	c.b, c.head, c.frame, c.reuse = nil, nil, nil, nil
}

// ID returns the stream id.
func (st *MuxStream) ID() uint32 { return st.id }

// push queues received data, or writes it straight to the socket WriteTo
// copies into when nothing else is queued; false if the stream is closed.
// Called by the Mux's feeder only.
func (st *MuxStream) push(c muxChunk) bool {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	if len(st.bufs) == 0 {
		// Nothing queued, so WriteTo is not writing: try the socket. Only
		// the feeder adds to bufs, so it stays empty meanwhile.
		st.mu.Unlock()
		n := st.deliverDirect(c.b)
		if n == len(c.b) {
			c.release()
			return true
		}
		c.b = c.b[n:]
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return false
		}
	}
	c.cost = len(c.b) + muxFrameCost
	st.m.bucket.Add(-int64(c.cost))
	st.bufs = append(st.bufs, c)
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
	return true
}

// deliverDirect writes what the socket takes at once without blocking, and
// returns how much that was.
func (st *MuxStream) deliverDirect(b []byte) int {
	if !st.sinkMu.TryLock() {
		return 0 // WriteTo is starting or ending
	}
	defer st.sinkMu.Unlock()
	if st.sink == nil {
		return 0
	}
	n := st.sink.TryWrite(b)
	st.sunk += int64(n)
	return n
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
		done.release()
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
// received frame as it is, without another buffer. When w is a TCP or Unix
// socket, the Mux's reader also writes data into it directly while nothing
// is queued here, which saves a goroutine hand-off per frame (a round trip
// through the tunnel then wakes one goroutine per hop, not three).
func (st *MuxStream) WriteTo(w io.Writer) (int64, error) {
	// Only TCP and Unix sockets: their descriptors are non-blocking, so a
	// direct write never stalls the session's reader.
	write := w.Write
	if sock := sockio.New(w); sock != nil {
		write = sock.Write
		st.sinkMu.Lock()
		st.sink = sock
		st.sinkMu.Unlock()
	}
	var total int64
	// done stops direct writes (waiting for one under way) and adds what
	// they wrote.
	done := func(err error) (int64, error) {
		st.sinkMu.Lock()
		st.sink = nil
		total += st.sunk
		st.sinkMu.Unlock()
		return total, err
	}
	for {
		b, err := st.next()
		if err == io.EOF {
			return done(nil)
		}
		if err != nil {
			return done(err)
		}
		n, err := write(b)
		total += int64(n)
		st.consumed(len(b))
		if err != nil {
			return done(err)
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

// ReadFrom implements io.ReaderFrom: each read from r lands straight in
// the message that carries it, as one frame of up to MaxFrameSize bytes.
// It returns when r reports EOF (nil) or another error, or the stream ends.
func (st *MuxStream) ReadFrom(r io.Reader) (int64, error) {
	read := r.Read
	if sock := sockio.New(r); sock != nil {
		read = sock.Read
	}
	var total int64
	for {
		select {
		case <-st.die:
			return total, io.ErrClosedPipe
		default:
		}
		var rerr error
		n, err := st.m.s.sendRead(st.ctx, PayloadOutput, func(b []byte) (int, error) {
			b = b[:muxHeaderSize+min(len(b)-muxHeaderSize, st.m.cfg.MaxFrameSize)]
			k, err := read(b[muxHeaderSize:])
			rerr = err
			if k <= 0 {
				return 0, nil
			}
			putMuxHeader(b, muxPSH, k, st.id)
			return muxHeaderSize + k, nil
		})
		if n > 0 {
			total += int64(n - muxHeaderSize)
		}
		if err != nil {
			if st.ctx.Err() != nil {
				return total, io.ErrClosedPipe
			}
			return total, err
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// CopyIn copies src into dst, a MuxStream (or any writer), until src's EOF
// or an error: one message per read, each read up to a whole frame.
func CopyIn(dst io.Writer, src io.Reader) (int64, error) {
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, SmuxFrameSize))
}

func (st *MuxStream) writeFrame(cmd byte, data []byte) error {
	var h [muxHeaderSize]byte
	putMuxHeader(h[:], cmd, len(data), st.id)
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
func (st *MuxStream) Close() error { return st.end(true) }

// end closes the stream, sending FIN if fin is set and the Mux is open.
func (st *MuxStream) end(fin bool) error {
	err := io.ErrClosedPipe
	st.close.Do(func() {
		st.mu.Lock()
		st.closed = true
		bufs := st.bufs
		st.bufs = nil
		close(st.die)
		st.mu.Unlock()
		err = nil
		if fin && !st.m.IsClosed() {
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
