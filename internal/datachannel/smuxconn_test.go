package datachannel

import (
	"context"
	"io"
	"sync"
)

// Conn presents a Stream's Output payloads as a byte stream, so that the
// tests can run xtaci/smux (as the official plugin and agent do) over a
// Stream: Read returns the peer's Output bytes in order, Write sends Output
// messages. Other payload types are handed to onOther (from the Read
// caller's goroutine) and skipped.
type Conn struct {
	s       *Stream
	onOther func(PayloadType, []byte)
	ctx     context.Context
	cancel  context.CancelFunc

	mu  sync.Mutex // guards buf and in (Read is not called concurrently by smux, but be safe)
	buf []byte     // unread part of in.payload
	in  inMsg
}

// NewConn wraps s. Closing the Conn does not close the Stream.
func NewConn(s *Stream, onOther func(PayloadType, []byte)) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{s: s, onOther: onOther, ctx: ctx, cancel: cancel}
}

// Read implements io.Reader.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.buf) == 0 {
		in, err := c.s.recv(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil || err == ErrClosed {
				return 0, io.EOF
			}
			return 0, err
		}
		if in.pt != PayloadOutput {
			if c.onOther != nil {
				c.onOther(in.pt, in.payload) // theirs to keep
			}
			continue
		}
		c.buf, c.in = in.payload, in
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	if len(c.buf) == 0 {
		// Consumed: the frame can be read into again.
		c.in.recycle()
	}
	return n, nil
}

// Write implements io.Writer.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.s.Send(c.ctx, PayloadOutput, p); err != nil {
		return 0, c.writeErr(err)
	}
	return len(p), nil
}

// WriteBuffers writes the concatenation of v. smux uses it for a frame's
// header and body, which then go in one message without being copied
// together first.
func (c *Conn) WriteBuffers(v [][]byte) (int, error) {
	if len(v) == 2 && len(v[0])+len(v[1]) <= c.s.cfg.MaxPayload {
		if err := c.s.sendChunk(c.ctx, PayloadOutput, v[0], v[1]); err != nil {
			return 0, c.writeErr(err)
		}
		return len(v[0]) + len(v[1]), nil
	}
	n := 0
	for _, b := range v {
		m, err := c.Write(b)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *Conn) writeErr(err error) error {
	if c.ctx.Err() != nil {
		return io.ErrClosedPipe
	}
	return err
}

// Close unblocks Read and Write.
func (c *Conn) Close() error {
	c.cancel()
	return nil
}
