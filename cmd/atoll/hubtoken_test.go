package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// atollWithin runs the command in-process and fails the test if it has not
// returned in time: a subcommand that starts a server instead never returns.
func atollWithin(t *testing.T, d time.Duration, args ...string) result {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- atoll(t, args...) }()
	select {
	case r := <-done:
		return r
	case <-time.After(d):
		t.Fatalf("atoll %s did not return within %v (did it start a server?)", strings.Join(args, " "), d)
	}
	return result{}
}

// TestHubTokenCommands: create, list and revoke tokens by id; only hashes
// are stored; unknown subcommands are usage errors, never a server start.
func TestHubTokenCommands(t *testing.T) {
	dir := t.TempDir()
	wait := 20 * time.Second
	r := atollWithin(t, wait, "--data", dir, "hub", "token", "create", "--label", "shop")
	tok := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(tok, "atl_") {
		t.Fatalf("create: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r2 := atollWithin(t, wait, "--data", dir, "hub", "token", "create", "--label", "ci")
	if r2.code != 0 {
		t.Fatal(r2.stderr)
	}
	r = atollWithin(t, wait, "--data", dir, "hub", "token", "list", "--json")
	var list []struct{ ID, Label string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 2 || list[0].Label != "shop" || list[0].ID == "" || list[0].ID == list[1].ID {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = atollWithin(t, wait, "--data", dir, "hub", "token", "list")
	if r.code != 0 || !strings.Contains(r.stdout, list[1].ID) || !strings.Contains(r.stdout, "CREATED") || strings.Contains(r.stdout, tok) {
		t.Fatalf("list (text): %d %s", r.code, r.stdout)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if strings.Contains(string(b), tok) {
		t.Fatal("the token itself must not be stored")
	}
	r = atollWithin(t, wait, "--data", dir, "hub", "token", "revoke", list[0].ID)
	if r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	r = atollWithin(t, wait, "--data", dir, "hub", "token", "list", "--json")
	if json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 || list[0].Label != "ci" {
		t.Fatalf("after revoke: %s", r.stdout)
	}
	r = atollWithin(t, wait, "--data", dir, "hub", "token", "revoke", "tok_nope")
	if r.code != 1 || !strings.Contains(r.stderr, "tok_nope") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("revoking an unknown id: %d %q", r.code, r.stderr)
	}

	// Usage errors: exit 2 with one sentence, and no server.
	for _, args := range [][]string{
		{"hub", "token"}, {"hub", "foo"}, {"hub", "token", "list", "extra"}, {"hub", "token", "frob"},
		{"hub", "token", "revoke"}, {"hub", "--addr", "127.0.0.1:0", "stray"}, {"hub", "--trusted-proxy", "not-a-cidr"},
	} {
		r := atollWithin(t, wait, append([]string{"--data", dir}, args...)...)
		if r.code != 2 || strings.Contains(r.stdout, "serving") || strings.TrimSpace(r.stderr) == "" {
			t.Errorf("atoll %s: exit %d, stdout %q, stderr %q; want a usage error", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	// Help exits 0 and lists every flag.
	for _, c := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"hub", "--help"}, []string{"-addr", "-rate", "-trusted-proxy", "-behind-proxy", "-conns-per-ip", "-max-bundle-mb", "-backend", "-retention", "token create"}},
		{[]string{"hub", "token", "create", "--help"}, []string{"-label"}},
		{[]string{"hub", "token", "list", "--help"}, []string{"-json"}},
		{[]string{"hub", "token", "revoke", "--help"}, []string{"ID"}},
		{[]string{"hub", "token", "--help"}, []string{"create", "list", "revoke"}},
	} {
		r := atollWithin(t, wait, append([]string{"--data", dir}, c.args...)...)
		if r.code != 0 {
			t.Errorf("atoll %s: exit %d %s", strings.Join(c.args, " "), r.code, r.stderr)
		}
		for _, f := range c.flags {
			if !strings.Contains(r.stderr+r.stdout, f) {
				t.Errorf("atoll %s does not mention %s:\n%s", strings.Join(c.args, " "), f, r.stderr)
			}
		}
	}
}
