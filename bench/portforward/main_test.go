package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1GiB", 1 << 30, true},
		{"256MiB", 256 << 20, true},
		{"0.5GiB", 512 << 20, true},
		{"64KiB", 64 << 10, true},
		{"100MB", 100e6, true},
		{"4096", 4096, true},
		{"12B", 12, true},
		{"GiB", 0, false},
		{"1TiB", 0, false},
	} {
		got, err := benchenv.ParseSize(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("benchenv.ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	for _, tt := range []struct {
		p    int
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(s, tt.p); got != tt.want {
			t.Errorf("percentile(1..100, %d) = %d; want %d", tt.p, got, tt.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile([7], 99) = %d; want 7", got)
	}
}

// TestRelay sends a bulk transfer and echoes through two relays in series,
// run in this process, and checks that every connection they carried is
// closed at both ends once the benchmark's side closes.
func TestRelay(t *testing.T) {
	tgt, err := startTarget()
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.close()
	var wg sync.WaitGroup
	defer wg.Wait()
	addr := tgt.addr()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		to := addr
		wg.Go(func() {
			var conns sync.WaitGroup
			defer conns.Wait()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Go(func() { relayConn(c.(*net.TCPConn), to) })
			}
		})
		addr = ln.Addr().String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := bulk(ctx, tgt, addr, 3<<20+17); err != nil {
		t.Fatalf("bulk: %v", err)
	}
	rtt, err := echo(ctx, addr, 5, 20)
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if len(rtt) != 20 {
		t.Fatalf("echo: %d round trips measured, want 20", len(rtt))
	}
}

func TestSelected(t *testing.T) {
	for _, c := range []struct {
		name, list string
		want       bool
	}{
		{"tether port-forward (TLS)", "tls", true},
		{"tether port-forward", "TLS", false},
		{"Go TCP relay x3", "ssh, relay", true},
		{"direct loopback TCP", " , ", false},
	} {
		if got := selected(c.name, c.list); got != c.want {
			t.Errorf("selected(%q, %q) = %v, want %v", c.name, c.list, got, c.want)
		}
	}
}
