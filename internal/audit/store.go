package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/internal/store"
)

// Appender is the part of the store a StoreRecorder writes to.
type Appender interface {
	AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error
}

// StoreConfig configures a StoreRecorder.
type StoreConfig struct {
	Store  Appender
	Logger *slog.Logger
	// Queue is how many events may wait to be written (default 4096).
	Queue int
	// Batch is the most events written in one transaction (default 256).
	Batch int
	// EnqueueWait is how long Record waits for room in a full queue before
	// it drops the event (default 50 ms): long enough to ride out a slow
	// write, short enough that an API call never hangs on its audit trail.
	EnqueueWait time.Duration
	// WriteTimeout bounds one batch's write (default 10 s).
	WriteTimeout time.Duration
}

// Stats counts what a StoreRecorder did.
type Stats struct {
	Written int64 // events stored
	Failed  int64 // events whose write failed (logged)
	Dropped int64 // events dropped because the queue stayed full
}

// StoreRecorder records events in the store. Record only queues: one
// goroutine writes batches in the background, so a slow or failing store
// costs the caller nothing. Write failures are logged and counted, never
// returned. Close flushes the queue.
type StoreRecorder struct {
	cfg     StoreConfig
	queue   chan store.AuditEvent
	done    chan struct{}
	closeMu sync.RWMutex // held for reading while queueing, for writing by Close
	closed  bool

	written, failed, dropped atomic.Int64
	lastDropLog              atomic.Int64 // unix nanos of the last "dropped" log line
}

// NewStore starts a StoreRecorder. Call Close to stop it.
func NewStore(cfg StoreConfig) (*StoreRecorder, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit: a store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.EnqueueWait <= 0 {
		cfg.EnqueueWait = 50 * time.Millisecond
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	r := &StoreRecorder{cfg: cfg, queue: make(chan store.AuditEvent, cfg.Queue), done: make(chan struct{})}
	go r.run()
	return r, nil
}

// Record implements Recorder.
func (r *StoreRecorder) Record(_ context.Context, e Event) {
	se := ToStore(e)
	r.closeMu.RLock()
	defer r.closeMu.RUnlock()
	if r.closed {
		r.drop(se, "recorder closed")
		return
	}
	select {
	case r.queue <- se:
		return
	default:
	}
	t := time.NewTimer(r.cfg.EnqueueWait)
	defer t.Stop()
	select {
	case r.queue <- se:
	case <-t.C:
		r.drop(se, "queue full")
	}
}

func (r *StoreRecorder) drop(e store.AuditEvent, why string) {
	n := r.dropped.Add(1)
	// One line per second at most: a flood must not become a log flood.
	now := time.Now().UnixNano()
	last := r.lastDropLog.Load()
	if now-last > int64(time.Second) && r.lastDropLog.CompareAndSwap(last, now) {
		r.cfg.Logger.Error("audit event dropped", "reason", why, "event_id", e.ID, "action", e.Action, "dropped_total", n)
	}
}

func (r *StoreRecorder) run() {
	defer close(r.done)
	batch := make([]store.AuditEvent, 0, r.cfg.Batch)
	for e := range r.queue {
		batch = append(batch[:0], e)
	fill:
		for len(batch) < r.cfg.Batch {
			select {
			case e, ok := <-r.queue:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		r.write(batch)
	}
}

func (r *StoreRecorder) write(batch []store.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.WriteTimeout)
	defer cancel()
	err := r.cfg.Store.AppendAuditEvents(ctx, batch)
	if err != nil {
		// One retry: a batch is idempotent by event id.
		err = r.cfg.Store.AppendAuditEvents(ctx, batch)
	}
	if err != nil {
		n := r.failed.Add(int64(len(batch)))
		r.cfg.Logger.Error("write audit events", "err", err, "events", len(batch), "failed_total", n)
		return
	}
	r.written.Add(int64(len(batch)))
}

// Stats returns the counters.
func (r *StoreRecorder) Stats() Stats {
	return Stats{Written: r.written.Load(), Failed: r.failed.Load(), Dropped: r.dropped.Load()}
}

// Close stops accepting events and waits until the queue is written or ctx
// ends. Calling it again is harmless.
func (r *StoreRecorder) Close(ctx context.Context) error {
	r.closeMu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.closeMu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: flush on close: %w (%d events may be lost)", ctx.Err(), len(r.queue))
	}
}

// NewID returns a fresh event id: the time in milliseconds (hex, fixed
// width, so ids of different milliseconds sort like their times) and 64
// random bits.
func NewID(t time.Time) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%012x-%s", t.UnixMilli(), hex.EncodeToString(b[:]))
}

// ToStore converts an event to its stored form, assigning an id and a time
// if it has none.
func ToStore(e Event) store.AuditEvent {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	return store.AuditEvent{
		ID: e.ID, Time: e.Time.UTC(), Kind: e.Kind, Principal: e.Principal, Action: e.Action,
		Resource: e.Resource, SourceIP: e.SourceIP, Outcome: e.Outcome, ErrorCode: e.ErrorCode,
		Reason: e.Reason, RequestID: e.RequestID, Parameters: string(e.Parameters), Details: e.Details,
	}
}

// FromStore converts a stored event back.
func FromStore(se store.AuditEvent) Event {
	e := Event{
		ID: se.ID, Time: se.Time, Kind: se.Kind, Principal: se.Principal, Action: se.Action,
		Resource: se.Resource, SourceIP: se.SourceIP, Outcome: se.Outcome, ErrorCode: se.ErrorCode,
		Reason: se.Reason, RequestID: se.RequestID, Details: se.Details,
	}
	if se.Parameters != "" {
		e.Parameters = []byte(se.Parameters)
	}
	return e
}

// Log is the server's audit trail: every event goes to the JSON-lines file
// (synchronously, as before) and to the store (queued), with the same id
// and time in both, so the two can be matched.
type Log struct {
	File  *File
	Store *StoreRecorder
}

// Record implements Recorder.
func (l *Log) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.ID == "" {
		e.ID = NewID(e.Time)
	}
	if l.File != nil {
		l.File.Record(ctx, e)
	}
	if l.Store != nil {
		l.Store.Record(ctx, e)
	}
}

// Close flushes the store recorder (waiting at most 5 s) and closes the
// file. Call it before closing the store.
func (l *Log) Close() error {
	var errs []error
	if l.Store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, l.Store.Close(ctx))
		cancel()
	}
	if l.File != nil {
		errs = append(errs, l.File.Close())
	}
	return errors.Join(errs...)
}
