// Package ssmapi serves the awsJson1_1 API: POST / with X-Amz-Target. It caps
// and reads the body, authenticates the caller (SigV4), dispatches to the
// registered operation and renders results and errors exactly as AWS does.
// Operations live in the packages that own them (fleet, session, ...) and
// register here. Server-side only.
package ssmapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/auth"
)

// MaxBodySize caps request bodies; larger ones get RequestEntityTooLarge.
const MaxBodySize = 1 << 20

// Handler runs one operation for an authenticated principal. It returns the
// output (marshalled to JSON) or an error (an *api.Error renders as is; any
// other error is an InternalServerError whose text is logged, not returned).
type Handler func(ctx context.Context, p *auth.Principal, body []byte) (any, error)

// Op adapts a typed operation to a Handler, decoding its input strictly
// enough to report bad JSON as AWS does (SerializationException).
func Op[In any](f func(ctx context.Context, p *auth.Principal, in *In) (any, error)) Handler {
	return func(ctx context.Context, p *auth.Principal, body []byte) (any, error) {
		in := new(In)
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				return nil, api.Errorf(api.CodeSerialization, "%s", describeJSONError(err))
			}
		}
		return f(ctx, p, in)
	}
}

func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
	default:
		return "malformed JSON: " + err.Error()
	}
}

// Authenticator is the subset of auth.Authority the dispatcher uses.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, body []byte) (*auth.Principal, error)
}

// Call is what an Observer learns of one API request.
type Call struct {
	Op        string          // X-Amz-Target as sent (may be anything for a refused call)
	Principal *auth.Principal // nil when authentication failed
	Request   *http.Request
	RequestID string // the x-amzn-RequestId answered
	// Body is the request body as received. It may hold secrets: record it
	// only through audit.Redact (Event does).
	Body   []byte
	Output any   // the operation's result; nil on error. It may hold secrets.
	Err    error // nil, an *api.Error, or an internal error (answered as InternalServerError)
	Start  time.Time
}

// Observer receives one call per API request, after the operation ran and
// before the answer is written, for audit and metrics. It must be quick.
type Observer func(ctx context.Context, c *Call)

// Mux dispatches API requests.
type Mux struct {
	auth     Authenticator
	log      *slog.Logger
	ops      map[string]Handler
	observer Observer
}

// New returns a Mux with no operations.
func New(a Authenticator, log *slog.Logger) *Mux {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mux{auth: a, log: log, ops: map[string]Handler{}}
}

// Handle registers an operation under its full target, e.g.
// "AmazonSSM.StartSession".
func (m *Mux) Handle(target string, h Handler) { m.ops[target] = h }

// Observe sets a function called after each request.
func (m *Mux) Observe(o Observer) { m.observer = o }

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	if r.Method != http.MethodPost {
		writeError(w, &api.Error{Status: http.StatusMethodNotAllowed, Code: api.CodeUnknownOperation, Message: "the API accepts only POST /"})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, &api.Error{Status: http.StatusRequestEntityTooLarge, Code: api.CodeRequestEntityTooLarge,
				Message: fmt.Sprintf("request body exceeds %d bytes", MaxBodySize)})
			return
		}
		writeError(w, api.Errorf(api.CodeSerialization, "could not read the request body"))
		return
	}
	ctx := r.Context()
	c := &Call{Op: target, Request: r, RequestID: reqID, Body: body, Start: start}
	p, err := m.auth.Authenticate(ctx, r, body)
	if err != nil {
		c.Err = err
		m.finish(ctx, w, c)
		return
	}
	c.Principal = p
	h, ok := m.ops[target]
	if !ok {
		c.Err = &api.Error{Status: http.StatusBadRequest, Code: api.CodeUnknownOperation,
			Message: fmt.Sprintf("unknown operation %q", target)}
		m.finish(ctx, w, c)
		return
	}
	c.Output, c.Err = h(ctx, p, body)
	m.finish(ctx, w, c)
}

func (m *Mux) finish(ctx context.Context, w http.ResponseWriter, c *Call) {
	if m.observer != nil {
		m.observer(ctx, c)
	}
	target, out, err, reqID := c.Op, c.Output, c.Err, c.RequestID
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			m.log.Error("api operation failed", "op", target, "request_id", reqID, "err", err)
			ae = &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal,
				Message: "internal error; request id " + reqID}
		}
		writeError(w, ae)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, merr := json.Marshal(out)
	if merr != nil {
		m.log.Error("marshal api output", "op", target, "err", merr)
		writeError(w, &api.Error{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: "internal error"})
		return
	}
	w.Header().Set("Content-Type", api.ContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *api.Error) {
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Header().Set("Content-Type", api.ContentType)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	w.Write(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
