// Package testbin builds the project's command once per test process, for
// tests that run it as users do: as separate processes, killed, limited.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
	out  []byte
	dir  string
)

// Atoll returns the path of a freshly built `atoll` command (cmd/atoll). The
// binary lives until the test process ends; CleanUp removes it from TestMain
// if the caller wants (a stale one in the temp folder costs a few MB).
func Atoll(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		dir, err = os.MkdirTemp("", "atoll-testbin-")
		if err != nil {
			return
		}
		bin = filepath.Join(dir, "atoll")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", bin, "atoll/cmd/atoll")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("building atoll: %v\n%s", err, out)
	}
	return bin
}

// CleanUp removes the built binary; call it from TestMain after m.Run.
func CleanUp() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
