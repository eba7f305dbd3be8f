package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"atoll/internal/testbin"
	"atoll/store"
)

// The concurrency suite runs real `atoll` processes on one data folder, as
// a user with the window open and a script running does. In every run, no
// document that a process reported as stored may be missing afterwards.

// noOllama is a closed port: texts are stored and searchable, embeddings wait.
const noOllama = "http://127.0.0.1:9"

func fileSet(t *testing.T, dir, prefix string, n int) []string {
	t.Helper()
	var paths []string
	for i := 0; i < n; i++ {
		paths = append(paths, write(t, dir, fmt.Sprintf("%s/%s%03d.md", prefix, prefix, i),
			fmt.Sprintf("# %s %d\n\nThe %s%03dword document is number %d of its set.\n", prefix, i, prefix, i, i)))
	}
	return paths
}

func startAtoll(t *testing.T, data string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(testbin.Atoll(t), append([]string{"--data", data, "--ollama", noOllama}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out, &errb
}

// stored lists the documents of a knowledge base as a fresh process sees them.
func stored(t *testing.T, data, kb string) map[string]bool {
	t.Helper()
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := st.KB(kb)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range k.Docs() {
		if d.Status == store.StatusOK {
			got[d.Path] = true
		}
	}
	return got
}

func requireAll(t *testing.T, got map[string]bool, want []string, what string) {
	t.Helper()
	missing := 0
	for _, p := range want {
		if !got[p] {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%s: %d of %d documents reported stored are missing (%d present in all)", what, missing, len(want), len(got))
	}
}

func TestConcurrentCLIWritersOnDisjointFiles(t *testing.T) {
	for round := 0; round < 3; round++ {
		data, files := t.TempDir(), t.TempDir()
		seed := write(t, files, "seed.md", "# Seed\n\nThe first document.\n")
		if r := atoll(t, "--data", data, "--ollama", noOllama, "ingest", "--kb", "same", seed); r.code != 0 {
			t.Fatalf("seed ingest: %d %s", r.code, r.stderr)
		}
		a, b := fileSet(t, files, "a", 60), fileSet(t, files, "b", 60)
		ca, _, ea := startAtoll(t, data, "ingest", "--kb", "same", filepath.Join(files, "a"))
		cb, _, eb := startAtoll(t, data, "ingest", "--kb", "same", filepath.Join(files, "b"))
		if err := ca.Wait(); err != nil {
			t.Fatalf("round %d: first writer: %v\n%s", round, err, ea)
		}
		if err := cb.Wait(); err != nil {
			t.Fatalf("round %d: second writer: %v\n%s", round, err, eb)
		}
		got := stored(t, data, "same")
		requireAll(t, got, append(append(a, b...), seed), fmt.Sprintf("round %d", round))
	}
}

func TestTwoIngestsCreateOneKnowledgeBase(t *testing.T) {
	data, files := t.TempDir(), t.TempDir()
	a, b := fileSet(t, files, "a", 20), fileSet(t, files, "b", 20)
	ca, _, ea := startAtoll(t, data, "ingest", "--kb", "fresh", filepath.Join(files, "a"))
	cb, _, eb := startAtoll(t, data, "ingest", "--kb", "fresh", filepath.Join(files, "b"))
	if err := ca.Wait(); err != nil {
		t.Fatalf("first creator: %v\n%s", err, ea)
	}
	if err := cb.Wait(); err != nil {
		t.Fatalf("second creator: %v\n%s", err, eb)
	}
	requireAll(t, stored(t, data, "fresh"), append(a, b...), "two creations")
}

// A writer killed with SIGKILL in the middle of its work releases the lock
// (the kernel drops it with the process); the other writer finishes, and
// running the killed job again completes it.
func TestKilledWriterWhileAnotherWaits(t *testing.T) {
	data, files := t.TempDir(), t.TempDir()
	a, b := fileSet(t, files, "a", 300), fileSet(t, files, "b", 40)
	ca, _, _ := startAtoll(t, data, "ingest", "--kb", "kill", filepath.Join(files, "a"))
	// Kill it once it has stored something, so it dies mid-job.
	deadline := time.Now().Add(60 * time.Second)
	logPath := filepath.Join(data, "kb", "kill", "docs.log")
	for {
		if st, err := os.Stat(logPath); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first writer stored nothing within a minute")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cb, _, eb := startAtoll(t, data, "ingest", "--kb", "kill", filepath.Join(files, "b"))
	ca.Process.Signal(syscall.SIGKILL)
	ca.Wait()
	if err := cb.Wait(); err != nil {
		t.Fatalf("the writer beside a killed one: %v\n%s", err, eb)
	}
	requireAll(t, stored(t, data, "kill"), b, "after a kill -9 beside it")
	// The killed job, run again, completes; nothing of b's is lost.
	if r := atoll(t, "--data", data, "--ollama", noOllama, "ingest", "--kb", "kill", filepath.Join(files, "a")); r.code != 0 {
		t.Fatalf("resuming the killed job: %d %s", r.code, r.stderr)
	}
	requireAll(t, stored(t, data, "kill"), append(a, b...), "after resuming")
}

// `atoll serve` (the app over HTTP, as the window) and the command line
// ingest into one knowledge base at once; searches from a third process
// keep working meanwhile.
func TestServeAndCLIWriteTogether(t *testing.T) {
	data, files := t.TempDir(), t.TempDir()
	a, b := fileSet(t, files, "a", 60), fileSet(t, files, "b", 60)
	srv := exec.Command(testbin.Atoll(t), "--data", data, "--ollama", noOllama, "serve", "--addr", "127.0.0.1:0")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() })
	base := serveAddress(t, stdout)
	go io.Copy(io.Discard, stdout)
	call := func(method string, args ...any) json.RawMessage {
		t.Helper()
		body, _ := json.Marshal(args)
		resp, err := http.Post(base+"/api/call/"+method, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", method, resp.StatusCode, out)
		}
		return out
	}
	call("CreateKB", "both", "")
	call("Ingest", "both", []string{filepath.Join(files, "a")})
	cli, _, ecli := startAtoll(t, data, "ingest", "--kb", "both", filepath.Join(files, "b"))
	// A reader in a third process meanwhile: search answers, never fails.
	for i := 0; i < 3; i++ {
		if r := atoll(t, "--data", data, "--ollama", noOllama, "search", "--kb", "both", "--json", "document"); r.code != 0 {
			t.Fatalf("search beside two writers: %d %s", r.code, r.stderr)
		}
	}
	if err := cli.Wait(); err != nil {
		t.Fatalf("CLI writer beside serve: %v\n%s", err, ecli)
	}
	// serve's job finishes on its own time: wait until its documents are in.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		var docs []struct {
			Path   string `json:"path"`
			Status string `json:"status"`
		}
		json.Unmarshal(call("ListDocuments", "both"), &docs)
		if len(docs) >= 120 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("serve's ingest did not finish: %d documents listed\n%s", len(docs), srvErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// serve still has the knowledge base open; a fresh process must see both.
	requireAll(t, stored(t, data, "both"), append(a, b...), "serve and CLI together")
}

var servingURL = regexp.MustCompile(`http://[^\s/]+`)

func serveAddress(t *testing.T, r io.Reader) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if u := servingURL.FindString(sc.Text()); u != "" && strings.Contains(sc.Text(), "serving") {
				found <- u
				return
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("atoll serve ended without saying where it serves")
		}
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("atoll serve did not start within a minute")
	}
	return ""
}
