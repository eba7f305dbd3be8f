package testbin

import (
	"bufio"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"os/exec"
)

// Proc is a long-lived command started for a test (atoll serve, atoll
// hub). Its standard output is kept line by line for Next and WaitFor; the
// end of the test stops it with SIGTERM, and SIGKILL after 30 s.
type Proc struct {
	mu     sync.Mutex
	lines  []string
	read   int  // lines already handed out by Next
	ended  bool // standard output closed
	change chan struct{}
	stderr strings.Builder
}

// Start runs bin with args until the test ends.
func Start(t testing.TB, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{change: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.note(sc.Text(), false)
		}
		p.note("", true)
	}()
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *Proc) note(line string, ended bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ended {
		p.ended = true
	} else {
		p.lines = append(p.lines, line)
	}
	close(p.change)
	p.change = make(chan struct{})
}

// Next returns the next line the process printed, waiting up to within;
// false if it ended or printed nothing more in that time.
func (p *Proc) Next(within time.Duration) (string, bool) {
	deadline := time.After(within)
	for {
		p.mu.Lock()
		if p.read < len(p.lines) {
			l := p.lines[p.read]
			p.read++
			p.mu.Unlock()
			return l, true
		}
		ended, change := p.ended, p.change
		p.mu.Unlock()
		if ended {
			return "", false
		}
		select {
		case <-change:
		case <-deadline:
			return "", false
		}
	}
}

// WaitFor returns the first group of the next line matching re, failing the
// test (with what the process said) if none comes within the time given.
func (p *Proc) WaitFor(t testing.TB, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l, ok := p.Next(time.Until(deadline))
		if !ok {
			t.Fatalf("the process printed no line matching %s within %v; it printed %q; stderr: %s", re, within, p.Lines(), p.Stderr())
		}
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
}

// Lines is everything the process printed so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Seen is the lines Next and WaitFor have gone through.
func (p *Proc) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines[:p.read]...)
}

// Stderr is what the process wrote to standard error so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}
