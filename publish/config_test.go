package publish

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestConfigPublicNames: a public name is remembered per hub, maps both
// ways, is forgotten when the agent goes back to its own name, and moves to
// the agent last published under it.
func TestConfigPublicNames(t *testing.T) {
	c := Config{URL: "https://one.example"}
	c.Remember("baker", "baker-a")
	if c.PublicName("baker") != "baker-a" || c.LocalName("baker-a") != "baker" || c.LocalName("baker") != "" || c.PublicName("cook") != "cook" || c.LocalName("cook") != "cook" {
		t.Fatalf("one hub: %+v", c.Names)
	}
	other := c
	other.URL = "https://two.example"
	if other.PublicName("baker") != "baker" || other.PullKey("baker") != "https://two.example" {
		t.Fatal("a public name on one hub was used on another")
	}
	if c.PullKey("baker") == c.URL {
		t.Fatal("the pull cursor of a public name is the hub's own")
	}
	c.Remember("cook", "baker-a")
	if c.PublicName("baker") != "baker" || c.PublicName("cook") != "baker-a" {
		t.Fatalf("the name moved to cook: %+v", c.Names)
	}
	c.Remember("cook", "cook")
	if len(c.Names) != 0 {
		t.Fatalf("back to its own name, nothing stays: %+v", c.Names)
	}
}

// TestUpdateConfigKeepsConcurrentNames: publishes finishing together each
// keep their public name, and the file is the user's only.
func TestUpdateConfigKeepsConcurrentNames(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := UpdateConfig(dir, func(c *Config) {
				c.URL, c.Token = "https://hub.example", "atl_x"
				c.Remember(fmt.Sprint("agent", i), fmt.Sprint("public", i))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c := ReadConfig(dir)
	for i := range 8 {
		if got := c.PublicName(fmt.Sprint("agent", i)); got != fmt.Sprint("public", i) {
			t.Errorf("agent%d is published as %q", i, got)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, ConfigFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if !strings.Contains(string(b), `"names"`) {
		t.Fatalf("written: %s", b)
	}
}
