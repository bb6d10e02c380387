package mem

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/internal/bus"
)

// wait is how long a test waits for something that should happen at once.
const wait = 10 * time.Second

func subscribe(t *testing.T, b *Bus, subject string) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(t.Context(), subject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func publish(t *testing.T, b *Bus, subject, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := b.Publish(ctx, subject, []byte(msg)); err != nil {
		t.Fatalf("Publish(%s, %q): %v", subject, msg, err)
	}
}

// receive returns the next message, failing if none comes or C is closed.
func receive(t *testing.T, s bus.Subscription) string {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return string(m)
	case <-time.After(wait):
		t.Fatal("no message")
		return ""
	}
}

// pending returns what is buffered in s without waiting, and whether C is
// closed.
func pending(s bus.Subscription) (msgs []string, closed bool) {
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				return msgs, true
			}
			msgs = append(msgs, string(m))
		default:
			return msgs, false
		}
	}
}

// waitBlockedInDeliver polls until n goroutines are parked in deliver's
// select, which is how a Publish waits for room.
func waitBlockedInDeliver(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 1<<20)
	for {
		stacks := string(buf[:runtime.Stack(buf, true)])
		got := 0
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, "mem.(*sub).deliver") {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d publishers blocked in deliver; want %d", got, n)
		}
		runtime.Gosched()
	}
}

// checkNoLeak fails the test if goroutines started during it outlive it.
func checkNoLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(wait)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			runtime.Gosched()
		}
	})
}

func TestDeliversToEverySubscriber(t *testing.T) {
	checkNoLeak(t)
	b := New()
	subs := []bus.Subscription{subscribe(t, b, "a"), subscribe(t, b, "a"), subscribe(t, b, "a")}
	other := subscribe(t, b, "b")
	for i := range Buffer {
		publish(t, b, "a", fmt.Sprint(i))
	}
	for n, s := range subs {
		for i := range Buffer {
			if got := receive(t, s); got != fmt.Sprint(i) {
				t.Fatalf("subscriber %d message %d = %q; want %d (publish order)", n, i, got, i)
			}
		}
	}
	if msgs, closed := pending(other); len(msgs) != 0 || closed {
		t.Errorf("subscriber of b got %q, closed %v; want nothing", msgs, closed)
	}
}

func TestPublishWithoutSubscriberDrops(t *testing.T) {
	b := New()
	// More than a buffer's worth: nothing may queue up or block.
	for i := range 2 * Buffer {
		publish(t, b, "nobody", fmt.Sprint(i))
	}
	s := subscribe(t, b, "nobody")
	publish(t, b, "nobody", "after")
	if got := receive(t, s); got != "after" {
		t.Errorf("late subscriber got %q; want only what was published after it subscribed", got)
	}
}

func TestNoDeliveryAfterClose(t *testing.T) {
	b := New()
	s := subscribe(t, b, "a")
	stays := subscribe(t, b, "a")
	publish(t, b, "a", "before")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	publish(t, b, "a", "after")
	msgs, closed := pending(s)
	if !closed || len(msgs) != 1 || msgs[0] != "before" {
		t.Errorf("closed subscription yields %q, closed %v; want [before] then closed", msgs, closed)
	}
	if got := []string{receive(t, stays), receive(t, stays)}; got[0] != "before" || got[1] != "after" {
		t.Errorf("remaining subscriber got %q; want [before after]", got)
	}
	stays.Close()
	b.mu.RLock()
	n := len(b.subs)
	b.mu.RUnlock()
	if n != 0 {
		t.Errorf("bus still tracks %d subjects after every subscription closed", n)
	}
}

// fill publishes Buffer messages so s's buffer is full.
func fill(t *testing.T, b *Bus, subject string) {
	t.Helper()
	for i := range Buffer {
		publish(t, b, subject, fmt.Sprint(i))
	}
}

func TestPublishBlocksWhileBufferFull(t *testing.T) {
	tests := []struct {
		name string
		// unblock frees the blocked Publish; it returns the error Publish
		// should return and whether the message should arrive.
		unblock func(t *testing.T, s bus.Subscription, cancel context.CancelFunc) (error, bool)
	}{
		{"subscriber reads", func(t *testing.T, s bus.Subscription, cancel context.CancelFunc) (error, bool) {
			if got := receive(t, s); got != "0" {
				t.Fatalf("first message %q", got)
			}
			return nil, true
		}, // the slot freed by reading "0" takes the blocked message
		},
		{"ctx cancelled", func(t *testing.T, s bus.Subscription, cancel context.CancelFunc) (error, bool) {
			cancel()
			return context.Canceled, false
		}},
		{"subscription closed", func(t *testing.T, s bus.Subscription, cancel context.CancelFunc) (error, bool) {
			closed := make(chan struct{})
			go func() { s.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(wait):
				t.Fatal("Close deadlocked with a publisher blocked")
			}
			return nil, false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeak(t)
			b := New()
			s := subscribe(t, b, "a")
			fill(t, b, "a")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- b.Publish(ctx, "a", []byte("blocked")) }()
			waitBlockedInDeliver(t, 1)
			select {
			case err := <-done:
				t.Fatalf("Publish returned %v with the buffer full", err)
			default:
			}
			wantErr, delivered := tt.unblock(t, s, cancel)
			select {
			case err := <-done:
				if !errors.Is(err, wantErr) {
					t.Errorf("Publish = %v; want %v", err, wantErr)
				}
			case <-time.After(wait):
				t.Fatal("Publish still blocked")
			}
			msgs, _ := pending(s)
			got := len(msgs) > 0 && msgs[len(msgs)-1] == "blocked"
			if got != delivered {
				t.Errorf("blocked message delivered = %v; want %v (buffered %q)", got, delivered, msgs)
			}
		})
	}
}

func TestPublishFullBufferHonoursDeadline(t *testing.T) {
	b := New()
	s := subscribe(t, b, "a")
	fill(t, b, "a")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := b.Publish(ctx, "a", []byte("late")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish to a full subscriber = %v; want DeadlineExceeded", err)
	}
	if msgs, _ := pending(s); len(msgs) != Buffer {
		t.Errorf("%d messages buffered; want %d", len(msgs), Buffer)
	}
}

// Close while publishers are blocked on it must neither deadlock nor make
// a publisher send on a closed channel. Run with -race.
func TestCloseDuringBlockedPublish(t *testing.T) {
	checkNoLeak(t)
	const publishers = 4
	b := New()
	s, err := b.Subscribe(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	fill(t, b, "a")
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for i := range publishers {
		wg.Go(func() { errs <- b.Publish(t.Context(), "a", []byte(fmt.Sprint("p", i))) })
	}
	waitBlockedInDeliver(t, publishers)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close deadlocked with publishers blocked")
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Publish to a subscription closed under it = %v; want nil (dropped)", err)
		}
	}
	msgs, isClosed := pending(s)
	if !isClosed || len(msgs) != Buffer {
		t.Errorf("after Close: %d messages, closed %v; want %d then closed", len(msgs), isClosed, Buffer)
	}
}

// Many publishers and subscribers coming and going at once.
func TestConcurrentPublishSubscribeClose(t *testing.T) {
	checkNoLeak(t)
	b := New()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 500 {
				if err := b.Publish(ctx, "a", []byte{byte(i)}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for i := range 50 {
				s, err := b.Subscribe(ctx, "a")
				if err != nil {
					t.Error(err)
					return
				}
				// Read what is there now, sometimes; Close discards the rest.
				if i%2 == 0 {
					pending(s)
				}
				s.Close()
				for range s.C() { // C must end after Close
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("publishers and subscribers did not finish in time")
	}
}
