package main

import (
	"bytes"
	"flag"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer lets a test read what a command that never returned wrote.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// walk runs one command line and gives up (failing the test) if it does not
// return: a mistyped subcommand that starts a server must not hang the suite.
func walk(t *testing.T, args ...string) (result, *env, bool) {
	t.Helper()
	var out, errb syncBuffer
	e := newEnv(&out, &errb)
	done := make(chan int, 1)
	go func() { done <- e.run(args) }()
	select {
	case code := <-done:
		return result{code, out.String(), errb.String()}, e, true
	case <-time.After(60 * time.Second):
		t.Errorf("atoll %s did not return within 60 s (did it start a server?); stderr %q", strings.Join(args, " "), errb.String())
		return result{}, nil, false
	}
}

// usageErrors are wrong command lines for each command (beyond an unknown
// flag, tried on every command). A new command in the table must be listed
// here, with nil when it has no required argument to leave out.
var usageErrors = map[string][][]string{
	"ingest":           {{}, {"--kb", "x"}, {"--kb", "a/b", "f.md"}, {"--kb"}, {"--kb", "x", "--reembed", "f.md"}, {"--kb", "x", "--crawl", "2", "f.md"}, {"--kb", "x", "--crawl", "-1", "http://127.0.0.1:9/"}, {"--kb", "x", "--schedule", "monthly", "http://127.0.0.1:9/"}, {"--kb", "x", "--watch", "http://127.0.0.1:9/"}},
	"sync":             {{"extra"}, {"--kb", "a/b"}},
	"kb sources":       {{}, {"a", "b"}, {"a/b"}},
	"search":           {{}, {"--kb", "x"}, {"cake"}, {"--kb", "x", "--k", "0", "cake"}, {"--kb", "../x", "cake"}},
	"kb list":          {{"extra"}},
	"kb docs":          {{}, {"a", "b"}, {"a/b"}},
	"kb rm":            {{}, {"a", "b"}, {"--help-me"}, {".hidden"}},
	"agent new":        {{}, {"--kb", "a/b", "a bakery assistant"}},
	"agent create":     {{}, {"baker"}, {"a/b", "--model", "m"}},
	"agent list":       {{"extra"}},
	"agent versions":   {{}, {"a/b"}, {"a", "b"}},
	"agent restore":    {{"baker"}, {"baker", "--version", "0"}, {"a/b", "--version", "1"}},
	"agent test":       {{"baker"}, {"a/b", "--questions", "q.jsonl"}},
	"agent rm":         {{}, {"a/b"}},
	"leads list":       {{}, {"--agent", "a/b"}},
	"leads export":     {{"--agent", "baker"}, {"--csv", "-"}},
	"leads pull":       {{}, {"--agent", "baker"}},
	"ask":              {{}, {"--agent", "baker"}, {"--agent", "a/b", "hello?"}},
	"eval":             {{}, {"--kb", "x"}},
	"models":           {{"extra"}},
	"pull":             {{}, {"a", "b"}},
	"serve":            nil,
	"export":           {{}, {"--agent", "baker"}, {"--agent", "baker", "-o", "f", "--format", "zip"}},
	"import":           {{}, {"a.atoll", "b.atoll"}, {"a.atoll", "--embed-model", "m"}},
	"publish":          {{}},
	"hub":              {{"--backend", "nope"}, {"frobnicate"}, {"--backend", "vllm=http://x:1"}, {"--backend", "openai"}, {"--backend", "ollama", "--backend", "ollama=http://x:1"}, {"--backend-url", "http://x:1/v1"}, {"--backend", "ollama=http://x:1", "--backend", "ollama=http://x:1/"}, {"--backend-concurrency", "0"}},
	"hub token create": nil,
	"hub token list":   nil,
	"hub token revoke": {{}},
	"mcp":              {{}},
}

// TestEveryCommandKeepsItsPromises walks the command table: every command,
// subcommand and group answers --help and -h with exit 0, its usage and
// every flag it defines (named in its synopsis too); the top-level help
// names every command; every usage error exits 2 with one line.
func TestEveryCommandKeepsItsPromises(t *testing.T) {
	data := t.TempDir()
	base := []string{"--data", data, "--ollama", "http://127.0.0.1:9"}
	top, _, _ := walk(t, "--help")
	if top.code != 0 {
		t.Fatalf("--help: exit %d", top.code)
	}
	for _, want := range []string{"--tools", "--lead-form", "--format", "--rollback", "--version", "--reembed"} {
		if !strings.Contains(top.stdout, want) {
			t.Errorf("the top-level help does not mention %s", want)
		}
	}
	if r, _, _ := walk(t, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "atoll ") {
		t.Errorf("--version: exit %d, %q", r.code, r.stdout)
	}
	groups := map[string]bool{}
	for _, c := range commands() {
		if !strings.Contains(top.stdout, "  "+c.name+" ") {
			t.Errorf("the top-level help does not list %q", c.name)
		}
		if _, ok := usageErrors[c.name]; !ok {
			t.Errorf("%q is in the command table but not in usageErrors", c.name)
		}
		words := strings.Fields(c.name)
		for i := 1; i < len(words); i++ {
			if _, ok := lookup(strings.Join(words[:i], " ")); !ok {
				groups[strings.Join(words[:i], " ")] = true
			}
		}
		for _, h := range []string{"--help", "-h"} {
			r, e, ok := walk(t, append(append(append([]string{}, base...), words...), h)...)
			if !ok {
				continue
			}
			if r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: atoll "+c.name+" ") {
				t.Errorf("atoll %s %s: exit %d, stdout %q, stderr %q", c.name, h, r.code, r.stdout, r.stderr)
				continue
			}
			var fs *flag.FlagSet
			for _, f := range e.made {
				if f.Name() == c.name {
					fs = f
				}
			}
			if fs == nil {
				t.Errorf("atoll %s %s: no flag set named %q answered", c.name, h, c.name)
				continue
			}
			fs.VisitAll(func(f *flag.Flag) {
				dash := "--"
				if len(f.Name) == 1 {
					dash = "-"
				}
				// "  --from URL": one value name, not words taken from the usage.
				line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(dash+f.Name) + `( [^ ]+)?$`)
				if !line.MatchString(r.stdout) {
					t.Errorf("atoll %s %s does not show %s%s on a line of its own:\n%s", c.name, h, dash, f.Name, r.stdout)
				}
				if !strings.Contains(c.synopsis+" ", dash+f.Name+" ") && !strings.Contains(c.synopsis, dash+f.Name+"]") {
					t.Errorf("the synopsis of %q (%q) does not mention %s%s", c.name, c.synopsis, dash, f.Name)
				}
			})
		}
	}
	for g := range groups {
		args := append(append([]string{}, base...), strings.Fields(g)...)
		if r, _, ok := walk(t, append(args, "--help")...); ok && (r.code != 0 || !strings.Contains(r.stdout, "Usage: atoll "+g)) {
			t.Errorf("atoll %s --help: exit %d, %q", g, r.code, r.stdout)
		}
		usageError(t, args)
		usageError(t, append(args, "frobnicate"))
	}
	for name, cases := range usageErrors {
		if _, ok := lookup(name); !ok {
			t.Errorf("usageErrors lists %q, which is not a command", name)
			continue
		}
		cases = append(cases, []string{"--no-such-flag"})
		for _, c := range cases {
			usageError(t, append(append(append([]string{}, base...), strings.Fields(name)...), c...))
		}
	}
}

func usageError(t *testing.T, args []string) {
	t.Helper()
	r, _, ok := walk(t, args...)
	if !ok {
		return
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	if r.code != 2 || msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "atoll:") {
		t.Errorf("atoll %s: want exit 2 and one line on stderr, got exit %d, stderr %q", strings.Join(args[4:], " "), r.code, r.stderr)
	}
}
