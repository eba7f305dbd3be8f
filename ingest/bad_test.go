package ingest

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"hash/crc32"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zipBomb writes a DOCX-shaped zip whose document.xml inflates to n bytes
// of zeros; lie makes the header declare only 1 KB.
func zipBomb(t testing.TB, n int64, lie bool) []byte {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	zero := make([]byte, 1<<20)
	crc := crc32.NewIEEE()
	for left := n; left > 0; left -= int64(len(zero)) {
		chunk := zero[:min(int64(len(zero)), left)]
		fw.Write(chunk)
		crc.Write(chunk)
	}
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	declared := uint64(n)
	if lie {
		declared = 1024
	}
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc.Sum32(), CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	zw.Close()
	return buf.Bytes()
}

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.md", []byte("# Title\n\nGood text.\n"))
	tiny, err := os.ReadFile("testdata/tiny.pdf")
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(rnd)

	// 200 MB single-line text file, sparse so the test stays fast.
	big := filepath.Join(dir, "huge-line.txt")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("one single line that never ends ")
	f.Truncate(200 << 20)
	f.Close()

	loopA, loopB := filepath.Join(dir, "loop-a.txt"), filepath.Join(dir, "loop-b.txt")
	os.Symlink(loopB, loopA)
	os.Symlink(loopA, loopB)
	fifo := filepath.Join(dir, "pipe.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Logf("no FIFO test: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "folder.pdf"), 0o755)

	cases := []struct {
		name, want string
		path       string
	}{
		{"truncated pdf", "is not a valid PDF (it is truncated", writeFile(t, dir, "truncated.pdf", tiny[:len(tiny)/2])},
		{"zero bytes", "is empty", writeFile(t, dir, "empty.txt", nil)},
		{"random bytes as pdf", "is not a PDF (", writeFile(t, dir, "random.pdf", rnd)},
		{"png as pdf", "is not a PDF (it is a PNG image)", writeFile(t, dir, "image.pdf", []byte("\x89PNG\r\n\x1a\nxxxx"))},
		{"docx not a zip", "is not a valid DOCX (not a zip archive)", writeFile(t, dir, "notzip.docx", []byte("hello, I am text"))},
		{"zip bomb as docx", "looks like a zip bomb (expands beyond 200 MB)", writeFile(t, dir, "bomb.docx", zipBomb(t, 201<<20, false))},
		{"zip bomb lying about size", "looks like a zip bomb", writeFile(t, dir, "liar.docx", zipBomb(t, 5<<20, true))},
		{"zip that is not docx", "is a zip archive but not a DOCX", writeFile(t, dir, "other.docx", func() []byte {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			w, _ := zw.Create("readme.txt")
			w.Write([]byte("hi"))
			zw.Close()
			return b.Bytes()
		}())},
		{"200 MB single line", "is larger than the 100 MB limit", big},
		{"symlink loop", "is a symbolic link loop", loopA},
		{"folder", "is a folder, not a file", filepath.Join(dir, "folder.pdf")},
		{"fifo", "is not a regular file", fifo},
		{"missing", "does not exist", filepath.Join(dir, "missing.txt")},
		{"encrypted pdf", "is encrypted; encrypted PDFs are not supported", "testdata/encrypted.pdf"},
		{"encrypted docx (OLE container)", "is an encrypted DOCX or an old Word file", writeFile(t, dir, "locked.docx", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"))},
		{"binary as txt", "looks like a binary file", writeFile(t, dir, "blob.txt", append([]byte("ab\x00\x01\x02"), rnd...))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, err = Extract(context.Background(), c.path, DefaultLimits())
			}()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Extract hangs")
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FileError", err)
			}
			if !strings.HasPrefix(err.Error(), c.path+": ") || !strings.Contains(fe.Reason, c.want) {
				t.Fatalf("got %q, want %q naming the file", err.Error(), c.want)
			}
			if strings.Contains(fe.Reason, "\n") {
				t.Fatalf("reason is not one sentence: %q", fe.Reason)
			}
		})
	}

	t.Run("good file still extracts", func(t *testing.T) {
		doc, err := Extract(context.Background(), good, DefaultLimits())
		if err != nil || len(doc.Blocks) != 2 {
			t.Fatalf("good file: %v %+v", err, doc)
		}
	})
	t.Run("invalid utf-8 is replaced, not fatal", func(t *testing.T) {
		p := writeFile(t, dir, "latin1.txt", []byte("caf\xe9 au lait\n\nna\xefve \xff\xfe text"))
		doc, err := Extract(context.Background(), p, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(doc.Text(), "caf\uFFFD au lait") || len(doc.Warnings) != 1 {
			t.Fatalf("got %q warnings %q", doc.Text(), doc.Warnings)
		}
	})
	t.Run("pdf named txt is a pdf", func(t *testing.T) {
		p := writeFile(t, dir, "really-a-pdf.txt", tiny)
		doc, err := Extract(context.Background(), p, DefaultLimits())
		if err != nil || doc.Format != "pdf" || doc.Pages != 4 {
			t.Fatalf("got %v %+v", err, doc)
		}
	})
	t.Run("text mentioning a pdf header stays text", func(t *testing.T) {
		p := writeFile(t, dir, "about-pdf.md", []byte("# Notes\n\nEvery PDF starts with %PDF-1.7 and ends with %%EOF.\n"))
		doc, err := Extract(context.Background(), p, DefaultLimits())
		if err != nil || doc.Format != "markdown" {
			t.Fatalf("got %v %+v", err, doc)
		}
	})
	t.Run("pdf with empty user password is decrypted", func(t *testing.T) {
		doc, err := Extract(context.Background(), "testdata/encrypted-empty-password.pdf", DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(doc.Text(), "Atoll reads your files locally") {
			t.Fatalf("got %q", doc.Text())
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() != 0 {
			p := writeFile(t, dir, "secret.txt", []byte("x"))
			os.Chmod(p, 0)
			_, err := Extract(context.Background(), p, DefaultLimits())
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Fatalf("got %v", err)
			}
			return
		}
		// As root (CI and dev containers) permission bits do not stop a
		// read, so the check runs in a copy of this test binary started as
		// the unprivileged user "nobody".
		out, err := asNobody(t, "secret.txt")
		if err != nil {
			t.Fatalf("the unprivileged child failed: %v\n%s", err, out)
		}
		if !strings.Contains(out, "secret.txt") || !strings.Contains(out, "permission denied") {
			t.Fatalf("got %q", out)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Extract(ctx, good, DefaultLimits())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("text budget", func(t *testing.T) {
		p := writeFile(t, dir, "long.txt", []byte(strings.Repeat("word word word.\n\n", 10000)))
		doc, err := Extract(context.Background(), p, Limits{MaxTextBytes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(doc.Text()); n > 1000 || len(doc.Warnings) != 1 {
			t.Fatalf("text %d bytes, warnings %q", n, doc.Warnings)
		}
	})
}

func TestCollect(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755)
	writeFile(t, dir, "b.md", []byte("x"))
	writeFile(t, dir, "a.txt", []byte("x"))
	writeFile(t, dir, "image.png", []byte("x"))
	writeFile(t, dir, "scan.TIFF", []byte("x"))
	writeFile(t, dir, "archive.zip", []byte("x"))
	writeFile(t, filepath.Join(dir, "sub"), "c.pdf", []byte("x"))
	writeFile(t, filepath.Join(dir, "sub", "deeper"), "d.docx", []byte("x"))
	writeFile(t, filepath.Join(dir, ".hidden"), "e.md", []byte("x"))
	os.Symlink(dir, filepath.Join(dir, "sub", "deeper", "back-to-top"))
	os.Symlink(filepath.Join(dir, "l2"), filepath.Join(dir, "l1.md"))
	os.Symlink(filepath.Join(dir, "l1.md"), filepath.Join(dir, "l2"))
	explicit := writeFile(t, t.TempDir(), "notes.weird", []byte("x"))

	done := make(chan struct{})
	var files, ignored []string
	var errs []*FileError
	go func() {
		files, ignored, errs = Collect([]string{dir, explicit, filepath.Join(dir, "nope")})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Collect hangs on a symlink loop")
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
	var got []string
	for _, f := range files {
		if f == explicit {
			got = append(got, "EXPLICIT")
			continue
		}
		got = append(got, rel(f))
	}
	want := []string{"a.txt", "b.md", "image.png", "scan.TIFF", "sub/c.pdf", "sub/deeper/d.docx", "EXPLICIT"}
	if strings.Join(got, ",") != strings.Join(want, ",") && strings.Join(got, ",") != "EXPLICIT,"+strings.Join(want[:6], ",") {
		t.Fatalf("files %q, want %q", got, want)
	}
	if len(ignored) != 1 || rel(ignored[0]) != "archive.zip" {
		t.Fatalf("ignored %q, want the one archive (images are read by OCR)", ignored)
	}
	var reasons []string
	for _, e := range errs {
		reasons = append(reasons, rel(e.Path)+": "+e.Reason)
	}
	joined := strings.Join(reasons, "\n")
	for _, w := range []string{"l1.md: is a symbolic link loop", "sub/deeper/back-to-top: is a symbolic link loop", "nope: does not exist"} {
		if !strings.Contains(joined, w) {
			t.Errorf("errors %q lack %q", joined, w)
		}
	}
}

func TestPDFCancelMidway(t *testing.T) {
	p := "/usr/share/doc/libtasn1-doc/libtasn1.pdf"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is not on this machine", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := Extract(ctx, p, DefaultLimits())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasSuffix(err.Error(), "was not read (cancelled)") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
}

// TestMain lets this binary act as the unprivileged child of asNobody.
func TestMain(m *testing.M) {
	if p := os.Getenv("ATOLL_EXTRACT_AS_CHILD"); p != "" {
		_, err := Extract(context.Background(), p, DefaultLimits())
		if err == nil {
			os.Stdout.WriteString("no error")
		} else {
			os.Stdout.WriteString(err.Error())
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// asNobody extracts a chmod-000 file as the user nobody (uid 65534) and
// returns the error text the child saw.
func asNobody(t *testing.T, name string) (string, error) {
	t.Helper()
	shared, err := os.MkdirTemp("", "atoll-nobody")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	os.Chmod(shared, 0o755)
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		return "", err
	}
	bin := filepath.Join(shared, "child.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(shared, name)
	if err := os.WriteFile(p, []byte("private"), 0); err != nil {
		return "", err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ATOLL_EXTRACT_AS_CHILD="+p)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Where folder identities are unknown (Windows), depth ends a loop; here a
// real, very deep tree shows the sentence.
func TestCollectDepthLimit(t *testing.T) {
	dir := t.TempDir()
	deep := dir
	for i := 0; i <= maxDepth+1; i++ {
		deep = filepath.Join(deep, "d")
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, deep, "lost.md", []byte("x"))
	writeFile(t, dir, "top.md", []byte("x"))
	files, _, errs := Collect([]string{dir})
	if len(files) != 1 || filepath.Base(files[0]) != "top.md" {
		t.Fatalf("files %q", files)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Reason, "more than 64 folders deep") {
		t.Fatalf("errors %v", errs)
	}
}
