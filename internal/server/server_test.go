package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/config"
	"github.com/tetherhq/tether/internal/datachannel"
)

// startServer serves on a free loopback port; stop ends it (idempotent) and
// returns Serve's error.
func startServer(t *testing.T) (s *Server, stop func() error) {
	t.Helper()
	s, err := New(t.Context(), config.Server{Listen: "127.0.0.1:0", DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr error
	go func() {
		serveErr = s.Serve(ctx)
		close(done)
	}()
	stop = func() error {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Serve did not return 20 s after cancel")
		}
		return serveErr
	}
	t.Cleanup(func() { stop() })
	return s, stop
}

// settle waits until the goroutine count is at most want.
func settle(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHostileConnectionsLeakNothing opens and abandons sockets in every way
// a hostile or broken peer might, and checks the server's goroutines return
// to where they were.
func TestHostileConnectionsLeakNothing(t *testing.T) {
	s, _ := startServer(t)
	base := s.URL()
	ws := "ws" + strings.TrimPrefix(base, "http")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// Warm up the HTTP server and database pools before taking the baseline.
	for range 3 {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	time.Sleep(100 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	dial := func(path string) *websocket.Conn {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, ws+path, &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	readUntilClosed := func(c *websocket.Conn) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}
	for i := range 5 {
		// Data channel: bad token, garbage first frame, abandon before the
		// first frame, malformed binary frame after a bad open.
		c := dial(fmt.Sprintf("/v1/data-channel/admin-%017x?role=publish_subscribe", i))
		open, _ := json.Marshal(datachannel.OpenDataChannelInput{MessageSchemaVersion: "1.0", TokenValue: "nope"})
		c.Write(t.Context(), websocket.MessageText, open)
		readUntilClosed(c)

		c = dial("/v1/data-channel/x")
		c.Write(t.Context(), websocket.MessageText, []byte("{{{"))
		readUntilClosed(c)

		c = dial("/v1/data-channel/y")
		c.CloseNow()

		c = dial("/v1/data-channel/z")
		c.Write(t.Context(), websocket.MessageBinary, []byte("garbage"))
		c.CloseNow()

		// Control channel: bad token; abandoned.
		c = dial("/v1/control-channel/mi-0123456789abcdef0")
		ob, _ := json.Marshal(api.OpenControlChannelInput{MessageSchemaVersion: "1.0", TokenValue: "nope"})
		c.Write(t.Context(), websocket.MessageText, ob)
		readUntilClosed(c)
		c = dial("/v1/control-channel/mi-0123456789abcdef0")
		c.CloseNow()

		// Agent endpoints and the API with nonsense.
		for _, path := range []string{"/v1/agent/register", "/v1/control-channel/mi-0123456789abcdef0", "/v1/data-channel/s", "/"} {
			resp, err := client.Post(base+path, "application/json", bytes.NewReader([]byte(`{"garbage":`)))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode < 400 {
				t.Errorf("POST %s with garbage: %d", path, resp.StatusCode)
			}
			resp.Body.Close()
		}
	}
	// Abandoned sockets that never send a first frame are closed by the
	// server after OpenTimeout; CloseNow above ends them sooner.
	settle(t, baseline+2)
}

func TestShutdownReturnsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	s, stop := startServer(t)
	resp, err := http.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	settle(t, before+1)
}
