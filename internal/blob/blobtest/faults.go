package blobtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
)

// FaultKind is a way for a request to fail.
type FaultKind int

const (
	// ResetBeforeSend fails the request with "connection reset by peer"
	// before it leaves: the server sees nothing.
	ResetBeforeSend FaultKind = iota
	// ResetMidBody sends the request but cuts its body after half of it
	// and fails with "connection reset by peer": the server sees a
	// truncated upload (requests without a body fail as ResetBeforeSend).
	ResetMidBody
	// ResetAfterResponse lets the server handle the request, then throws
	// the answer away and fails with "connection reset by peer".
	ResetAfterResponse
	// ServerError answers 500 InternalError without reaching the server.
	ServerError
)

func (k FaultKind) String() string {
	switch k {
	case ResetBeforeSend:
		return "reset before send"
	case ResetMidBody:
		return "reset mid-body"
	case ResetAfterResponse:
		return "reset after response"
	case ServerError:
		return "500 InternalError"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is one rule of a FaultTransport.
type Fault struct {
	Kind FaultKind
	// Method limits the rule to requests with that method ("" any).
	Method string
	// Skip lets that many matching requests through before the rule
	// starts failing them.
	Skip int
	// Times is how many matching requests fail; negative: every one until
	// Heal.
	Times int
}

// FaultTransport is an http.RoundTripper that injects faults in front of
// a real transport. Implementations whose Store talks HTTP put one in
// their client and hand it to the suite in Env.Faults.
type FaultTransport struct {
	Base http.RoundTripper // nil: http.DefaultTransport

	mu       sync.Mutex
	rules    []*Fault
	injected int
	log      []string
}

// Inject adds rules; a request is matched against the rules in order and
// takes the first that applies.
func (f *FaultTransport) Inject(rules ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rules {
		f.rules = append(f.rules, &r)
	}
}

// Heal removes every rule.
func (f *FaultTransport) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Injected is how many faults were injected so far.
func (f *FaultTransport) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// Log lists the injected faults ("PUT /bucket/key?partNumber=2: reset
// mid-body"), for test failure messages.
func (f *FaultTransport) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// pick returns the fault to inject into req, if any.
func (f *FaultTransport) pick(req *http.Request) (FaultKind, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.Method != "" && r.Method != req.Method {
			continue
		}
		if r.Times == 0 {
			continue
		}
		if r.Skip > 0 {
			r.Skip--
			return 0, false
		}
		if r.Times > 0 {
			r.Times--
		}
		f.injected++
		f.log = append(f.log, fmt.Sprintf("%s %s: %v", req.Method, req.URL.RequestURI(), r.Kind))
		return r.Kind, true
	}
	return 0, false
}

// RoundTrip implements http.RoundTripper.
func (f *FaultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := f.Base
	if base == nil {
		base = http.DefaultTransport
	}
	kind, ok := f.pick(req)
	if !ok {
		return base.RoundTrip(req)
	}
	if kind == ResetMidBody && (req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0) {
		kind = ResetBeforeSend
	}
	switch kind {
	case ResetMidBody:
		r := req.Clone(req.Context())
		r.Body = &cutBody{rc: req.Body, left: max(req.ContentLength/2, 1)}
		resp, err := base.RoundTrip(r)
		if err == nil {
			// The server answered before reading the whole body (an
			// early error): that is still a broken connection here.
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, errReset()
	case ResetAfterResponse:
		resp, err := base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errReset()
	case ServerError:
		if req.Body != nil {
			req.Body.Close()
		}
		const body = `<?xml version="1.0" encoding="UTF-8"?>` +
			`<Error><Code>InternalError</Code><Message>injected by blobtest</Message></Error>`
		return &http.Response{
			Status:        "500 Internal Server Error",
			StatusCode:    http.StatusInternalServerError,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{"Content-Type": {"application/xml"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
		}, nil
	default:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errReset()
	}
}

// errReset is what a reset TCP connection looks like to an HTTP client.
func errReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// cutBody yields left bytes of rc, then fails as a reset connection.
type cutBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errReset()
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return c.rc.Close() }
