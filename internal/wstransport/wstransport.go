// Package wstransport adapts a websocket connection to datachannel.Transport
// and turns http(s) endpoints into ws(s) URLs. Imported by the agent, the
// CLI and the relay.
//
// The data path is the reason for most of this file. The websocket library
// writes a frame through a 4 KiB buffer: a client's masked 64 KiB frame
// becomes 16 write system calls, a server's frame two, and under TLS as
// many records. Connections made by Dial and Accept encode binary messages
// themselves instead (appendFrame: header, payload copied and masked in one
// pass) and send a batch of them with one write to the connection, or to
// TLS, whose records then go out in one system call too (corkConn beneath
// it). Messages are read into pooled buffers that the reader hands back
// with RecycleFrame, so the data path allocates nothing per message.
package wstransport

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/datachannel"
	"github.com/tetherhq/tether/internal/sockio"
)

// frameCap is the capacity of pooled buffers: a data-channel message with
// a SmuxPayload payload, its header, and a websocket frame header.
const frameCap = datachannel.SmuxPayload + 1024

var framePool = sync.Pool{New: func() any {
	b := make([]byte, 0, frameCap)
	return &b
}}

func getFrame() []byte { return (*framePool.Get().(*[]byte))[:0] }

// putFrame returns b to the pool if it has the pooled capacity; larger
// buffers (rare 1 MiB messages) are left to the garbage collector.
func putFrame(b []byte) {
	if cap(b) != frameCap {
		return
	}
	b = b[:0]
	framePool.Put(&b)
}

// Conn is a websocket carrying binary data-channel frames.
type Conn struct {
	C    *websocket.Conn
	cork *corkConn     // nil when the connection was not made by Dial or Accept
	br   *bufio.Reader // what the websocket reads through, if Accept made it
	// out, when set, is where the websocket library writes (the TLS
	// connection above cork, or cork itself): WriteMessage(s) write whole
	// frames there, encoded in wbuf. Each is one Write call, as each of
	// the library's own frames (pong, close) is, so they never interleave.
	out    io.Writer
	client bool // frames are masked
	wmu    sync.Mutex
	wbuf   []byte // guarded by wmu
	// rw and ww end a read or a write when its context ends.
	rw, ww ctxWatch
}

// ctxWatch closes the websocket when the context of an operation in
// progress (a read, or a write) ends, as the library does for its own,
// with one context.AfterFunc per context rather than two or three per
// message (the library registers one for a frame's header and one for its
// payload, and our writes one each: about a tenth of tetherd's CPU time
// in the benchmark's echoes). The registration outlives the operation; it
// ends with its context, when an operation comes with another context, or
// when the reader fails (release). One operation at a time per ctxWatch:
// the reader's, or the writer's under wmu.
type ctxWatch struct {
	abort func() // closes the connection
	mu    sync.Mutex
	busy  bool            // an operation is in progress; guarded by mu
	ctx   context.Context // the registration's; guarded by mu
	stop  func() bool     // guarded by mu
}

// begin starts an operation under ctx. If ctx has ended, it closes the
// websocket, as the library does, and returns ctx's error; the caller
// must then not call end.
func (w *ctxWatch) begin(ctx context.Context) error {
	if ctx.Done() == nil {
		return nil // never ends
	}
	w.mu.Lock()
	if ctx != w.ctx {
		if w.stop != nil {
			w.stop()
		}
		w.ctx = ctx
		w.stop = context.AfterFunc(ctx, func() {
			// Only for an operation under this ctx: the function of a
			// replaced registration may still run once it was stopped.
			w.mu.Lock()
			hit := w.busy && w.ctx == ctx
			w.mu.Unlock()
			if hit {
				w.abort()
			}
		})
	}
	w.busy = true
	w.mu.Unlock()
	// If ctx ends from now on, the function above closes; if it ended
	// before, this does.
	if err := ctx.Err(); err != nil {
		w.end(ctx, nil)
		w.abort()
		return context.Cause(ctx)
	}
	return nil
}

// end finishes the operation begin started. The error of an operation
// whose context ended carries the context's cause (errors.Is finds
// context.Canceled or DeadlineExceeded in it), as the library's does.
func (w *ctxWatch) end(ctx context.Context, err error) error {
	w.mu.Lock()
	w.busy = false
	w.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		return errors.Join(context.Cause(ctx), err)
	}
	return err
}

