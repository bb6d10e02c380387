// Package wstransport adapts a websocket connection to datachannel.Transport
// and turns http(s) endpoints into ws(s) URLs. Imported by the agent, the
// CLI and the relay.
//
// The data path is the reason for most of this file. The websocket library
// writes a frame through a 4 KiB buffer: a client's masked 64 KiB frame
// becomes 16 write system calls, a server's frame two. Connections made by
// Dial and Accept send each message in one write instead (corkConn), and
// messages are read into pooled buffers that the reader hands back with
// RecycleFrame, so the data path allocates nothing per message.
package wstransport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/datachannel"
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
	wmu  sync.Mutex    // one WriteMessage at a time holds cork
	br   *bufio.Reader // what the websocket reads through, if Accept made it
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
func New(c *websocket.Conn) *Conn { return &Conn{C: c} }

// ReadMessage returns the next binary frame; text frames are skipped. The
// frame is the caller's; it may give it back with RecycleFrame.
func (t *Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := ReadFrame(ctx, t.C)
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

// ReadFrame reads one websocket message into a pooled buffer, taken only
// once the message has begun (an idle connection holds none). The caller
// owns the result and may give it back with (*Conn).RecycleFrame.
func ReadFrame(ctx context.Context, c *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := c.Reader(ctx)
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
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.cork.hold()
	err := t.C.Write(ctx, websocket.MessageBinary, b)
	if ferr := t.cork.release(ctx, t.C); err == nil {
		err = ferr
	}
	return err
}

// WriteMessages sends frames as binary messages, in one write when the
// connection was made by Dial or Accept (datachannel.BatchWriter).
func (t *Conn) WriteMessages(ctx context.Context, frames [][]byte) error {
	if t.cork == nil {
		for _, b := range frames {
			if err := t.C.Write(ctx, websocket.MessageBinary, b); err != nil {
				return err
			}
		}
		return nil
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.cork.hold()
	var err error
	for _, b := range frames {
		if err = t.C.Write(ctx, websocket.MessageBinary, b); err != nil {
			break
		}
	}
	if ferr := t.cork.release(ctx, t.C); err == nil {
		err = ferr
	}
	return err
}

// corkConn collects what is written between hold and release and sends it
// in one write. Writes outside hold go straight through.
type corkConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte // pooled while held
	// r, when set, buffers reads: under TLS, so that one system call
	// reads several records rather than one (or part of one). Set before
	// the first read, or by the only reader.
	r *bufio.Reader
}

// tlsReadBuffer is what a corked TLS connection reads ahead: one 64 KiB
// message is four or five records.
const tlsReadBuffer = 128 << 10

func (c *corkConn) Read(p []byte) (int, error) {
	if c.r != nil {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) hold() {
	c.mu.Lock()
	c.held, c.buf = true, getFrame()
	c.mu.Unlock()
}

// release writes what was held. The websocket library closes the
// connection when ctx ends during its own writes; this write is outside
// them, so it does the same.
func (c *corkConn) release(ctx context.Context, ws *websocket.Conn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf
	c.held, c.buf = false, nil
	defer putFrame(b)
	if len(b) == 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { ws.CloseNow() })
	_, err := c.Conn.Write(b)
	if !stop() && err != nil {
		err = errors.Join(context.Cause(ctx), err)
	}
	return err
}

// Dial opens a websocket like websocket.Dial, on a connection that sends
// each message in one write when opts' HTTP client uses an *http.Transport
// (or none), and as websocket.Dial does otherwise.
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
			cork = &corkConn{Conn: c}
			if secure {
				cork.r = bufio.NewReaderSize(c, tlsReadBuffer)
			}
			return cork, nil
		}
		nc := *hc
		nc.Transport = tr
		o.HTTPClient = &nc
	}
	c, resp, err := websocket.Dial(ctx, u, &o)
	if err != nil {
		return nil, resp, err
	}
	return &Conn{C: c, cork: cork}, resp, nil
}

// Accept upgrades an HTTP request to a websocket like websocket.Accept, on
// a connection that sends each message in one write.
func Accept(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) (*Conn, error) {
	hw := &hijackWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, opts)
	if err != nil {
		return nil, err
	}
	return &Conn{C: c, cork: hw.cork, br: hw.br}, nil
}

// hijackWriter hands the websocket library a connection that writes
// through a corkConn.
type hijackWriter struct {
	http.ResponseWriter
	cork *corkConn
	br   *bufio.Reader
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
			cork.r = bufio.NewReaderSize(cork.Conn, tlsReadBuffer)
			h.cork = cork
			return c, brw, nil
		}
	}
	h.cork = &corkConn{Conn: c}
	brw.Writer.Reset(h.cork)
	return h.cork, brw, nil
}

// CorkListener wraps a server's listener so that Accept, for a websocket
// served over TLS on top of it, can hold back the TLS records of a whole
// message and send them in one write, as it does without TLS. Without it,
// crypto/tls writes each record of up to 16 KiB with its own system call.
func CorkListener(ln net.Listener) net.Listener { return corkListener{ln} }

type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
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
