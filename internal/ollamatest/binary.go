package ollamatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Version is the Ollama release the tests run against. Newer releases no
// longer build with `go install` (their module zip lacks llama.cpp's vendored
// headers); 0.6.5 does, and speaks the API the llm package uses.
const Version = "v0.6.5"

// BinaryPath returns an ollama binary for integration tests: $ATOLL_OLLAMA_BIN
// if set, else <user cache dir>/atoll/ollama-v0.6.5/ollama, built there with
// `go install` when missing (~90 s, needs the Go module proxy). A file lock
// keeps two test binaries running in parallel (go test ./...) from building
// it at the same time.
func BinaryPath() (string, error) {
	if p := os.Getenv("ATOLL_OLLAMA_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ATOLL_OLLAMA_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache dir for the ollama binary: %w", err)
	}
	dir := filepath.Join(cache, "atoll", "ollama-"+Version)
	bin := filepath.Join(dir, "ollama")
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(bin) { // another test binary built it while we waited
		return bin, nil
	}
	if err := build(dir); err != nil {
		return "", err
	}
	return bin, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// lockFile takes an exclusive flock, waiting for a concurrent build.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// build runs `go install github.com/ollama/ollama@Version` with GOBIN=dir.
// It runs in an empty temp dir so our go.mod (and its -mod setting) plays no
// part, with GOFLAGS=-mod=mod because ollama's own module needs it.
func build(dir string) error {
	work, err := os.MkdirTemp("", "atoll-ollama-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	goBin, err := exec.LookPath("go")
	if err != nil {
		if alt := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); isExecutable(alt) {
			goBin, err = alt, nil
		}
	}
	if err != nil {
		return fmt.Errorf("building ollama %s for the integration tests needs the go command: %w", Version, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", "github.com/ollama/ollama@"+Version)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building ollama %s into %s failed after %s (needs the Go module proxy; set ATOLL_OLLAMA_BIN to an existing binary, or ATOLL_SKIP_REAL_OLLAMA=1 to skip the real-server tests): %w\n%s",
			Version, dir, time.Since(start).Round(time.Second), err, tail(out.Bytes(), 40))
	}
	if !isExecutable(filepath.Join(dir, "ollama")) {
		return errors.New("go install finished but no ollama binary appeared in " + dir)
	}
	return nil
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}
