// Package wstransport adapts a websocket connection to datachannel.Transport
// and turns http(s) endpoints into ws(s) URLs. Imported by the agent and CLI.
package wstransport

import (
	"bytes"
	"context"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// Conn is a websocket carrying binary data-channel frames.
type Conn struct {
	C   *websocket.Conn
	buf bytes.Buffer // reused across reads: messages are ~32 KiB each
}

// New wraps c.
func New(c *websocket.Conn) *Conn { return &Conn{C: c} }

// ReadMessage returns the next binary frame (a copy the caller owns); text
// frames are skipped.
func (t *Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := ReadFrame(ctx, t.C, &t.buf)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			return b, nil
		}
	}
}

// ReadFrame reads one websocket message through buf, which keeps its
// capacity between calls (io.ReadAll would regrow from 512 bytes for every
// message), and returns an exactly sized copy.
func ReadFrame(ctx context.Context, c *websocket.Conn, buf *bytes.Buffer) (websocket.MessageType, []byte, error) {
	typ, r, err := c.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return 0, nil, err
	}
	return typ, bytes.Clone(buf.Bytes()), nil
}

// WriteMessage sends one binary frame.
func (t *Conn) WriteMessage(ctx context.Context, b []byte) error {
	return t.C.Write(ctx, websocket.MessageBinary, b)
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
