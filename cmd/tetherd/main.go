// Command tetherd is Tether's server. See internal/servercmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tetherhq/tether/internal/servercmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := servercmd.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
