//go:build !unix

package ingest

import "io/fs"

// dirID is unknown here (Windows): Collect's depth limit ends a loop.
type dirID struct{}

func idOf(fs.FileInfo) (dirID, bool) { return dirID{}, false }
