package fleet

import "sync"

// Presence tracks which agents hold a control channel to this server. It is
// the source of PingStatus and GetConnectionStatus. A connection counter (not
// a flag) keeps a reconnecting agent's old socket from marking it offline.
type Presence struct {
	mu    sync.Mutex
	conns map[string]int
}

// NewPresence returns an empty registry.
func NewPresence() *Presence {
	return &Presence{conns: map[string]int{}}
}

// Connected records a new control channel for id and returns a function that
// records its end.
func (p *Presence) Connected(id string) (disconnected func()) {
	p.mu.Lock()
	p.conns[id]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.conns[id]--
			if p.conns[id] <= 0 {
				delete(p.conns, id)
			}
		})
	}
}

// Online reports whether id has a control channel now.
func (p *Presence) Online(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[id] > 0
}
