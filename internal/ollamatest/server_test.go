package ollamatest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1", SkipEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ollama %s started with models in %s", Version, s.StartTime.Round(time.Millisecond))

	resp, err := http.Get(s.URL + "/api/tags")
	if err != nil {
		t.Fatal(err)
	}
	var tags struct{ Models []struct{ Name string } }
	err = json.NewDecoder(resp.Body).Decode(&tags)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range tags.Models {
		names = append(names, m.Name)
	}
	got := strings.Join(names, ",")
	for _, want := range []string{ChatModel + ":latest", ToolsModel + ":latest"} {
		if !strings.Contains(got, want) {
			t.Errorf("tags = %s, want %s among them", got, want)
		}
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if s.Alive() {
		t.Error("ollama still running after Stop")
	}
	if _, err := os.Stat(s.ModelsDir); !os.IsNotExist(err) {
		t.Errorf("models dir %s not removed: %v", s.ModelsDir, err)
	}
	if _, err := http.Get(s.URL + "/api/version"); err == nil {
		t.Error("server still answers after Stop")
	}
}
