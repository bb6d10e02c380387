package fleet

import (
	"sync"
	"testing"
)

func TestPresence(t *testing.T) {
	const id = "mi-0123456789abcdef0"
	tests := []struct {
		name string
		// steps run in order on one registry; "+" opens a connection,
		// "-N" ends the Nth opened one (0-based).
		steps []string
		want  bool
	}{
		{"never connected", nil, false},
		{"connected", []string{"+"}, true},
		{"connected then ended", []string{"+", "-0"}, false},
		{"two connections, one ends", []string{"+", "+", "-0"}, true},
		{"two connections, the newer ends", []string{"+", "+", "-1"}, true},
		{"two connections, both end", []string{"+", "+", "-0", "-1"}, false},
		{"ending twice counts once", []string{"+", "+", "-0", "-0"}, true},
		{"ending one many times counts once", []string{"+", "+", "-0", "-0", "-0", "-0"}, true},
		{"reconnect after going offline", []string{"+", "-0", "+"}, true},
		{"stale end after reconnect", []string{"+", "-0", "+", "-0"}, true},
		{"everything ends, twice", []string{"+", "+", "-1", "-0", "-1", "-0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPresence()
			var ends []func()
			for _, s := range tt.steps {
				if s == "+" {
					ends = append(ends, p.Connected(id))
					continue
				}
				ends[int(s[1]-'0')]()
			}
			if got := p.Online(id); got != tt.want {
				t.Errorf("after %q Online = %v; want %v", tt.steps, got, tt.want)
			}
		})
	}
}

func TestPresenceKeepsInstancesApart(t *testing.T) {
	p := NewPresence()
	endA := p.Connected("mi-aaaaaaaaaaaaaaaaa")
	endB := p.Connected("mi-bbbbbbbbbbbbbbbbb")
	endA()
	endA()
	if p.Online("mi-aaaaaaaaaaaaaaaaa") || !p.Online("mi-bbbbbbbbbbbbbbbbb") {
		t.Errorf("Online(a) = %v, Online(b) = %v; want false, true", p.Online("mi-aaaaaaaaaaaaaaaaa"), p.Online("mi-bbbbbbbbbbbbbbbbb"))
	}
	endB()
	if p.Online("mi-bbbbbbbbbbbbbbbbb") {
		t.Error("b still online after its only connection ended")
	}
}

// Agents reconnect concurrently with their old sockets closing, and each
// end func may be called from more than one place. Run with -race.
func TestPresenceConcurrent(t *testing.T) {
	const id = "mi-0123456789abcdef0"
	p := NewPresence()
	keep := p.Connected(id)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				end := p.Connected(id)
				if !p.Online(id) {
					t.Error("offline while a connection is open")
					return
				}
				var both sync.WaitGroup
				both.Go(end)
				both.Go(end)
				both.Wait()
			}
		})
	}
	wg.Wait()
	if !p.Online(id) {
		t.Fatal("offline while the first connection is still open")
	}
	keep()
	if p.Online(id) {
		t.Error("online after every connection ended")
	}
}
