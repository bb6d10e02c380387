// Package logging builds the slog.Logger the binaries use: text on stderr,
// JSON when TETHER_LOG_FORMAT=json, level from a name.
package logging

import (
	"io"
	"log/slog"
	"os"
)

// New returns a logger writing to w at level (debug, info, warn, error).
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if os.Getenv("TETHER_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
