package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDesktopWithoutDisplay: the desktop binary started where no display can
// be opened says so in one sentence, points to `atoll serve`, and exits
// non-zero, instead of panicking with a Go stack.
func TestDesktopWithoutDisplay(t *testing.T) {
	bin, err := filepath.Abs(filepath.Join("..", "build", "bin", "atoll-desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		need(t, "the desktop binary is not built (run make build)")
	}
	for _, c := range []struct{ name, display string }{
		{"no display set", ""},
		// A display that is named but not there (a closed X server).
		{"display not running", ":" + freeDisplay(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") && !strings.HasPrefix(kv, "ATOLL_DATA=") {
					env = append(env, kv)
				}
			}
			data := t.TempDir()
			env = append(env, "ATOLL_DATA="+data, "OLLAMA_HOST=http://127.0.0.1:9")
			if c.display != "" {
				env = append(env, "DISPLAY="+c.display)
			}
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("the desktop binary did not exit within 2 minutes without a display; output:\n%s", out)
			}
			text := strings.TrimSpace(string(out))
			if err == nil {
				t.Fatalf("exit status 0 without a display; output:\n%s", text)
			}
			if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") {
				t.Fatalf("a Go stack instead of a sentence:\n%s", text)
			}
			if strings.Count(text, "\n") > 0 || !strings.Contains(text, "atoll serve") || !strings.Contains(strings.ToLower(text), "display") {
				t.Fatalf("want one sentence that names the display and points to `atoll serve`, got:\n%s", text)
			}
		})
	}
}

// freeDisplay returns an X display number with no server behind it.
func freeDisplay(t *testing.T) string {
	for n := 190; n < 290; n++ {
		d := strconv.Itoa(n)
		_, sock := os.Stat("/tmp/.X11-unix/X" + d)
		_, lock := os.Stat("/tmp/.X" + d + "-lock")
		if os.IsNotExist(sock) && os.IsNotExist(lock) {
			return d
		}
	}
	t.Fatal("no free X display number between 190 and 289")
	return ""
}
