// Package server assembles tetherd: the store, bus, authority, fleet,
// session manager, relay and agent gateway behind one HTTP(S) listener, with
// health and readiness endpoints and a graceful shutdown that ends live
// sessions cleanly. It also performs the first-start bootstrap (account id,
// admin user) used by `tetherd dev`.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetherhq/tether/internal/audit"
	"github.com/tetherhq/tether/internal/auditapi"
	"github.com/tetherhq/tether/internal/auth"
	"github.com/tetherhq/tether/internal/bus"
	"github.com/tetherhq/tether/internal/bus/mem"
	"github.com/tetherhq/tether/internal/config"
	"github.com/tetherhq/tether/internal/docs"
	"github.com/tetherhq/tether/internal/fleet"
	"github.com/tetherhq/tether/internal/gateway"
	"github.com/tetherhq/tether/internal/iam"
	"github.com/tetherhq/tether/internal/relay"
	"github.com/tetherhq/tether/internal/session"
	"github.com/tetherhq/tether/internal/ssmapi"
	"github.com/tetherhq/tether/internal/store"
	"github.com/tetherhq/tether/internal/store/sqlite"
	"github.com/tetherhq/tether/internal/wstransport"
)

// Server is a running tetherd.
type Server struct {
	cfg      config.Server
	log      *slog.Logger
	store    store.Store
	bus      bus.Bus
	Auth     *auth.Authority
	Fleet    *fleet.Service
	Sessions *session.Manager
	relay    *relay.Relay
	gateway  *gateway.Gateway
	account  string
	audit    *audit.Log

	ln         net.Listener
	httpSrv    *http.Server
	baseCtx    context.Context
	baseCancel context.CancelFunc
	ready      atomic.Bool
	closers    []func() error // closed after the store at shutdown
}

// New opens the data dir (database, server key) and builds the server. It
// does not listen yet: call Listen, then Serve.
func New(ctx context.Context, cfg config.Server, log *slog.Logger) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	key, err := auth.LoadOrCreateKey(filepath.Join(cfg.DataDir, "server.key"))
	if err != nil {
		return nil, err
	}
	sealer, err := auth.NewSealer(key)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "tether.db"))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	account, err := st.EnsureMeta(ctx, "account_id", randomAccount())
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("account id: %w", err)
	}
	s := &Server{cfg: cfg, log: log, store: st, bus: mem.New(), account: account}
	s.baseCtx, s.baseCancel = context.WithCancel(context.Background())
	auditFile, err := audit.OpenFile(filepath.Join(cfg.DataDir, "audit.jsonl"), func(err error) {
		log.Error("write audit event", "err", err)
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	auditStore, err := audit.NewStore(audit.StoreConfig{Store: st, Logger: log})
	if err != nil {
		auditFile.Close()
		st.Close()
		return nil, err
	}
	auditLog := &audit.Log{File: auditFile, Store: auditStore}
	s.audit = auditLog
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Auth, err = auth.New(auth.Config{Store: st, Sealer: sealer, Region: cfg.Region, Account: account, Logger: log,
		Audit: auditLog, TrustedProxies: proxies})
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Fleet = fleet.New(fleet.Config{Store: st, Auth: s.Auth, Bus: s.bus, Region: cfg.Region, Account: account, Logger: log,
		SSHKeyTTL: time.Duration(cfg.SSHKeyTTL)})
	documents := docs.New(docs.Config{Store: st, Auth: s.Auth, Region: cfg.Region, Account: account, Logger: log})
	s.Sessions = session.New(session.Config{Store: st, Auth: s.Auth, Fleet: s.Fleet, Bus: s.bus, Region: cfg.Region, Documents: documents,
		Account: account, StreamURL: s.streamURL, IdleTimeout: time.Duration(cfg.IdleTimeout),
		TimeoutUnit: time.Duration(cfg.TestTimeoutUnit), Logger: log, Audit: auditLog})
	s.relay = relay.New(relay.Config{Sessions: s.Sessions, Bus: s.bus, Logger: log, BaseContext: s.baseCtx})
	transcripts, err := s.setupRecording(auditLog)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.gateway = gateway.New(gateway.Config{Store: st, Fleet: s.Fleet, Sessions: s.Sessions, Bus: s.bus,
		Region: cfg.Region, Logger: log, BaseContext: s.baseCtx, Audit: auditLog, Transcripts: transcripts})

	apiMux := ssmapi.New(s.Auth, log)
	s.Fleet.Register(apiMux)
	s.Sessions.Register(apiMux)
	iam.New(iam.Config{Store: st, Auth: s.Auth, Account: account, Logger: log}).Register(apiMux)
	documents.Register(apiMux)
	transcripts.Register(apiMux, s.Auth, s.Sessions.SessionARN)
	auditapi.New(auditapi.Config{Store: st, Auth: s.Auth, Account: account}).Register(apiMux)
	apiMux.Observe(func(ctx context.Context, c *ssmapi.Call) {
		ev := c.AuditEvent(s.Auth.SourceIP(c.Request))
		auditLog.Record(ctx, ev)
		if ev.ErrorCode != "" {
			log.Info("api call refused", "op", ev.Action, "principal", ev.Principal, "code", ev.ErrorCode, "source_ip", ev.SourceIP, "request_id", ev.RequestID)
		} else {
			log.Debug("api call", "op", ev.Action, "principal", ev.Principal, "request_id", ev.RequestID)
		}
	})

	mux := http.NewServeMux()
	mux.Handle("POST /{$}", apiMux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /v1/data-channel/{sid}", s.relay)
	s.gateway.Routes(mux)
	s.httpSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
	}
	return s, nil
}

func randomAccount() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	return fmt.Sprintf("%012d", n.Int64()+1e11)
}

