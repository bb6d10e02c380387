package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/tetherhq/tether/internal/agent"
	"github.com/tetherhq/tether/internal/agentcred"
	"github.com/tetherhq/tether/internal/api"
	"github.com/tetherhq/tether/internal/config"
	"github.com/tetherhq/tether/internal/profile"
)

// DevOptions configures RunDev.
type DevOptions struct {
	Config config.Server
	Logger *slog.Logger
	Out    io.Writer // where the welcome text goes
	// ProfileDir overrides where the CLI profile is written (default
	// profile.Dir()).
	ProfileDir string
	// Ready, if set, is called once the server and agent are up.
	Ready func(url, instanceID string)
}

// RunDev runs `tetherd dev`: the server on its embedded defaults, an
// in-process agent registered as a managed instance, the bootstrap admin and
// the CLI profile. It returns when ctx ends.
func RunDev(ctx context.Context, o DevOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := New(ctx, o.Config, log)
	if err != nil {
		return err
	}
	if err := s.Listen(); err != nil {
		s.store.Close()
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	// The local agent stops only after the server has ended its sessions,
	// so clients learn "server shutting down", not an agent's goodbye.
	actx, astop := context.WithCancel(context.Background())
	defer astop()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr <- s.Serve(sctx)
		astop()
	}()
	defer wg.Wait()

	admin, err := s.BootstrapAdmin(ctx, "admin")
	if err != nil {
		stop()
		return err
	}
	dir := o.ProfileDir
	if dir == "" {
		if dir, err = profile.Dir(); err != nil {
			stop()
			return err
		}
	}
	if err := profile.Save(dir, profile.Profile{Name: "default", Endpoint: s.URL(), Region: s.cfg.Region,
		AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey}); err != nil {
		stop()
		return fmt.Errorf("write CLI profile: %w", err)
	}

	stateDir := filepath.Join(s.cfg.DataDir, "agent")
	id, err := agentcred.Load(stateDir)
	if err == nil {
		if _, gerr := s.store.GetInstance(ctx, id.InstanceID); gerr != nil || id.Endpoint != s.URL() {
			err = errors.New("stale identity")
		}
	}
	if err != nil {
		code, cerr := s.devActivationCode(ctx)
		if cerr != nil {
			stop()
			return cerr
		}
		if id, err = agent.Register(ctx, agent.RegisterConfig{Endpoint: s.URL(), ActivationID: code.ActivationID,
			ActivationCode: code.ActivationCode, Name: "dev", StateDir: stateDir}); err != nil {
			stop()
			return fmt.Errorf("register the local agent: %w", err)
		}
	}
	ag, err := agent.New(agent.Config{StateDir: stateDir, Logger: log.With("component", "agent")})
	if err != nil {
		stop()
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ag.Run(actx); err != nil {
			log.Error("local agent stopped", "err", err)
		}
	}()
	if o.Out != nil {
		fmt.Fprintf(o.Out, `
Tether is running (development mode).

  endpoint     %s
  user         %s (full access), profile written to %s
  instance     %s (local agent, state in %s)

Open a shell on this machine:

  tether start-session --target %s

Press Ctrl-C to stop.
`, s.URL(), admin.UserName, dir, id.InstanceID, stateDir, id.InstanceID)
	}
	if o.Ready != nil {
		o.Ready(s.URL(), id.InstanceID)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-serveErr:
		return err
	}
}

// devActivationCode creates a single-use activation for the local agent.
func (s *Server) devActivationCode(ctx context.Context) (api.CreateActivationOutput, error) {
	out, _, err := s.Fleet.CreateActivation(ctx, api.CreateActivationInput{Description: "tetherd dev local agent", DefaultInstanceName: "dev", RegistrationLimit: 1})
	return out, err
}
