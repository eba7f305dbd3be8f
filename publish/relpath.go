package publish

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A bundle leaves the machine (a hub shows its document paths as citation
// sources), so it never stores where the user keeps their files: each path
// is made relative to its knowledge base's source root, keeping only the
// root folder's own name ("bakery/prices.md"). See docs/bundle-format.md,
// "Document paths".

// docPath is one document path to make relative. root is the folder the
// document was ingested from (store.Doc.Root), "" when it was added as a
// single file or is unknown (bundles read from disk).
type docPath struct {
	path, root string
}

// relativePaths returns each document's bundle path, in the order given,
// unique within the list. homes are the exporting user's home folder (as
// given and with symlinks resolved; none on import): neither it nor any
// folder above it gives its name.
func relativePaths(docs []docPath, homes ...string) []string {
	var hs []absPath
	for _, h := range homes {
		if a, ok := splitAbs(h); ok && len(a.segs) > 0 {
			hs = append(hs, a)
		}
	}
	// Documents without a usable root share one: their longest common folder.
	var common *absPath
	for _, d := range docs {
		p, ok := splitAbs(d.path)
		if !ok || rootOf(d, p) != nil {
			continue
		}
		dir := absPath{vol: p.vol, segs: p.segs[:len(p.segs)-1]}
		if common == nil {
			common = &dir
			continue
		}
		if common.vol != dir.vol {
			common = &absPath{}
			continue
		}
		n := 0
		for n < len(common.segs) && n < len(dir.segs) && common.segs[n] == dir.segs[n] {
			n++
		}
		common.segs = common.segs[:n]
	}
	out := make([]string, len(docs))
	taken := map[string]bool{}
	for i, d := range docs {
		p, ok := splitAbs(d.path)
		if !ok {
			// Already relative: only normalised to forward slashes.
			out[i] = uniqueName(strings.TrimLeft(strings.ReplaceAll(d.path, `\`, "/"), "/"), taken)
			continue
		}
		base := rootOf(d, p)
		if base == nil {
			base = common
		}
		if base == nil || base.vol != p.vol {
			base = &absPath{vol: p.vol}
		}
		// The home folder, and every folder above it, are cut off whole:
		// their names (the user's login) are what must not travel.
		hp := homeOf(p)
		for _, h := range hs {
			if h.contains(p) {
				hp = &h
				break
			}
		}
		keep := len(base.segs) > 0
		if hp != nil && base.contains(*hp) {
			base, keep = hp, false
		}
		rel := p.segs[len(base.segs):]
		if keep {
			rel = append([]string{base.segs[len(base.segs)-1]}, rel...)
		}
		out[i] = uniqueName(strings.Join(rel, "/"), taken)
	}
	return out
}

// rootOf returns the document's recorded root when the path lies below it.
func rootOf(d docPath, p absPath) *absPath {
	if d.root == "" {
		return nil
	}
	r, ok := splitAbs(d.root)
	if !ok || len(r.segs) >= len(p.segs) || !r.contains(p) {
		return nil
	}
	return &r
}

// absPath is an absolute path of any system, as a volume ("" for "/", "C:",
// or "//server/share") and its folder and file names.
type absPath struct {
	vol  string
	segs []string
}

// contains reports whether q is a or lies below it.
func (a absPath) contains(q absPath) bool {
	if a.vol != q.vol || len(q.segs) < len(a.segs) {
		return false
	}
	for i, s := range a.segs {
		if q.segs[i] != s {
			return false
		}
	}
	return true
}

var drive = regexp.MustCompile(`^[A-Za-z]:[\\/]`)

// splitAbs parses an absolute path of this or any other system: a bundle
// made on Windows is read on Linux and the other way round.
func splitAbs(p string) (absPath, bool) {
	var a absPath
	switch {
	case drive.MatchString(p):
		a.vol, p = strings.ToUpper(p[:2]), strings.ReplaceAll(p[2:], `\`, "/")
	case strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//"):
		parts := strings.SplitN(strings.ReplaceAll(p[2:], `\`, "/"), "/", 3)
		if len(parts) < 2 {
			return a, false
		}
		a.vol = "//" + parts[0] + "/" + parts[1]
		p = ""
		if len(parts) == 3 {
			p = parts[2]
		}
	case strings.HasPrefix(p, "/"):
	default:
		return a, false
	}
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(a.segs) > 0 {
				a.segs = a.segs[:len(a.segs)-1]
			}
		default:
			a.segs = append(a.segs, s)
		}
	}
	return a, true
}

// homeOf recognises the usual home folders in a path when the exporting
// user's own is not known: /home/NAME, /Users/NAME, /var/home/NAME, /root,
// C:\Users\NAME, C:\Documents and Settings\NAME.
func homeOf(p absPath) *absPath {
	n := 0
	s := p.segs
	switch {
	case len(s) >= 2 && (s[0] == "home" || s[0] == "Users" || s[0] == "users" || s[0] == "Documents and Settings"):
		n = 2
	case len(s) >= 3 && s[0] == "var" && s[1] == "home":
		n = 3
	case len(s) >= 1 && s[0] == "root" && p.vol == "":
		n = 1
	default:
		return nil
	}
	if n >= len(s) {
		n = len(s) - 1 // a file named like a home folder: its folder is still cut
	}
	return &absPath{vol: p.vol, segs: s[:n]}
}

// userHomes is the exporting user's home folder, as given and with
// symlinks resolved; none when unknown.
func userHomes() []string {
	h, err := os.UserHomeDir()
	if err != nil || h == "" {
		return nil
	}
	if r, err := filepath.EvalSymlinks(h); err == nil && r != h {
		return []string{h, r}
	}
	return []string{h}
}

// relativeDocs converts the absolute paths of a bundle made before paths
// were relative, the way export makes them (without recorded roots or the
// exporter's home, which the bundle does not carry).
func relativeDocs(docs []Document) {
	in := make([]docPath, len(docs))
	for i, d := range docs {
		in[i] = docPath{path: d.Path}
	}
	for i, p := range relativePaths(in) {
		docs[i].Path = p
	}
}
