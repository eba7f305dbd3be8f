package ingest

import (
	"errors"
	"fmt"
)

// FileError says why one file could not be read. Reason is one plain
// sentence meant for the user; Err keeps the technical cause.
type FileError struct {
	Path   string
	Reason string
	Err    error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Reason }

func (e *FileError) Unwrap() error { return e.Err }

func fileErr(path, reason string, err error) *FileError {
	return &FileError{Path: path, Reason: reason, Err: err}
}

// asFileError turns any error into a *FileError for path.
func asFileError(path string, err error) *FileError {
	var fe *FileError
	if errors.As(err, &fe) {
		if fe.Path == "" {
			fe.Path = path
		}
		return fe
	}
	return fileErr(path, fmt.Sprintf("could not be read (%v)", err), err)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
