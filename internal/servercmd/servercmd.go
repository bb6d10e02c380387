// Package servercmd is tetherd's command line: dev, serve and --check-config.
package servercmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tetherhq/tether/internal/config"
	"github.com/tetherhq/tether/internal/logging"
	"github.com/tetherhq/tether/internal/profile"
	"github.com/tetherhq/tether/internal/server"
)

const usage = `usage:
  tetherd dev [--listen 127.0.0.1:7443] [--data-dir DIR]   server + local agent + admin, for trying Tether
  tetherd serve --config FILE                             the production server
  tetherd bootstrap --config FILE [--user admin] [--write-profile]
                                                          create the first admin and its access key
  tetherd --check-config FILE                             validate a configuration file
`

// Main runs tetherd and returns its exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	switch args[0] {
	case "--check-config", "check-config":
		if len(args) != 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		var c config.Server
		if err := config.LoadFile(args[1], &c); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := config.ApplyEnv(&c, os.Getenv); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := c.CheckAndSetDefaults(); err != nil {
			fmt.Fprintln(stderr, "config:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK (listen %s, data dir %s, region %s)\n", args[1], c.Listen, c.DataDir, c.Region)
		return 0
	case "dev", "serve", "bootstrap":
	default:
		fmt.Fprintf(stderr, "tetherd: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("tetherd "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var flags config.Server
	file := fs.String("config", "", "YAML configuration file")
	fs.StringVar(&flags.Listen, "listen", "", "address to listen on (default 127.0.0.1:7443)")
	fs.StringVar(&flags.DataDir, "data-dir", "", "data directory (default ~/.local/share/tether)")
	fs.StringVar(&flags.LogLevel, "log-level", "", "debug, info, warn or error")
	idle := fs.Duration("idle-timeout", 0, "end sessions without traffic after this long (default 20m)")
	adminName := fs.String("user", "admin", "bootstrap: the admin user's name")
	writeProfile := fs.Bool("write-profile", false, "bootstrap: write the CLI profile (TETHER_CONFIG_DIR or ~/.config/tether)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var c config.Server
	if *file != "" {
		if err := config.LoadFile(*file, &c); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	} else if args[0] != "dev" {
		fmt.Fprintf(stderr, "tetherd %s: --config FILE is required (try `tetherd dev` to experiment)\n", args[0])
		return 2
	}
	if err := config.ApplyEnv(&c, os.Getenv); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	overlay(&c.Listen, flags.Listen)
	overlay(&c.DataDir, flags.DataDir)
	overlay(&c.LogLevel, flags.LogLevel)
	if *idle > 0 {
		c.IdleTimeout = config.Duration(*idle)
	}
	if err := c.CheckAndSetDefaults(); err != nil {
		fmt.Fprintln(stderr, "tetherd:", err)
		return 1
	}
	log := logging.New(stderr, c.LogLevel)
	var err error
	if args[0] == "bootstrap" {
		return bootstrap(ctx, c, *adminName, *writeProfile, stdout, stderr)
	}
	if args[0] == "dev" {
		err = server.RunDev(ctx, server.DevOptions{Config: c, Logger: log, Out: stdout})
	} else {
		var s *server.Server
		if s, err = server.New(ctx, c, log); err == nil {
			err = s.Serve(ctx)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "tetherd:", err)
		return 1
	}
	return 0
}

func overlay(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// bootstrap creates (or shows) the first admin's credentials. It needs the
// data dir (database and server key), so only someone with the server's
// files can run it.
func bootstrap(ctx context.Context, c config.Server, name string, writeProfile bool, stdout, stderr io.Writer) int {
	s, err := server.New(ctx, c, nil)
	if err != nil {
		fmt.Fprintln(stderr, "tetherd bootstrap:", err)
		return 1
	}
	defer s.Close()
	admin, err := s.BootstrapAdmin(ctx, name)
	if err != nil {
		fmt.Fprintln(stderr, "tetherd bootstrap:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Admin user %s (full access)\n  aws_access_key_id     = %s\n  aws_secret_access_key = %s\n  endpoint_url          = %s\n  region                = %s\n",
		admin.UserName, admin.AccessKeyID, admin.SecretAccessKey, s.URL(), s.Region())
	if writeProfile {
		dir, err := profile.Dir()
		if err == nil {
			err = profile.Save(dir, profile.Profile{Name: "default", Endpoint: s.URL(), Region: s.Region(),
				AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey})
		}
		if err != nil {
			fmt.Fprintln(stderr, "tetherd bootstrap: write profile:", err)
			return 1
		}
		fmt.Fprintf(stdout, "CLI profile written to %s\n", dir)
	}
	return 0
}
