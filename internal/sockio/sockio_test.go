//go:build linux

package sockio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(acc)
			return
		}
		acc <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-acc
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func raw(t *testing.T, sys sysFunc, c any) *Socket {
	t.Helper()
	s := newWith(c, sys)
	if s == nil {
		t.Fatalf("New(%T) = nil", c)
	}
	return s
}

// forEachSys runs test with raw system calls (Linux's default) and with
// package syscall's (the other Unix systems' default).
func forEachSys(t *testing.T, test func(*testing.T, sysFunc)) {
	t.Run("raw", func(t *testing.T) { test(t, sysRaw) })
	t.Run("portable", func(t *testing.T) { test(t, sysPortable) })
}

func TestRawOnlySockets(t *testing.T) {
	a, _ := net.Pipe()
	defer a.Close()
	if New(a) != nil {
		t.Error("New(net.Pipe) is not nil: its end is not a socket")
	}
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if New(f) != nil {
		t.Error("New(*os.File) is not nil: a file's descriptor may block")
	}
}

// TestReadWriteLarge sends more than the socket buffers hold, so that the
// writer meets EAGAIN and waits, and the reader reads in pieces; the bytes
// must arrive whole and in order, then EOF.
func TestReadWriteLarge(t *testing.T) { forEachSys(t, testReadWriteLarge) }

func testReadWriteLarge(t *testing.T, sys sysFunc) {
	a, b := tcpPair(t)
	ra, rb := raw(t, sys, a), raw(t, sys, b)
	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	werr := make(chan error, 1)
	go func() {
		n, err := ra.Write(want)
		if err == nil && n != len(want) {
			err = errors.New("short write")
		}
		a.CloseWrite()
		werr <- err
	}()
	var got bytes.Buffer
	buf := make([]byte, 100_000)
	for {
		n, err := rb.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if n == 0 {
			t.Fatal("Read returned 0 bytes and no error")
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("received %d bytes that differ from the %d sent", got.Len(), len(want))
	}
	if n, err := rb.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

func TestReadDeadline(t *testing.T) { forEachSys(t, testReadDeadline) }

func testReadDeadline(t *testing.T, sys sysFunc) {
	_, b := tcpPair(t)
	b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := raw(t, sys, b).Read(make([]byte, 10))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a net.Error timeout", err)
	}
}

// TestCloseUnblocksRead: Close from another goroutine ends a waiting
// Read with net.ErrClosed, as it does net.Conn's.
func TestCloseUnblocksRead(t *testing.T) { forEachSys(t, testCloseUnblocksRead) }

func testCloseUnblocksRead(t *testing.T, sys sysFunc) {
	_, b := tcpPair(t)
	rb := raw(t, sys, b)
	done := make(chan error, 1)
	go func() {
		_, err := rb.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close: %v, want net.ErrClosed", err)
		}
		if !strings.HasPrefix(err.Error(), "read tcp ") {
			t.Errorf("error %q is not worded as net's", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5 s after Close")
	}
}

// TestWriteToResetPeer: writing to a peer that closed with unread data
// (so the kernel reset the connection) fails with the system's error.
func TestWriteToResetPeer(t *testing.T) { forEachSys(t, testWriteToResetPeer) }

func testWriteToResetPeer(t *testing.T, sys sysFunc) {
	a, b := tcpPair(t)
	ra := raw(t, sys, a)
	if _, err := ra.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	b.Close() // unread data: RST
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		_, err = ra.Write(make([]byte, 64<<10))
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write to a reset peer: %v, want ECONNRESET or EPIPE", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Errorf("error %v does not carry an *os.SyscallError", err)
	}
	// Worded as package net words it, addresses included.
	if want := a.LocalAddr().String() + "->" + a.RemoteAddr().String(); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the connection %s", err, want)
	}
}

// TestTryWriteNeverWaits fills the socket until TryWrite takes less than
// it was given, without blocking; what it took arrives in order.
func TestTryWriteNeverWaits(t *testing.T) { forEachSys(t, testTryWriteNeverWaits) }

func testTryWriteNeverWaits(t *testing.T, sys sysFunc) {
	a, b := tcpPair(t)
	ra := raw(t, sys, a)
	chunk := make([]byte, 256<<10)
	total := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			n := ra.TryWrite(chunk)
			total += n
			if n < len(chunk) {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("TryWrite blocked on a full socket")
	}
	if total == 0 || total%len(chunk) == 0 {
		t.Fatalf("TryWrite took %d bytes in all; want a partial chunk once the socket is full", total)
	}
	a.CloseWrite()
	n, err := io.Copy(io.Discard, b)
	if err != nil || n != int64(total) {
		t.Fatalf("peer read %d bytes (%v), TryWrite reported %d", n, err, total)
	}
	if ra.TryWrite(nil) != 0 {
		t.Error("TryWrite(nil) wrote something")
	}
}

func TestUnixSocket(t *testing.T) { forEachSys(t, testUnixSocket) }

func testUnixSocket(t *testing.T, sys sysFunc) {
	path := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := raw(t, sys, c)
	if _, err := rc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "ping" {
		t.Fatalf("echo = %q", buf)
	}
}

// TestNoAllocations: a message's read and write allocate nothing (the
// data path makes several per round trip).
func TestNoAllocations(t *testing.T) { forEachSys(t, testNoAllocations) }

func testNoAllocations(t *testing.T, sys sysFunc) {
	a, b := tcpPair(t)
	ra, rb := raw(t, sys, a), raw(t, sys, b)
	out, in := []byte("x"), make([]byte, 16)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := ra.Write(out); err != nil {
			t.Fatal(err)
		}
		if n, err := rb.Read(in); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		if rb.TryWrite(out) != 1 {
			t.Fatal("TryWrite took nothing")
		}
		if n, err := ra.Read(in); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per write, read, try-write and read; want 0", allocs)
	}
}
