package app

import (
	"strings"
	"testing"

	"atoll/agent"
	"atoll/internal/ollamafake"
)

func TestAgentVersionsRestore(t *testing.T) {
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, sys := range []string{"first", "second", "third"} {
		if _, err := a.SaveAgent(agent.Definition{Name: "baker", Model: "m", System: sys}); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := a.AgentVersions("baker")
	if err != nil || len(vs) != 3 || vs[0].Version != 3 {
		t.Fatalf("versions newest first: %+v %v", vs, err)
	}
	old, _ := a.GetAgentVersion("baker", 1)
	if old.System != "first" {
		t.Fatalf("view version 1: %+v", old)
	}
	d, err := a.RestoreAgentVersion("baker", 1)
	if err != nil || d.Version != 4 || d.System != "first" {
		t.Fatalf("restore: %+v %v", d, err)
	}
	if _, err := a.RestoreAgentVersion("baker", 4); err == nil {
		t.Fatal("restoring the current version should say so")
	}
	if vs, _ := a.AgentVersions("baker"); len(vs) != 4 {
		t.Fatalf("history keeps every version: %d", len(vs))
	}
}

func TestPrivacyAndMemorySwitches(t *testing.T) {
	fake := ollamafake.New(t)
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, _ := a.GetSettings()
	s.OllamaURL = "http://192.168.1.20:11434"
	if _, err := a.SaveSettings(s); err == nil || !strings.Contains(err.Error(), "not on this computer") {
		t.Fatalf("a remote Ollama must need the switch: %v", err)
	}
	s.AllowRemoteOllama = true
	if _, err := a.SaveSettings(s); err != nil {
		t.Fatalf("with the switch on: %v", err)
	}
	s.OllamaURL, s.AllowRemoteOllama = "http://localhost:11434", false
	if _, err := a.SaveSettings(s); err != nil {
		t.Fatalf("localhost is this computer: %v", err)
	}
	if a.runner.Memory == nil {
		t.Fatal("memory is on by default")
	}
	s.MemoryOff = true
	if _, err := a.SaveSettings(s); err != nil || a.runner.Memory != nil {
		t.Fatalf("the memory switch must turn memory off for every agent: %v", err)
	}
}
