package publish

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"atoll/store"
)

// safeName refuses entry names that could leave the folder they are
// extracted to, or mean different things on different systems: absolute
// paths, drive letters, backslashes, "." and ".." elements, empty elements,
// control characters.
func safeName(name string) error {
	bad := func(why string) error { return fmt.Errorf("the bundle has an unsafe entry name %q (%s)", name, why) }
	switch {
	case name == "":
		return bad("empty")
	case !utf8.ValidString(name):
		return bad("not UTF-8")
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.Contains(name, `\`):
		return bad("backslash")
	case len(name) >= 2 && name[1] == ':':
		return bad("drive letter")
	case strings.HasSuffix(name, "/"):
		return bad("a folder entry")
	case len(name) > 1024:
		return bad("too long")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return bad("'.', '..' or empty path element")
		}
	}
	if path.Clean(name) != name {
		return bad("not a clean path")
	}
	return nil
}

func validKBName(name string) error { return store.ValidName(name) }

// sourceName makes a file name safe for sources/<kb>/ inside a bundle and
// inside the knowledge base folder on import: one path element, no
// separators or control characters.
func sourceName(base string) string {
	var b strings.Builder
	for _, r := range base {
		switch {
		case r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == ':':
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Trim(b.String(), " .")
	if s == "" {
		s = "file"
	}
	if len(s) > 200 {
		s = s[len(s)-200:]
		for !utf8.ValidString(s) {
			s = s[1:]
		}
	}
	return s
}