// release ends the registration.
func (w *ctxWatch) release() {
	w.mu.Lock()
	if w.stop != nil {
		w.stop()
	}
	w.ctx, w.stop = nil, nil
	w.mu.Unlock()
}

// newConn returns a Conn for c.
func newConn(c *websocket.Conn) *Conn {
	t := &Conn{C: c}
	t.rw.abort, t.ww.abort = t.abort, t.abort
	return t
}

// abort closes the connection at once. The socket beneath a cork goes
// first: under TLS, closing the websocket sends a close_notify alert, which
// would wait behind a write stuck on a peer that does not read (until the
// 5 s deadline crypto/tls sets for the alert).
func (t *Conn) abort() {
	if t.cork != nil {
		t.cork.Conn.Close()
	}
	t.C.CloseNow()
}

// Buffered returns how many received bytes wait in the read buffer: more
// than zero right after a ReadFrame means the next message has (at least
// partly) arrived already. Known for connections made by Accept (0
// otherwise); call it only from the goroutine that reads.
func (t *Conn) Buffered() int {
	if t.br == nil {
		return 0
	}
	return t.br.Buffered()
}

// New wraps c. Prefer Dial or Accept, whose connections write each message
// in one system call.
func New(c *websocket.Conn) *Conn { return newConn(c) }

// ReadMessage returns the next binary frame; text frames are skipped. The
// frame is the caller's; it may give it back with RecycleFrame.
func (t *Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := t.ReadFrame(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			return b, nil
		}
		putFrame(b)
	}
}

// RecycleFrame implements datachannel.FrameRecycler: b, returned by
// ReadMessage or ReadFrame, is no longer used and may be read into again.
func (t *Conn) RecycleFrame(b []byte) { putFrame(b) }

// ReadFrame reads one websocket message, of any type, into a pooled
// buffer, taken only once the message has begun (an idle connection holds
// none). The caller owns the result and may give it back with
// RecycleFrame. When ctx ends during the read, the connection is closed
// and ctx's error returned. Once a read fails, the connection is done.
func (t *Conn) ReadFrame(ctx context.Context) (websocket.MessageType, []byte, error) {
	if err := t.rw.begin(ctx); err != nil {
		t.done()
		return 0, nil, err
	}
	// The library does not watch the context: rw does.
	typ, b, err := readFrame(t.C)
	if err = t.rw.end(ctx, err); err != nil {
		t.done()
	}
	return typ, b, err
}

// done releases the context registrations of a connection whose reader
// failed.
func (t *Conn) done() {
	t.rw.release()
	t.ww.release()
}

// readFrame reads one message from c, under no context.
func readFrame(c *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := c.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	b := getFrame()
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow; c's read limit bounds it
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return typ, b, nil
		}
		if err != nil {
			putFrame(b)
			return 0, nil, err
		}
	}
}

// WriteMessage sends one binary frame.
func (t *Conn) WriteMessage(ctx context.Context, b []byte) error {
	if t.cork == nil {
		return t.C.Write(ctx, websocket.MessageBinary, b)
	}
	return t.WriteMessages(ctx, [][]byte{b})
}

