package channels

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// KeyEnv is the environment variable that can hold the key sealing channel
// secrets (64 hex digits or base64 of 32 bytes); it wins over the key file.
const KeyEnv = "ATOLL_CHANNEL_KEY"

// LoadKey returns the 32-byte key sealing channel secrets: from the
// environment variable env if set, else from file, which is created (mode
// 0600, 32 random bytes, hex) if it does not exist.
func LoadKey(file, env string) ([]byte, error) {
	if env != "" {
		if v := strings.TrimSpace(os.Getenv(env)); v != "" {
			k, err := decodeKey(v)
			if err != nil {
				return nil, fmt.Errorf("%s is not a 32-byte key (64 hex digits or base64): set it again, e.g. from `openssl rand -hex 32`", env)
			}
			return k, nil
		}
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("cannot create the folder of the channel key file %s: %v", file, err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadKey(file, "") // another process made it first
		}
		if err != nil {
			return nil, fmt.Errorf("cannot create the channel key file %s: %v", file, err)
		}
		_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("cannot write the channel key file %s: %v", file, werr)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the channel key file %s: %v", file, err)
	}
	k, err := decodeKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("the channel key file %s does not hold a 32-byte key; restore it from a backup (channel secrets sealed with it cannot be read otherwise)", file)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, errors.New("not a 32-byte key")
}

// Sealer seals channel secrets with AES-256-GCM.
type Sealer struct{ aead cipher.AEAD }

// NewSealer takes a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("the channel key must be 32 bytes")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: g}, nil
}

const sealPrefix = "gcm1:"

// Seal encrypts plain; context (the channel ID and setting name) is bound
// to the result, so a sealed value moved to another channel or setting
// does not open.
func (s *Sealer) Seal(plain, context string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal made with the same context.
func (s *Sealer) Open(sealed, context string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", errors.New("the channel secret is not sealed")
	}
	b, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("the channel secret is damaged")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(context))
	if err != nil {
		return "", errors.New("a channel secret cannot be opened with this key: the key file or " + KeyEnv + " changed; set the channel's secrets again")
	}
	return string(plain), nil
}

// Mask shows that a secret is set without revealing it: its last four
// characters for secrets long enough that they give little away.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	n := utf8.RuneCountInString(secret)
	if n < 12 {
		return "••••"
	}
	r := []rune(secret)
	return "••••" + string(r[n-4:])
}

// Stored is a channel's config as kept at rest: secret settings sealed.
type Stored struct {
	ID        string            `json:"id"`
	Kind      Kind              `json:"kind"`
	Workspace string            `json:"workspace,omitempty"`
	Agent     string            `json:"agent"`
	APIBase   string            `json:"api_base,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"` // plain settings
	Secrets   map[string]string `json:"secrets,omitempty"`  // sealed settings
	// Origin is "operator" for a channel added with the hub's CLI; any
	// other value, or none (a row from before it was recorded), is a
	// tenant's, the guarded side.
	Origin string `json:"origin,omitempty"`
}

// OriginOperator marks a Stored channel the hub's operator added.
const OriginOperator = "operator"

func sealContext(id, key string) string { return "atoll-channel\x00" + id + "\x00" + key }

// Seal validates cfg and splits its settings into plain and sealed ones by
// the kind's fields.
func Seal(cfg Config, s *Sealer) (Stored, error) {
	f, err := Validate(cfg)
	if err != nil {
		return Stored{}, err
	}
	st := Stored{ID: cfg.ID, Kind: cfg.Kind, Workspace: cfg.Workspace, Agent: cfg.Agent, APIBase: cfg.APIBase,
		Settings: map[string]string{}, Secrets: map[string]string{}, Origin: "tenant"}
	if !cfg.Tenant {
		st.Origin = OriginOperator
	}
	for _, fl := range f.Fields {
		v, ok := cfg.Settings[fl.Key]
		if !ok {
			continue
		}
		if !fl.Secret {
			st.Settings[fl.Key] = v
			continue
		}
		sealed, err := s.Seal(v, sealContext(cfg.ID, fl.Key))
		if err != nil {
			return Stored{}, err
		}
		st.Secrets[fl.Key] = sealed
	}
	return st, nil
}

// Open turns a stored config back into a Config with its secrets.
func (st Stored) Open(s *Sealer) (Config, error) {
	cfg := Config{ID: st.ID, Kind: st.Kind, Workspace: st.Workspace, Agent: st.Agent, APIBase: st.APIBase,
		Settings: map[string]string{}, Tenant: st.Origin != OriginOperator}
	for k, v := range st.Settings {
		cfg.Settings[k] = v
	}
	for k, v := range st.Secrets {
		plain, err := s.Open(v, sealContext(st.ID, k))
		if err != nil {
			return Config{}, fmt.Errorf("channel %s, setting %s: %w", st.ID, k, err)
		}
		cfg.Settings[k] = plain
	}
	return cfg, nil
}

// Public is what read APIs return: plain settings as they are, and for
// each secret only that it is set. Secrets never leave through it, sealed
// or not.
type Public struct {
	ID        string            `json:"id"`
	Kind      Kind              `json:"kind"`
	Workspace string            `json:"workspace,omitempty"`
	Agent     string            `json:"agent"`
	APIBase   string            `json:"api_base,omitempty"`
	Settings  map[string]string `json:"settings"` // secrets as "••••"
}

// PublicView returns the read-API view of cfg, secrets masked.
func PublicView(cfg Config) Public {
	p := Public{ID: cfg.ID, Kind: cfg.Kind, Workspace: cfg.Workspace, Agent: cfg.Agent, APIBase: cfg.APIBase, Settings: map[string]string{}}
	f, _ := Lookup(cfg.Kind)
	secret := map[string]bool{}
	for _, fl := range f.Fields {
		secret[fl.Key] = fl.Secret
	}
	for k, v := range cfg.Settings {
		if secret[k] || !known(f, k) {
			p.Settings[k] = Mask(v)
		} else {
			p.Settings[k] = v
		}
	}
	return p
}

func known(f Factory, key string) bool {
	for _, fl := range f.Fields {
		if fl.Key == key {
			return true
		}
	}
	return false
}
