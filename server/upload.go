package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"atoll/store"
)

// upload saves the files of a multipart request in Upload/<kb>/ and starts
// ingesting them. Every name the client sent is checked before the first
// byte is written; the files are written through an os.Root opened on the
// knowledge base's upload folder, so no name, link or race can place them
// elsewhere; and a request that fails leaves nothing of itself behind.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	kb := r.URL.Query().Get("kb")
	if err := store.ValidName(kb); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("the knowledge base to upload into is not valid: %v", err))
		return
	}
	limit := s.MaxUpload
	if limit <= 0 {
		limit = MaxUploadBody
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the upload is larger than %d MB: send fewer or smaller files at a time", limit>>20))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, errors.New("send the files as multipart/form-data"))
		return
	}

	up := &uploadDir{base: s.Upload, kb: kb}
	defer up.cleanup()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			code := http.StatusBadRequest
			if isTooLarge(err) {
				code = http.StatusRequestEntityTooLarge
			}
			writeError(w, code, fmt.Errorf("the upload could not be read (%v): send the files again, at most %d MB at a time", err, limit>>20))
			return
		}
		if part.FormName() != "file" {
			continue // NextPart discards its body, within the request's limit
		}
		name, err := partFileName(part.Header.Get("Content-Disposition"))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if len(up.staged) >= MaxUploadFiles {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("one upload may carry at most %d files: send them in several uploads", MaxUploadFiles))
			return
		}
		if err := up.receive(name, part); err != nil {
			code := http.StatusInternalServerError
			if isTooLarge(err) {
				code = http.StatusRequestEntityTooLarge
				err = fmt.Errorf("the upload is larger than %d MB: send fewer or smaller files at a time", limit>>20)
			}
			writeError(w, code, err)
			return
		}
	}
	if len(up.staged) == 0 {
		writeError(w, http.StatusBadRequest, errors.New("the upload carried no file: choose at least one file to add"))
		return
	}
	paths, err := up.commit()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	job, err := s.App.Ingest(kb, paths)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"job": job})
}

func isTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// partFileName returns the file name a part declares, refusing one that is
// not a plain file name. It reads the header itself because
// multipart.Part.FileName strips folders silently, and a name with folders
// in it is a client that should be told no, not guessed at.
func partFileName(disposition string) (string, error) {
	_, params, err := mime.ParseMediaType(disposition)
	if err != nil {
		return "", errors.New("a part of the upload has no readable file name: send the files as multipart/form-data")
	}
	name, ok := params["filename"]
	if !ok {
		return "", errors.New("a part of the upload has no file name: send each file with its name")
	}
	return name, ValidFileName(name)
}

// ValidFileName accepts a plain file name that is safe and portable to
// save: no folder in it, no parent or hidden name, no control or
// direction-changing characters, none of the characters Windows forbids,
// no Windows device name, at most MaxFileName bytes of UTF-8.
func ValidFileName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("the file name %q cannot be saved: %s; rename the file and add it again", name, why)
	}
	switch {
	case name == "":
		return errors.New("a file in the upload has an empty name: rename the file and add it again")
	case len(name) > MaxFileName:
		return bad(fmt.Sprintf("it is longer than %d bytes", MaxFileName))
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8 text")
	case strings.HasPrefix(name, "."):
		return bad("it starts with a dot")
	case strings.HasSuffix(name, " ") || strings.HasSuffix(name, "."):
		return bad("it ends with a space or a dot")
	}
	for _, c := range name {
		if strings.ContainsRune(`/\:*?"<>|`, c) {
			return bad(fmt.Sprintf("it contains %q, which a file name cannot", c))
		}
		if unicode.IsControl(c) || unicode.In(c, unicode.Bidi_Control) || c == unicode.ReplacementChar {
			return bad("it contains control characters")
		}
	}
	stem, _, _ := strings.Cut(name, ".")
	switch up := strings.ToUpper(strings.TrimRight(stem, " ")); {
	case up == "CON" || up == "PRN" || up == "AUX" || up == "NUL",
		len(up) == 4 && (strings.HasPrefix(up, "COM") || strings.HasPrefix(up, "LPT")) && up[3] >= '0' && up[3] <= '9':
		return bad("it is a device name on Windows")
	}
	return nil
}

// uploadDir receives one request's files into base/kb. Each file is
// written under a temporary hidden name and renamed into place only when
// the whole request has arrived; cleanup removes what a failed request
// left, including the folders it created.
type uploadDir struct {
	base, kb string
	root     *os.Root // base/kb
	created  []string // folders this request created, deepest last
	staged   []staged
	done     bool
}

type staged struct{ tmp, name string }

func (u *uploadDir) open() error {
	if u.root != nil {
		return nil
	}
	for _, d := range []string{u.base, filepath.Join(u.base, u.kb)} {
		err := os.Mkdir(d, 0o700)
		switch {
		case err == nil:
			u.created = append(u.created, d)
		case !errors.Is(err, fs.ErrExist):
			return fmt.Errorf("couldn't create the upload folder %s: %w", d, err)
		}
	}
	base, err := os.OpenRoot(u.base)
	if err != nil {
		return fmt.Errorf("couldn't open the upload folder: %w", err)
	}
	defer base.Close()
	// kb passed store.ValidName, so it is one plain name; the Root makes
	// that a guarantee even if the folder were a link planted elsewhere.
	u.root, err = base.OpenRoot(u.kb)
	if err != nil {
		return fmt.Errorf("couldn't open the upload folder of %s: %w", u.kb, err)
	}
	return nil
}

func (u *uploadDir) receive(name string, src io.Reader) error {
	if err := u.open(); err != nil {
		return err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tmp := ".upload-" + hex.EncodeToString(b) + ".part"
	f, err := u.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("couldn't save %s: %w", name, err)
	}
	u.staged = append(u.staged, staged{tmp: tmp, name: name})
	_, err = io.Copy(f, src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if isTooLarge(err) {
			return err
		}
		return fmt.Errorf("%s could not be received: %w", name, err)
	}
	return nil
}

// commit renames every staged file to its name and returns their paths.
func (u *uploadDir) commit() ([]string, error) {
	dir := filepath.Join(u.base, u.kb)
	var paths []string
	seen := map[string]bool{}
	for _, st := range u.staged {
		if err := u.root.Rename(st.tmp, st.name); err != nil {
			return nil, fmt.Errorf("couldn't save %s: %w", st.name, err)
		}
		p := filepath.Join(dir, st.name)
		if filepath.Dir(p) != filepath.Clean(dir) {
			return nil, fmt.Errorf("%q is not a plain file name", st.name) // unreachable after ValidFileName
		}
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	u.done = true
	return paths, nil
}

func (u *uploadDir) cleanup() {
	if u.root != nil {
		if !u.done {
			for _, st := range u.staged {
				_ = u.root.Remove(st.tmp)
			}
		}
		u.root.Close()
	}
	if !u.done {
		for i := len(u.created) - 1; i >= 0; i-- {
			_ = os.Remove(u.created[i]) // only if empty: another request may be using it
		}
	}
}
