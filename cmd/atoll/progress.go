package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress shows a long job: on a terminal, one bar redrawn in place; else
// plain lines, one when the phase changes and one every e.progressEvery
// from a timer, so a log shows the job alive even while one slow batch of
// embeddings keeps the job itself silent.
type progress struct {
	w        io.Writer
	tty      bool
	mu       sync.Mutex
	phase    string
	line     string
	frac     float64
	drawn    time.Time
	drew     bool
	stop     chan struct{}
	finished chan struct{}
}

func (e *env) startProgress() *progress {
	p := &progress{w: e.stderr, tty: isTerminal(e.stderr), stop: make(chan struct{}), finished: make(chan struct{})}
	every := e.progressEvery
	if p.tty || every <= 0 {
		close(p.finished)
		return p
	}
	go func() {
		defer close(p.finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.line != "" {
					fmt.Fprintln(p.w, p.line)
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// set records the job's state: frac is done/total (the bar), line the
// state in words.
func (p *progress) set(phase string, frac float64, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := phase != p.phase
	p.phase, p.line, p.frac = phase, line, frac
	if !p.tty {
		if changed {
			fmt.Fprintln(p.w, line)
		}
		return
	}
	if !changed && time.Since(p.drawn) < 100*time.Millisecond {
		return
	}
	p.drawn = time.Now()
	n := max(0, min(24, int(frac*24)))
	bar := fmt.Sprintf("\r[%s%s] %3.0f%% %s", strings.Repeat("#", n), strings.Repeat(".", 24-n), frac*100, line)
	if r := []rune(bar); len(r) > 110 {
		bar = string(r[:110])
	}
	fmt.Fprintf(p.w, "%-110s", bar)
	p.drew = true
}

// finish stops the timer and clears the bar; the caller may write to the
// same stream once it returns.
func (p *progress) finish() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.finished
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drew {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 110)+"\r")
		p.drew = false
	}
}
