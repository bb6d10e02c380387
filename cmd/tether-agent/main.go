// Command tether-agent runs on every managed host. See internal/agentcmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tetherhq/tether/internal/agentcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := agentcmd.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
