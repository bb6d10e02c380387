package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// The destination of every row is one target server on loopback. A
// connection's first byte says what it is for:
//
//	'B' size id: a bulk transfer. The target reads size bytes (8 bytes, big
//	   endian, then an 8-byte id), notes when the last one arrived, reports
//	   that in-process and answers 'K'.
//	'E': an echo: everything read is written back.
//
// A connection that closes before its first byte is a readiness probe and is
// ignored.
const (
	modeBulk = 'B'
	modeEcho = 'E'
)

// sinkReport is the target's account of one bulk transfer.
type sinkReport struct {
	id   uint64
	n    int64
	last time.Time // when the last byte was read
	err  error
}

// target is the destination server.
type target struct {
	ln      net.Listener
	reports chan sinkReport
	wg      sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startTarget() (*target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &target{ln: ln, reports: make(chan sinkReport, 16), conns: map[net.Conn]struct{}{}}
	t.wg.Go(t.serve)
	return t, nil
}

func (t *target) port() int { return t.ln.Addr().(*net.TCPAddr).Port }

func (t *target) addr() string { return t.ln.Addr().String() }

func (t *target) serve() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.conns[c] = struct{}{}
		t.mu.Unlock()
		t.wg.Go(func() {
			defer func() {
				t.mu.Lock()
				delete(t.conns, c)
				t.mu.Unlock()
				c.Close()
			}()
			t.handle(c)
		})
	}
}

func (t *target) handle(c net.Conn) {
	var mode [1]byte
	if _, err := io.ReadFull(c, mode[:]); err != nil {
		return // a probe
	}
	switch mode[0] {
	case modeEcho:
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	case modeBulk:
		var h [16]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		size, id := int64(binary.BigEndian.Uint64(h[:8])), binary.BigEndian.Uint64(h[8:])
		buf := make([]byte, 256<<10)
		var got int64
		var err error
		for got < size && err == nil {
			var n int
			n, err = c.Read(buf[:min(int64(len(buf)), size-got)])
			got += int64(n)
		}
		r := sinkReport{id: id, n: got, last: time.Now()}
		if got < size {
			r.err = fmt.Errorf("target got %d of %d bytes: %v", got, size, err)
		}
		select {
		case t.reports <- r:
		default: // nobody waits for it any more
		}
		if r.err == nil {
			c.Write([]byte{'K'})
			io.Copy(io.Discard, c) // until the sender closes
		}
	}
}

// close stops the target and waits for its goroutines.
func (t *target) close() {
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	t.wg.Wait()
}

// payload is what bulk transfers send: incompressible, made once.
var payload = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{'t', 'e', 't', 'h', 'e', 'r'})
	r.Read(b)
	return b
}()

var nextID uint64

// bulk sends size bytes to the target through addr and returns the time
// from the first byte written to the last byte read by the target.
func bulk(ctx context.Context, t *target, addr string, size int64) (time.Duration, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	nextID++
	id := nextID
	h := make([]byte, 17)
	h[0] = modeBulk
	binary.BigEndian.PutUint64(h[1:], uint64(size))
	binary.BigEndian.PutUint64(h[9:], id)
	start := time.Now()
	if _, err := c.Write(h); err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	const chunk = 256 << 10
	for sent := int64(0); sent < size; {
		off := int(sent % int64(len(payload)-chunk))
		n, err := c.Write(payload[off : off+int(min(chunk, size-sent))])
		sent += int64(n)
		if err != nil {
			return 0, fmt.Errorf("send after %d of %d bytes: %w", sent, size, ctxErr(ctx, err))
		}
	}
	for {
		select {
		case r := <-t.reports:
			if r.id != id {
				continue // a transfer given up on earlier
			}
			if r.err != nil {
				return 0, r.err
			}
			var ack [1]byte
			if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 'K' {
				return 0, fmt.Errorf("no completion from the target: %v", ctxErr(ctx, err))
			}
			return r.last.Sub(start), nil
		case <-ctx.Done():
			return 0, fmt.Errorf("target did not receive all %d bytes: %w", size, ctx.Err())
		}
	}
}

// echo makes warm+n 1-byte round trips over one connection through addr and
// returns the durations of the last n.
func echo(ctx context.Context, addr string, warm, n int) ([]time.Duration, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Write([]byte{modeEcho}); err != nil {
		return nil, err
	}
	samples := make([]time.Duration, 0, n)
	out, in := make([]byte, 1), make([]byte, 1)
	for i := range warm + n {
		out[0] = byte(i)
		start := time.Now()
		if _, err := c.Write(out); err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, ctxErr(ctx, err))
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return nil, fmt.Errorf("round trip %d: %w", i, ctxErr(ctx, err))
		}
		d := time.Since(start)
		if in[0] != out[0] {
			return nil, fmt.Errorf("round trip %d: sent %d, got %d back", i, out[0], in[0])
		}
		if i >= warm {
			samples = append(samples, d)
		}
	}
	return samples, nil
}

// ctxErr prefers ctx's error: a timeout closes the connection, and the
// resulting "use of closed connection" says less.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}
