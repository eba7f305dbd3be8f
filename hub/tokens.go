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
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"atoll/store"
)

// Tokens are the publisher credentials of a hub from before its database
// (tokens.json), read once to import them; the hub keeps its tokens in
// its store since. They are stored as SHA-256 hashes only: a stolen
// tokens file does not let anyone publish. Each has a short id, shown by
// `atoll hub token list` and used to revoke it; the id reveals nothing of
// the token.
type Tokens struct {
	path string
	mu   sync.Mutex
}

// Token is what is known of a token once it is created.
type Token struct {
	ID      string    `json:"id"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

type tokenRecord struct {
	ID      string    `json:"id,omitempty"` // empty in files written before ids existed
	Hash    string    `json:"hash"`
	Label   string    `json:"label"`
	Created time.Time `json:"created"`
}

// id is the record's id; a token made before ids existed gets one derived
// from its hash, stable across reads.
func (r tokenRecord) id() string {
	if r.ID != "" {
		return r.ID
	}
	return "h" + r.Hash[:min(len(r.Hash), 11)]
}

// ErrNoToken is returned when revoking an id that does not exist.
var ErrNoToken = errors.New("no such token")

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
		return nil, fmt.Errorf("the tokens file %s is damaged: %w", t.path, err)
	}
	return recs, nil
}

func (t *Tokens) save(recs []tokenRecord) error {
	if recs == nil {
		recs = []tokenRecord{}
	}
	b, _ := json.MarshalIndent(recs, "", "  ")
	if err := os.MkdirAll(filepath.Dir(t.path), 0o700); err != nil {
		return err
	}
	return store.WriteFileAtomic(t.path, b, 0o600)
}

// Create makes a new token and returns it; only its hash is kept.
func (t *Tokens) Create(label string) (string, error) {
	tok, _, err := t.CreateWithID(label)
	return tok, err
}

// CreateWithID makes a new token and returns it with its id.
func (t *Tokens) CreateWithID(label string) (tok, id string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	recs, err := t.load()
	if err != nil {
		return "", "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	tok = "atl_" + hex.EncodeToString(raw)
	idRaw := make([]byte, 6)
	if _, err := rand.Read(idRaw); err != nil {
		return "", "", err
	}
	id = "tok_" + hex.EncodeToString(idRaw)
	recs = append(recs, tokenRecord{ID: id, Hash: hashToken(tok), Label: label, Created: time.Now().UTC()})
	return tok, id, t.save(recs)
}

// List returns every token's id, label and creation time, oldest first.
func (t *Tokens) List() ([]Token, error) {
	t.mu.Lock()
	recs, err := t.load()
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(recs))
	for _, r := range recs {
		out = append(out, Token{ID: r.id(), Label: r.Label, Created: r.Created})
	}
	return out, nil
}

// Revoke deletes the token with this id; it stops working at once.
func (t *Tokens) Revoke(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	recs, err := t.load()
	if err != nil {
		return err
	}
	kept := recs[:0]
	for _, r := range recs {
		if r.id() != id {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(recs) {
		return fmt.Errorf("token %q: %w", id, ErrNoToken)
	}
	return t.save(kept)
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

// newSecret makes a credential: prefix and 48 hex digits.
func newSecret(prefix string) string {
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	return prefix + hex.EncodeToString(raw)
}

// HashToken is how a credential is stored: its SHA-256, hex.
func HashToken(tok string) string { return hashToken(tok) }

// NewToken makes a publisher token and its hash (the only thing stored).
func NewToken() (tok, hash string) {
	tok = newSecret("atl_")
	return tok, hashToken(tok)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
