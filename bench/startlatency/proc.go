package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

// firstByte starts argv on a new PTY and returns the time from starting it to
// the first output after the line containing skip (any output if skip is
// empty). Then it types exit and waits for the process to end.
func firstByte(ctx context.Context, env []string, skip string, argv ...string) (time.Duration, error) {
	cmd := benchenv.Command(ctx, env, argv...)
	start := time.Now()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		return 0, err
	}
	defer f.Close()

	// Reads end with EIO once the process and so the PTY's other side are
	// gone, which ctx's end guarantees by killing the process group.
	var seen []byte
	buf := make([]byte, 4096)
	for !remoteOutput(seen, skip) {
		n, err := f.Read(buf)
		seen = append(seen, buf[:n]...)
		if err != nil && !remoteOutput(seen, skip) {
			werr := cmd.Wait()
			return 0, fmt.Errorf("no remote output (read: %v, exit: %v, ctx: %v): %q", err, werr, ctx.Err(), lastBytes(seen))
		}
	}
	d := time.Since(start)

	if _, err := f.Write([]byte("exit\r")); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("type exit: %w", err)
	}
	rest, _ := io.ReadAll(f) // until EIO
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("after exit: %w (ctx: %v): %q", err, ctx.Err(), lastBytes(append(seen, rest...)))
	}
	return d, nil
}

// remoteOutput reports whether out holds a byte past the line containing skip.
func remoteOutput(out []byte, skip string) bool {
	if skip == "" {
		return len(out) > 0
	}
	i := bytes.Index(out, []byte(skip))
	if i < 0 {
		return false
	}
	j := bytes.IndexByte(out[i:], '\n')
	return j >= 0 && i+j+1 < len(out)
}

func lastBytes(b []byte) []byte {
	return b[max(0, len(b)-300):]
}

// roundTrip runs argv with stdin as its input and returns how long it took to
// exit successfully.
func roundTrip(ctx context.Context, env []string, stdin string, argv ...string) (time.Duration, error) {
	cmd := benchenv.Command(ctx, env, argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%w (ctx: %v): %q", err, ctx.Err(), lastBytes(out.Bytes()))
	}
	return d, nil
}
