// Package wstransport adapts a websocket connection to datachannel.Transport
// and turns http(s) endpoints into ws(s) URLs. Imported by the agent and CLI.
package wstransport

import (
	"context"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// Conn is a websocket carrying binary data-channel frames.
type Conn struct {
	C *websocket.Conn
}

// ReadMessage returns the next binary frame; text frames are skipped.
func (t Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := t.C.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			return b, nil
		}
	}
}

// WriteMessage sends one binary frame.
func (t Conn) WriteMessage(ctx context.Context, b []byte) error {
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
