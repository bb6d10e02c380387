package testenv

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ToolBuild describes a binary built from a separate Go module of the
// repository (interop/plugin, interop/s3server): a pinned third-party tool
// that tests run as a real peer, kept out of Tether's own go.mod.
type ToolBuild struct {
	Name    string // binary name, e.g. "versitygw"
	Module  string // module directory relative to the repository root
	Package string // main package to build
	// CacheKey prefixes the cache directory's name ("" for none).
	CacheKey string
	// Expect is shown when the build starts, e.g. "about 30 s".
	Expect string
}

// BuildTool returns the path of the tool's binary. Builds take from seconds
// to minutes, so the binary is cached per machine under the user cache
// directory, keyed by the module's go.mod and go.sum (changing the pinned
// versions rebuilds it); a file lock keeps concurrent test processes from
// building it twice. skip reports that the build is impossible here (no go
// command, or the modules cannot be downloaded), as opposed to failing.
func BuildTool(t testing.TB, b ToolBuild) (bin string, skip bool, err error) {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		return "", false, err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", true, fmt.Errorf("the go command is needed to build %s: %v", b.Name, err)
	}
	mod := filepath.Join(root, b.Module)
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", false, err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	fmt.Fprintf(h, "%s/%s\n", runtime.GOOS, runtime.GOARCH)
	cache, err := os.UserCacheDir()
	if err != nil { // no HOME: still cached, for this boot at least
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "tether-interop", b.CacheKey+hex.EncodeToString(h.Sum(nil))[:16])
	bin = filepath.Join(dir, b.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", false, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		t.Logf("%s: cached %s", b.Name, bin)
		return bin, false, nil
	}

	// The module is built on its own terms: no workspace, no flags meant
	// for Tether's module.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	start := time.Now()
	t.Logf("%s: downloading the modules of %s", b.Name, mod)
	dl := exec.Command(gobin, "mod", "download")
	dl.Dir, dl.Env = mod, env
	if out, err := dl.CombinedOutput(); err != nil {
		return "", true, fmt.Errorf("go mod download in %s: %v\n%s", mod, err, out)
	}
	t.Logf("%s: modules ready in %.1fs; building %s into %s (first run on this machine, %s)",
		b.Name, time.Since(start).Seconds(), b.Package, dir, b.Expect)
	tmp := bin + ".tmp"
	cmd := exec.Command(gobin, "build", "-v", "-trimpath", "-o", tmp, b.Package)
	cmd.Dir, cmd.Env = mod, env
	out, err := cmd.StderrPipe()
	if err != nil {
		return "", false, err
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return "", false, err
	}
	// go build -v names each package as it compiles: that is the progress.
	var log strings.Builder
	sc := bufio.NewScanner(out)
	n := 0
	for sc.Scan() {
		n++
		log.WriteString(sc.Text() + "\n")
		if n%25 == 0 {
			t.Logf("%s: [%3d packages, %5.1fs] %s", b.Name, n, time.Since(start).Seconds(), sc.Text())
		}
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return "", false, fmt.Errorf("go build in %s: %v\n%s", mod, err, log.String())
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", false, err
	}
	t.Logf("%s: built in %.1fs (%d packages)", b.Name, time.Since(start).Seconds(), n)
	return bin, false, nil
}
