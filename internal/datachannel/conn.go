package datachannel

import (
	"context"
	"io"
	"sync"
)

// SmuxPayload is a MaxPayload that carries one whole smux frame (a 32 KiB
// body and its 8-byte header, written in one call) in one message, instead
// of a 32 KiB message followed by an 8-byte one, each acknowledged.
const SmuxPayload = 32<<10 + 512

// Conn presents a Stream's Output payloads as a byte stream (for smux, or
// a single forwarded TCP connection): Read returns the peer's Output bytes
// in order, Write sends Output messages. Other payload types are handed to
// onOther (from the Read caller's goroutine) and skipped.
type Conn struct {
	s       *Stream
	onOther func(PayloadType, []byte)
	ctx     context.Context
	cancel  context.CancelFunc

	mu  sync.Mutex // guards buf (Read is not called concurrently by smux, but be safe)
	buf []byte
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
		pt, b, err := c.s.Recv(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil || err == ErrClosed {
				return 0, io.EOF
			}
			return 0, err
		}
		if pt != PayloadOutput {
			if c.onOther != nil {
				c.onOther(pt, b)
			}
			continue
		}
		c.buf = b
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// Write implements io.Writer.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.s.Send(c.ctx, PayloadOutput, p); err != nil {
		if c.ctx.Err() != nil {
			return 0, io.ErrClosedPipe
		}
		return 0, err
	}
	return len(p), nil
}

// Close unblocks Read and Write.
func (c *Conn) Close() error {
	c.cancel()
	return nil
}
