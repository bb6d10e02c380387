package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/blob"
	"github.com/tetherhq/tether/internal/recording"
)

// setupRecording builds the transcript service: staging in the data dir,
// the local folder <data-dir>/transcripts for sessions whose preferences
// name no bucket, S3 (one client per bucket) for those that do, and the
// live stream sinks from the configuration.
func (s *Server) setupRecording(auditLog audit.Recorder) (*recording.Service, error) {
	local, err := blob.NewLocal(filepath.Join(s.cfg.DataDir, "transcripts"))
	if err != nil {
		return nil, fmt.Errorf("transcript folder: %w", err)
	}
	s.closers = append(s.closers, local.Close)
	var sinks []recording.Sink
	if s.cfg.SessionStreamFile != "" {
		f, err := os.OpenFile(s.cfg.SessionStreamFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("session_stream_file: %w", err)
		}
		s.closers = append(s.closers, f.Close)
		sinks = append(sinks, recording.NewWriterSink(f, s.log))
	}
	if s.cfg.SessionStreamStdout {
		sinks = append(sinks, recording.NewWriterSink(os.Stdout, s.log))
	}
	var mu sync.Mutex
	buckets := map[string]blob.Store{}
	s3cfg := blob.S3Config{Endpoint: s.cfg.S3.EndpointURL, Region: s.cfg.S3.Region,
		AccessKeyID: s.cfg.S3.AccessKeyID, SecretAccessKey: s.cfg.S3.SecretAccessKey,
		AddressingStyle: s.cfg.S3.AddressingStyle, Logger: s.log}
	openS3 := func(ctx context.Context, bucket, _ string) (blob.Store, error) {
		mu.Lock()
		defer mu.Unlock()
		if bs := buckets[bucket]; bs != nil {
			return bs, nil
		}
		bs, err := blob.NewS3(ctx, bucket, s3cfg)
		if err != nil {
			return nil, err
		}
		buckets[bucket] = bs
		return bs, nil
	}
	return recording.New(recording.Config{DataDir: s.cfg.DataDir, Store: s.store, Local: local, S3: openS3,
		Sinks: sinks, Bus: s.bus, Audit: auditLog, Region: s.cfg.Region, Logger: s.log.With("component", "recording")})
}
