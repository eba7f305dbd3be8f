package mcp_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gofrs/flock"
)

var tools struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// testTools installs the reference MCP servers and the Inspector from the
// npm registry (versions pinned by testdata/tools/package-lock.json) into
// the user's cache, once per lock file, and returns the folder holding
// node_modules. scripts/setup.sh may run the same `npm install` ahead of time (not `npm ci`: npm 10 reports vite's Windows-only optional dependency missing from the lock).
func testTools(t *testing.T) string {
	t.Helper()
	tools.once.Do(func() {
		lock, err := os.ReadFile("testdata/tools/package-lock.json")
		if tools.err = err; err != nil {
			return
		}
		cache, err := os.UserCacheDir()
		if tools.err = err; err != nil {
			return
		}
		sum := sha256.Sum256(lock)
		dir := filepath.Join(cache, "atoll", "mcp-tools-"+hex.EncodeToString(sum[:6]))
		if tools.err = os.MkdirAll(dir, 0o755); tools.err != nil {
			return
		}
		fl := flock.New(dir + ".lock")
		if tools.err = fl.Lock(); tools.err != nil {
			return
		}
		defer fl.Unlock()
		tools.dir = dir
		if _, err := os.Stat(filepath.Join(dir, "node_modules", ".installed")); err == nil {
			return
		}
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join("testdata/tools", f))
			if tools.err = err; err != nil {
				return
			}
			if tools.err = os.WriteFile(filepath.Join(dir, f), b, 0o644); tools.err != nil {
				return
			}
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if tools.out, tools.err = cmd.CombinedOutput(); tools.err != nil {
			return
		}
		tools.err = os.WriteFile(filepath.Join(dir, "node_modules", ".installed"), nil, 0o644)
	})
	if tools.err != nil {
		t.Fatalf("installing the MCP test tools from npm: %v\n%s", tools.err, tools.out)
	}
	return tools.dir
}

// nodeBin is the script of an installed package's command, run with node
// directly so that a test's process is the server itself (no npx between).
func nodeScript(t *testing.T, pkg, script string) string {
	t.Helper()
	return filepath.Join(testTools(t), "node_modules", pkg, script)
}
