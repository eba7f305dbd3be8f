//go:build unix

package ingest

import (
	"io/fs"
	"syscall"
)

// dirID identifies a folder (device and inode), to notice a link that loops
// back to a folder being walked.
type dirID struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (dirID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirID{}, false
	}
	return dirID{uint64(st.Dev), uint64(st.Ino)}, true
}