// WriteMessages sends frames as binary messages, in one write when the
// connection was made by Dial or Accept (datachannel.BatchWriter).
func (t *Conn) WriteMessages(ctx context.Context, frames [][]byte) error {
	if t.cork == nil {
		return t.libraryWrite(ctx, frames)
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	// The library watches ctx during its own writes; ww during ours.
	if err := t.ww.begin(ctx); err != nil {
		return err
	}
	return t.ww.end(ctx, t.writeLocked(ctx, frames))
}

// writeLocked writes frames; the caller holds wmu and watches ctx.
func (t *Conn) writeLocked(ctx context.Context, frames [][]byte) error {
	if t.out == nil {
		// A connection whose TLS we could not reach (a proxy's): the
		// library writes, and cork beneath TLS sends it in one write.
		t.cork.hold()
		err := t.libraryWrite(ctx, frames)
		if ferr := t.cork.release(nil); err == nil {
			err = ferr
		}
		return err
	}
	w := t.wbuf[:0]
	for _, b := range frames {
		w = appendFrame(w, b, t.client)
	}
	t.wbuf = w
	if len(w) > 4*frameCap {
		t.wbuf = nil // a rare batch of 1 MiB messages is not kept
	}
	if t.out == io.Writer(t.cork) {
		return t.cork.writeOut(w)
	}
	t.cork.hold()
	return t.cork.release(func() error {
		_, err := t.out.Write(w)
		return err
	})
}

// libraryWrite has the websocket library write frames, one by one.
func (t *Conn) libraryWrite(ctx context.Context, frames [][]byte) error {
	for _, b := range frames {
		if err := t.C.Write(ctx, websocket.MessageBinary, b); err != nil {
			return err
		}
	}
	return nil
}

// appendFrame appends b as one binary websocket frame (RFC 6455 §5.2),
// masked with a random key when mask is set (a client's frames).
func appendFrame(dst, b []byte, mask bool) []byte {
	n := len(b)
	maskBit := byte(0)
	if mask {
		maskBit = 0x80
	}
	dst = append(dst, 0x82) // FIN, binary
	switch {
	case n < 126:
		dst = append(dst, maskBit|byte(n))
	case n <= 0xffff:
		dst = append(dst, maskBit|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, maskBit|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !mask {
		return append(dst, b...)
	}
	// The key only has to be unpredictable to whoever chooses the
	// payload (RFC 6455 §10.3); math/rand/v2's generator is seeded from
	// the operating system's.
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	var ks [512]byte // the key repeated, for XORBytes' vector loop
	for i := 0; i < len(ks); i += 4 {
		copy(ks[i:], key[:])
	}
	out := dst[start:]
	for len(b) > 0 {
		k := subtle.XORBytes(out, b, ks[:min(len(b), len(ks))])
		out, b = out[k:], b[k:]
	}
	return dst
}

// corkConn collects what is written between hold and release and sends it
// in one write. Writes outside hold go straight through.
type corkConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte // pooled while held
	// werr is the first write error: a frame may have been cut short, so
	// nothing more is written. The connection stays open for reading, so
	// that what the peer sent before it went is still read (the relay
	// forwards it); the reader ends at the peer's EOF or reset.
	werr error
	// r, when set, buffers reads: under TLS, so that one system call
	// reads several records rather than one (or part of one). Set before
	// the first read, or by the only reader.
	r *bufio.Reader
	// rw reads and writes the connection: through sockio for a TCP or
	// Unix socket, else the connection itself.
	rw io.ReadWriter
}

// newCorkConn corks c.
func newCorkConn(c net.Conn) *corkConn {
	k := &corkConn{Conn: c, rw: c}
	if sock := sockio.New(c); sock != nil {
		k.rw = sock
	}
	return k
}

// bufferReads makes c read through a buffer of tlsReadBuffer bytes.
func (c *corkConn) bufferReads() { c.r = bufio.NewReaderSize(c.rw, tlsReadBuffer) }

// tlsReadBuffer is what a corked TLS connection reads ahead: one 64 KiB
// message is four or five records.
const tlsReadBuffer = 128 << 10

func (c *corkConn) Read(p []byte) (int, error) {
	if c.r != nil {
		return c.r.Read(p)
	}
	return c.rw.Read(p)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.writeLocked(p)
}

// writeLocked writes p to the connection unless a write failed before.
func (c *corkConn) writeLocked(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	n, err := c.rw.Write(p)
	if err != nil {
		c.werr = err
	}
	return n, err
}

// CloseWrite half-closes the connection, as *net.TCPConn's does: net/http
// uses it so that a connection it closes after a response (one refusing a
// request body, say) does not lose that response to a reset.
func (c *corkConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *corkConn) hold() {
	c.mu.Lock()
	c.held, c.buf = true, getFrame()
	c.mu.Unlock()
}

// release runs fill, if not nil, and writes what was held. The caller
// bounds it by its context (Conn.ww), as the library bounds its writes.
func (c *corkConn) release(fill func() error) error {
	var err error
	if fill != nil {
		err = fill()
	}
	c.mu.Lock()
	b := c.buf
	c.held, c.buf = false, nil
	if len(b) > 0 && err == nil {
		_, err = c.writeLocked(b)
	}
	c.mu.Unlock()
	putFrame(b)
	return err
}

// writeOut writes b, whole frames, in one write, bounded as release.
func (c *corkConn) writeOut(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.writeLocked(b)
	return err
}

// Dial opens a websocket like websocket.Dial, on a connection that sends
// each batch of messages in one write when opts' HTTP client uses an
// *http.Transport (or none), and as websocket.Dial does otherwise.
func Dial(ctx context.Context, u string, opts *websocket.DialOptions) (*Conn, *http.Response, error) {
	var o websocket.DialOptions
	if opts != nil {
		o = *opts
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	var cork *corkConn
	var out io.Writer
	secure := strings.HasPrefix(u, "wss:") || strings.HasPrefix(u, "https:")
	// A transport that dials TLS itself never calls DialContext: cork
	// stays nil and the connection works as websocket.Dial's does.
	if tr, ok := base.(*http.Transport); ok {
		tr = tr.Clone()
		dial := tr.DialContext
		if dial == nil {
			dial = (&net.Dialer{}).DialContext
		}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cork = newCorkConn(c)
			out = cork
			if secure {
				// Through a proxy: the transport does TLS on top.
				cork.bufferReads()
				out = nil
			}
			return cork, nil
		}
		//lint:ignore SA1019 a transport that sets DialTLS dials TLS itself
		if secure && tr.DialTLSContext == nil && tr.DialTLS == nil {
			// TLS is ours, so that messages can be written to it whole.
			tlsConf := tr.TLSClientConfig
			target := ""
			if pu, err := url.Parse(u); err == nil {
				target = pu.Host
				if pu.Port() == "" {
					target = net.JoinHostPort(pu.Hostname(), "443")
				}
			}
			tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				conf := &tls.Config{}
				if tlsConf != nil {
					conf = tlsConf.Clone()
				}
				if conf.ServerName == "" {
					if conf.ServerName, _, err = net.SplitHostPort(addr); err != nil {
						c.Close()
						return nil, err
					}
				}
				conf.NextProtos = []string{"http/1.1"} // websockets need HTTP/1.1
				k := newCorkConn(c)
				k.bufferReads()
				tc := tls.Client(k, conf)
				if err := tc.HandshakeContext(ctx); err != nil {
					c.Close()
					return nil, err
				}
				// An https proxy is dialled here too; the transport then
				// tunnels a second TLS through this one, which the library
				// writes to.
				cork = k
				if addr == target {
					out = tc
				}
				return tc, nil
			}
		}
		nc := *hc
		nc.Transport = tr
		o.HTTPClient = &nc
	}
	c, resp, err := websocket.Dial(ctx, u, &o)
	if err != nil {
		return nil, resp, err
	}
	t := newConn(c)
	t.cork, t.out, t.client = cork, out, true
	return t, resp, nil
}

// Accept upgrades an HTTP request to a websocket like websocket.Accept, on
// a connection that sends each message in one write.
func Accept(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) (*Conn, error) {
	hw := &hijackWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, opts)
	if err != nil {
		return nil, err
	}
	t := newConn(c)
	t.cork, t.br, t.out = hw.cork, hw.br, hw.out
	return t, nil
}