// Close releases what New opened, for a Server that never served.
func (s *Server) Close() error {
	s.audit.Close()
	err := s.store.Close()
	s.runClosers()
	return err
}

func (s *Server) runClosers() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

// Account returns the 12-digit account id.
func (s *Server) Account() string { return s.account }

// Region returns the configured region.
func (s *Server) Region() string { return s.cfg.Region }

// Store returns the store (for bootstrap and tests).
func (s *Server) Store() store.Store { return s.store }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready\n", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.EnsureMeta(ctx, "account_id", s.account); err != nil {
		http.Error(w, "store unavailable\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// Listen binds the configured address.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another tetherd running? pick another with --listen)", s.cfg.Listen, err)
	}
	s.ln = ln
	return nil
}

// URL is the public base URL of the server.
func (s *Server) URL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		scheme = "https"
	}
	addr := s.cfg.Listen
	if s.ln != nil {
		addr = s.ln.Addr().String()
	}
	return scheme + "://" + addr
}

func (s *Server) streamURL(sessionID string) string {
	u := s.URL()
	u = "ws" + strings.TrimPrefix(u, "http")
	return u + "/v1/data-channel/" + sessionID + "?role=publish_subscribe"
}

// Serve serves until ctx is cancelled, then shuts down gracefully: live
// sessions end with channel_closed, sockets close, the store is closed.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.endOrphanedSessions(ctx)
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.cfg.TLSCert != "" {
			// Corked beneath TLS: the data path's messages go in one write.
			err = s.httpSrv.ServeTLS(wstransport.CorkListener(s.ln), s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			// Corked too: its sockets are read and written with raw
			// system calls (package sockio).
			err = s.httpSrv.Serve(wstransport.CorkListener(s.ln))
		}
		errc <- err
	}()
	s.ready.Store(true)
	s.log.Info("tetherd serving", "url", s.URL(), "region", s.cfg.Region, "account", s.account, "data_dir", s.cfg.DataDir)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.shutdown()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

func (s *Server) shutdown() {
	s.ready.Store(false)
	s.log.Info("shutting down: ending live sessions")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if live, err := s.Sessions.Live(ctx); err == nil {
		for _, sess := range live {
			s.Sessions.End(ctx, sess.ID, session.StatusTerminated, "server shutting down", nil)
		}
		if len(live) > 0 {
			// Let the relay deliver channel_closed before sockets go.
			waitOrTimeout(s.relay.Wait, 3*time.Second)
		}
	}
	s.httpSrv.Shutdown(ctx)
	s.baseCancel()
	waitOrTimeout(s.relay.Wait, 5*time.Second)
	waitOrTimeout(s.gateway.Wait, 5*time.Second)
	s.audit.Close() // flushes queued events into the store: before closing it
	if err := s.store.Close(); err != nil {
		s.log.Warn("close store", "err", err)
	}
	s.runClosers()
	s.log.Info("shutdown complete")
}

func waitOrTimeout(wait func(), d time.Duration) {
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// Admin is the bootstrap admin's credentials.
type Admin struct {
	UserName        string
	AccessKeyID     string
	SecretAccessKey string
}

// BootstrapAdmin creates user `name` with the full-access policy and an
// access key on first call; later calls return the existing credentials.
func (s *Server) BootstrapAdmin(ctx context.Context, name string) (Admin, error) {
	_, err := s.store.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := s.Auth.CreateUser(ctx, name); err != nil {
			return Admin{}, fmt.Errorf("create admin user: %w", err)
		}
		if err := s.store.PutUserPolicy(ctx, name, store.Policy{Name: "AdministratorAccess", Document: auth.AdminPolicy}); err != nil {
			return Admin{}, err
		}
	} else if err != nil {
		return Admin{}, err
	}
	keys, err := s.store.ListAccessKeys(ctx, name)
	if err != nil {
		return Admin{}, err
	}
	for _, k := range keys {
		if k.Status == store.KeyActive {
			secret, err := s.Auth.RevealSecret(ctx, k.ID)
			if err != nil {
				return Admin{}, fmt.Errorf("unseal admin key (was server.key replaced?): %w", err)
			}
			return Admin{UserName: name, AccessKeyID: k.ID, SecretAccessKey: secret}, nil
		}
	}
	id, secret, err := s.Auth.CreateAccessKey(ctx, name)
	if err != nil {
		return Admin{}, err
	}
	return Admin{UserName: name, AccessKeyID: id, SecretAccessKey: secret}, nil
}
