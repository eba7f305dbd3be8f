package app

import (
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataDir is $ATOLL_DATA, else the OS's per-user data folder:
// ~/.local/share/atoll (or $XDG_DATA_HOME/atoll) on Linux,
// ~/Library/Application Support/Atoll on macOS, %LocalAppData%\Atoll on Windows.
func DefaultDataDir() string {
	if d := os.Getenv("ATOLL_DATA"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Atoll")
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "Atoll")
		}
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "atoll")
	}
	return filepath.Join(home, ".local", "share", "atoll")
}

// DefaultOllamaURL is $OLLAMA_HOST, else Ollama's standard local address.
func DefaultOllamaURL() string {
	if h := os.Getenv("OLLAMA_HOST"); h != "" {
		return h
	}
	return "http://127.0.0.1:11434"
}
