package wstransport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestEcho sends messages of every header size through Dial and Accept,
// plain and over TLS, singly and in batches, while both libraries answer
// pings on the same connections: the frames this package encodes must
// decode in the websocket library and never interleave with its own.
func TestEcho(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) { testEcho(t, secure, false) })
	}
	// Through an https proxy the client's TLS to the server runs inside
	// the TLS to the proxy: the library writes, frames still arrive whole.
	t.Run("tls=true,https-proxy", func(t *testing.T) { testEcho(t, true, true) })
}

// connectProxy serves CONNECT over TLS, as an https proxy does.
func connectProxy(t *testing.T) *httptest.Server {
	p := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		brw.Flush()
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(c, up)
		c.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func testEcho(t *testing.T, secure, proxied bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pings sync.WaitGroup
	defer pings.Wait()
	defer cancel()
	accepted := make(chan *Conn, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		tc.C.SetReadLimit(4 << 20)
		accepted <- tc
		pings.Go(func() { ping(ctx, tc) })
		for {
			b, err := tc.ReadMessage(ctx)
			if err != nil {
				return
			}
			// Echo twice, as one batch.
			if err := tc.WriteMessages(ctx, [][]byte{b, b}); err != nil {
				return
			}
		}
	}))
	u := startServer(t, srv, secure)
	if !strings.HasPrefix(u, map[bool]string{false: "ws:", true: "wss:"}[secure]) {
		t.Fatalf("url %s", u)
	}
	hc := srv.Client()
	if proxied {
		pu, _ := url.Parse(connectProxy(t).URL)
		// httptest's servers share one certificate, which hc trusts.
		hc.Transport.(*http.Transport).Proxy = http.ProxyURL(pu)
	}
	c, _, err := Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.C.CloseNow()
	c.C.SetReadLimit(4 << 20)
	sc := <-accepted
	// Both ends take the path that encodes frames itself, except a client
	// whose TLS the transport does, inside the proxy's.
	if (c.out == nil) != proxied || sc.out == nil || !c.client || sc.client {
		t.Fatalf("client out=%T client=%v, server out=%T", c.out, c.client, sc.out)
	}
	pings.Go(func() { ping(ctx, c) })

	sizes := []int{0, 1, 125, 126, 127, 4095, 4096, 65535, 65536, 65537, 1 << 20}
	var sent [][]byte
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rand.Uint32())
		}
		sent = append(sent, b)
		if i%2 == 0 {
			err = c.WriteMessage(ctx, b)
		} else {
			err = c.WriteMessages(ctx, [][]byte{b})
		}
		if err != nil {
			t.Fatalf("write %d bytes: %v", n, err)
		}
	}
	for _, b := range sent {
		for k := range 2 {
			got, err := c.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read echo %d of %d bytes: %v", k, len(b), err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("echo %d of %d bytes differs (got %d bytes)", k, len(b), len(got))
			}
			c.RecycleFrame(got)
		}
	}
}

// startServer serves srv on a corked listener, with TLS if secure, until
// the test ends, and returns its websocket URL.
func startServer(t *testing.T, srv *httptest.Server, secure bool) string {
	t.Helper()
	srv.Listener = CorkListener(srv.Listener)
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	u, err := WebsocketURL(srv.URL, "/")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ping pings until ctx ends or the connection fails; the peer's library
// answers with a pong written between our messages.
func ping(ctx context.Context, c *Conn) {
	for ctx.Err() == nil {
		if c.C.Ping(ctx) != nil {
			return
		}
	}
}

func TestAppendFrameHeader(t *testing.T) {
	for _, c := range []struct {
		n    int
		mask bool
		want []byte
	}{
		{0, false, []byte{0x82, 0}},
		{125, false, []byte{0x82, 125}},
		{126, false, []byte{0x82, 126, 0, 126}},
		{65535, false, []byte{0x82, 126, 0xff, 0xff}},
		{65536, false, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{3, true, []byte{0x82, 0x83}},
	} {
		f := appendFrame(nil, make([]byte, c.n), c.mask)
		if !bytes.HasPrefix(f, c.want) {
			t.Errorf("%d bytes, mask %v: header % x, want % x", c.n, c.mask, f[:len(c.want)], c.want)
		}
		extra := 0
		if c.mask {
			extra = 4
		}
		if len(f) != len(c.want)+extra+c.n {
			t.Errorf("%d bytes, mask %v: frame is %d bytes", c.n, c.mask, len(f))
		}
		if c.mask {
			// Zeros masked are the key itself, repeated.
			key := f[len(c.want) : len(c.want)+4]
			for i, v := range f[len(c.want)+4:] {
				if v != key[i%4] {
					t.Fatalf("byte %d masked to %x, key % x", i, v, key)
				}
			}
		}
	}
}

// TestReadAfterWriteError: when a write fails because the peer went away,
// what the peer sent before it went is still read. The relay depends on it
// to forward a client's last messages (the plugin's input and its
// TerminateSession flag) after the client has closed its socket.
func TestReadAfterWriteError(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			gone := make(chan struct{})
			result := make(chan string, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc, err := Accept(w, r, nil)
				if err != nil {
					result <- "accept: " + err.Error()
					return
				}
				defer tc.C.CloseNow()
				<-gone
				// The first write may still be taken by the kernel; the
				// peer's reset fails a later one.
				var werr error
				for i := 0; i < 200 && werr == nil; i++ {
					werr = tc.WriteMessage(ctx, []byte("to nobody"))
					time.Sleep(5 * time.Millisecond)
				}
				if werr == nil {
					result <- "writes to a closed peer kept succeeding"
					return
				}
				if err := tc.WriteMessage(ctx, []byte("again")); err == nil {
					result <- "a write after a failed one succeeded"
					return
				}
				b, err := tc.ReadMessage(ctx)
				if err != nil {
					result <- fmt.Sprintf("read after the write error %v: %v", werr, err)
					return
				}
				result <- string(b)
			}))
			u := startServer(t, srv, secure)
			c, _, err := Dial(ctx, u, &websocket.DialOptions{HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WriteMessage(ctx, []byte("last words")); err != nil {
				t.Fatal(err)
			}
			c.C.CloseNow()
			close(gone)
			if got := <-result; got != "last words" {
				t.Fatal(got)
			}
		})
	}
}