// hijackWriter hands the websocket library a connection that writes
// through a corkConn.
type hijackWriter struct {
	http.ResponseWriter
	cork *corkConn
	br   *bufio.Reader
	out  io.Writer // the TLS connection above cork, or cork
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		c.Close()
		return nil, nil, err
	}
	h.br = brw.Reader // the websocket resets and keeps it
	// Under TLS, cork the connection beneath it (CorkListener), so that a
	// message's records, not only its plaintext, go in one write.
	if tc, ok := c.(*tls.Conn); ok {
		if cork, ok := tc.NetConn().(*corkConn); ok {
			// Nothing reads the connection while it is being hijacked.
			cork.bufferReads()
			h.cork, h.out = cork, tc
			return c, brw, nil
		}
	}
	cork, ok := c.(*corkConn) // CorkListener without TLS
	if !ok {
		cork = newCorkConn(c)
	}
	h.cork = cork
	h.out = h.cork
	brw.Writer.Reset(h.cork)
	return h.cork, brw, nil
}

// CorkListener wraps a server's listener so that Accept, for a websocket
// served over TLS on top of it, can hold back the TLS records of a whole
// message and send them in one write, as it does without TLS. Without it,
// crypto/tls writes each record of up to 16 KiB with its own system call.
// With or without TLS, its connections are read and written through
// package sockio.
func CorkListener(ln net.Listener) net.Listener { return corkListener{ln} }

type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newCorkConn(c), nil
}

// WebsocketURL turns an http(s) endpoint plus path into a ws(s) URL.
func WebsocketURL(endpoint, path string) (string, error) {
	u, err := url.Parse(strings.TrimRight(endpoint, "/") + path)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	return u.String(), nil
}
