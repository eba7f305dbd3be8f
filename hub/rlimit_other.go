//go:build !unix

package hub

// openFileLimit is unknown here; the hub falls back to a fixed cap.
func openFileLimit() int { return 0 }
