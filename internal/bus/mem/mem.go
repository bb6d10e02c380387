// Package mem is the in-process bus.Bus: one tetherd, no network. Publish
// blocks while a subscriber's buffer is full, so a slow websocket pushes back
// on the sender instead of growing memory.
package mem

import (
	"context"
	"errors"
	"sync"

	"github.com/tetherhq/tether/internal/bus"
)

// Buffer is each subscription's channel capacity in messages.
const Buffer = 64

// Bus is an in-process bus.Bus.
type Bus struct {
	mu   sync.RWMutex
	subs map[string]map[*sub]struct{}
}

// New returns an empty bus.
func New() *Bus { return &Bus{subs: map[string]map[*sub]struct{}{}} }

type sub struct {
	b       *Bus
	subject string
	ch      chan []byte
	done    chan struct{}
	once    sync.Once
	// sending counts Publish calls delivering to ch, so Close can wait for
	// them before closing ch.
	sending sync.WaitGroup
}

func (s *sub) C() <-chan []byte { return s.ch }

func (s *sub) Close() error {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs[s.subject], s)
		if len(s.b.subs[s.subject]) == 0 {
			delete(s.b.subs, s.subject)
		}
		close(s.done)
		s.b.mu.Unlock()
		s.sending.Wait()
		close(s.ch)
	})
	return nil
}

// ErrClosed is returned when publishing to a subscriber that closed mid-send.
var errClosed = errors.New("subscription closed")

// Subscribe implements bus.Bus.
func (b *Bus) Subscribe(_ context.Context, subject string) (bus.Subscription, error) {
	s := &sub{b: b, subject: subject, ch: make(chan []byte, Buffer), done: make(chan struct{})}
	b.mu.Lock()
	if b.subs[subject] == nil {
		b.subs[subject] = map[*sub]struct{}{}
	}
	b.subs[subject][s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// Publish implements bus.Bus. The data slice is handed to subscribers as is:
// callers must not modify it afterwards.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	b.mu.RLock()
	targets := make([]*sub, 0, len(b.subs[subject]))
	for s := range b.subs[subject] {
		s.sending.Add(1)
		targets = append(targets, s)
	}
	b.mu.RUnlock()
	var firstErr error
	for _, s := range targets {
		err := s.deliver(ctx, data)
		s.sending.Done()
		if err != nil && !errors.Is(err, errClosed) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (s *sub) deliver(ctx context.Context, data []byte) error {
	select {
	case s.ch <- data:
		return nil
	case <-s.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}