// pair returns a connection made by Dial and its peer made by Accept.
func pair(t *testing.T, secure bool) (client, server *Conn) {
	t.Helper()
	accepted := make(chan *Conn, 1)
	done := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tc, err := Accept(w, r, nil)
		if err != nil {
			return
		}
		tc.C.SetReadLimit(-1)
		accepted <- tc
		<-done
		tc.C.CloseNow()
	}))
	u := startServer(t, srv, secure)
	t.Cleanup(func() { close(done) }) // before srv.Close, which waits for the handler
	c, _, err := Dial(t.Context(), u, &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c.C.SetReadLimit(-1)
	t.Cleanup(func() { c.C.CloseNow() })
	return c, <-accepted
}

// wantCanceled waits for the result of an operation (op) whose context
// was just cancelled: context.Canceled, within 5 s.
func wantCanceled(t *testing.T, op string, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s whose context ended: %v, want context.Canceled", op, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s still waiting 5 s after its context ended", op)
	}
}

// TestContextEndsRead: a read waiting when its context ends returns the
// context's error and closes the connection, as the library's reads do;
// a context that ends after its read finished closes nothing.
func TestContextEndsRead(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			c, s := pair(t, secure)
			send := func(m string) {
				t.Helper()
				if err := c.WriteMessage(t.Context(), []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			send("one")
			a, cancelA := context.WithCancel(t.Context())
			if b, err := s.ReadMessage(a); err != nil || string(b) != "one" {
				t.Fatalf("read = %q, %v", b, err)
			}
			cancelA()
			time.Sleep(50 * time.Millisecond)
			send("two")
			if b, err := s.ReadMessage(t.Context()); err != nil || string(b) != "two" {
				t.Fatalf("after the first read's context ended: read = %q, %v", b, err)
			}

			waiting, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				_, err := s.ReadMessage(waiting)
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond)
			cancel()
			wantCanceled(t, "read", errc)
			rctx, rcancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer rcancel()
			if _, err := c.ReadMessage(rctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("peer's read: %v; want the connection closed", err)
			}
		})
	}
}

// TestContextEndsWrite: a write stuck on a peer that does not read returns
// once its context ends; a context that ends after its write finished
// closes nothing.
func TestContextEndsWrite(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			c, s := pair(t, secure)
			a, cancelA := context.WithCancel(t.Context())
			if err := c.WriteMessage(a, []byte("one")); err != nil {
				t.Fatal(err)
			}
			cancelA()
			time.Sleep(50 * time.Millisecond)
			if err := c.WriteMessages(t.Context(), [][]byte{[]byte("two")}); err != nil {
				t.Fatalf("write after an earlier write's context ended: %v", err)
			}
			for _, want := range []string{"one", "two"} {
				if b, err := s.ReadMessage(t.Context()); err != nil || string(b) != want {
					t.Fatalf("read = %q, %v; want %q", b, err, want)
				}
			}

			// Nobody reads s from now on: the socket fills and a write waits.
			stuck, cancel := context.WithCancel(t.Context())
			errc := make(chan error, 1)
			go func() {
				big := make([]byte, 1<<20)
				for {
					if err := c.WriteMessage(stuck, big); err != nil {
						errc <- err
						return
					}
				}
			}()
			time.Sleep(300 * time.Millisecond)
			cancel()
			wantCanceled(t, "write", errc)
		})
	}
}

// TestCorkListenerCloseWrite: a connection from CorkListener half-closes
// as the TCP connection beneath it does, which net/http relies on.
func TestCorkListenerCloseWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := CorkListener(ln)
	defer cl.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := cl.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer server.Close()
	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T has no CloseWrite", server)
	}
	if _, err := server.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(client); err != nil || string(b) != "last" {
		t.Fatalf("client read %q, %v; want \"last\" then EOF", b, err)
	}
	// Half closed: the server still reads.
	if _, err := client.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "reply" {
		t.Fatalf("server read %q, %v after CloseWrite", buf, err)
	}
}
