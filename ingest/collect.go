package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// supportedExt lists the extensions Collect picks up inside folders. Files
// named explicitly in roots are always returned (Extract sniffs content).
var supportedExt = map[string]bool{
	".pdf": true, ".docx": true, ".html": true, ".htm": true, ".xhtml": true,
	".md": true, ".markdown": true, ".txt": true, ".text": true, ".csv": true, ".tsv": true,
	// Scans and photos, read by OCR.
	".png": true, ".jpg": true, ".jpeg": true, ".tif": true, ".tiff": true, ".webp": true,
}

// maxDepth bounds how deep Collect walks.
const maxDepth = 64

// Collect expands files and folders into a sorted list of files to ingest.
// Folders are walked recursively; hidden folders and files (".name") and
// files with unsupported extensions inside folders are skipped. Symlinks are
// followed, but a link that loops (directly or back to a folder already being
// walked) becomes an error instead of a hang, and so does anything that is not
// a regular file (a FIFO would block the reader forever).
// ignored lists the files inside folders left out for their type, so the
// caller can say so instead of passing over them in silence.
func Collect(roots []string) (files, ignored []string, errs []*FileError) {
	seen := map[string]bool{}
	addFile := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	var walk func(dir string, active map[dirID]bool, depth int)
	walk = func(dir string, active map[dirID]bool, depth int) {
		if depth > maxDepth { // where folder identities are unknown, a loop ends here
			errs = append(errs, fileErr(dir, fmt.Sprintf("is nested more than %d folders deep (a link that loops?)", maxDepth), nil))
			return
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, statError(dir, err))
			if len(entries) == 0 {
				return
			}
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p) // follows symlinks
			if err != nil {
				errs = append(errs, statError(p, err))
				continue
			}
			switch {
			case fi.IsDir():
				id, ok := idOf(fi)
				if ok && active[id] {
					errs = append(errs, fileErr(p, "is a symbolic link loop (it points back to a folder that contains it)", nil))
					continue
				}
				if ok {
					active[id] = true
				}
				walk(p, active, depth+1)
				if ok {
					delete(active, id)
				}
			case !fi.Mode().IsRegular():
				errs = append(errs, fileErr(p, "is not a regular file (device, pipe or socket)", nil))
			case supportedExt[strings.ToLower(filepath.Ext(name))]:
				addFile(p)
			default:
				ignored = append(ignored, p)
			}
		}
	}

	for _, root := range roots {
		root = filepath.Clean(root)
		fi, err := os.Stat(root)
		if err != nil {
			errs = append(errs, statError(root, err))
			continue
		}
		switch {
		case fi.IsDir():
			active := map[dirID]bool{}
			if id, ok := idOf(fi); ok {
				active[id] = true
			}
			walk(root, active, 0)
		case fi.Mode().IsRegular():
			addFile(root)
		default:
			errs = append(errs, fileErr(root, "is not a regular file (device, pipe or socket)", nil))
		}
	}
	sort.Strings(files)
	sort.Strings(ignored)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	return files, ignored, errs
}

// statError turns an os error into a one-sentence FileError.
func statError(path string, err error) *FileError {
	switch {
	case errors.Is(err, syscall.ELOOP):
		return fileErr(path, "is a symbolic link loop", err)
	case errors.Is(err, fs.ErrNotExist):
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path != path {
			return fileErr(path, "is a broken link or does not exist", err)
		}
		return fileErr(path, "does not exist", err)
	case errors.Is(err, fs.ErrPermission):
		return fileErr(path, "cannot be read (permission denied)", err)
	}
	return fileErr(path, "could not be read ("+err.Error()+")", err)
}
