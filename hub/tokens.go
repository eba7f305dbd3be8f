// Package hub is the hosted platform: it serves published agents to end
// users (a chat page, an embeddable widget, an OpenAI-compatible endpoint)
// with the same answer code as the desktop, and takes publications from
// publishers who hold a token.
package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Tokens are publisher credentials, stored as SHA-256 hashes only: a stolen
// tokens file does not let anyone publish.
type Tokens struct {
	path string
	mu   sync.Mutex
}

type tokenRecord struct {
	Hash    string    `json:"hash"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

// NewTokens keeps tokens in DIR/tokens.json (mode 0600).
func NewTokens(dir string) *Tokens { return &Tokens{path: filepath.Join(dir, "tokens.json")} }

func (t *Tokens) load() ([]tokenRecord, error) {
	b, err := os.ReadFile(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []tokenRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// Create makes a new token and returns it; only its hash is kept.
func (t *Tokens) Create(label string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	recs, err := t.load()
	if err != nil {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := "atl_" + hex.EncodeToString(raw)
	recs = append(recs, tokenRecord{Hash: hashToken(tok), Label: label, Created: time.Now().UTC()})
	b, _ := json.MarshalIndent(recs, "", "  ")
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return "", err
	}
	tmp := t.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", err
	}
	return tok, os.Rename(tmp, t.path)
}

// Valid reports whether tok is a current token.
func (t *Tokens) Valid(tok string) bool {
	if tok == "" {
		return false
	}
	t.mu.Lock()
	recs, err := t.load()
	t.mu.Unlock()
	if err != nil {
		return false
	}
	h := []byte(hashToken(tok))
	ok := false
	for _, r := range recs {
		if subtle.ConstantTimeCompare(h, []byte(r.Hash)) == 1 {
			ok = true
		}
	}
	return ok
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
