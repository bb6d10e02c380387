package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// HTTPBackend serves GET /?i=K with "reply K" on addr (host:0) and returns
// its port: the far end of port-forwarding tests.
func HTTPBackend(t testing.TB, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "reply %s", r.URL.Query().Get("i"))
	})}
	done := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// ConcurrentGets makes n HTTP requests at once, each on its own connection,
// to http://hostPort (an HTTPBackend, usually through a tunnel) and fails
// the test for every one that does not get its own reply.
func ConcurrentGets(t testing.TB, hostPort string, n int) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(fmt.Sprintf("http://%s/?i=%d", hostPort, i))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || string(b) != fmt.Sprintf("reply %d", i) {
				errs <- fmt.Errorf("request %d: %s %q %v", i, resp.Status, b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
