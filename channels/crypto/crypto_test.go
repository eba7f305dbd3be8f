package crypto

import (
	"strings"
	"testing"
)

// The decryption example of Feishu's "Encrypt Key" guide (event
// subscription → configure Encrypt Key): key "test key", this ciphertext,
// plaintext "hello world".
func TestFeishuDecryptDocsExample(t *testing.T) {
	got, err := FeishuDecrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")
	if err != nil || string(got) != "hello world" {
		t.Fatalf("got %q, %v; want the docs' \"hello world\"", got, err)
	}
	if _, err := FeishuDecrypt("other key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="); err == nil {
		t.Log("another key happened to give valid padding") // possible (1/256), not an error by itself
	}
	enc := FeishuEncrypt("k", []byte(`{"a":1}`))
	if back, err := FeishuDecrypt("k", enc); err != nil || string(back) != `{"a":1}` {
		t.Errorf("round trip: %q %v", back, err)
	}
}

// The signature rule of Feishu's "security check": sha256(timestamp +
// nonce + encrypt_key + body), hex.
func TestFeishuSignature(t *testing.T) {
	// Computed independently: printf '%s' '1700000000n1ek_secret{"type":"event"}' | sha256sum
	const want = "762cc9884e6c108adbc39a60f91735a39dfc2a6bd0d235d61961182e29aefd1a"
	got := FeishuSignature("1700000000", "n1", "ek_secret", []byte(`{"type":"event"}`))
	if got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

// The URL-check rule of the Official Account guide: sha1 of the sorted
// token, timestamp and nonce.
func TestWeChatSignatureSortsParts(t *testing.T) {
	a := WeChatSignature("token", "1409304348", "xxxxxx")
	b := WeChatSignature("xxxxxx", "token", "1409304348")
	// printf '%s' '1409304348tokenxxxxxx' | sha1sum (the parts sorted)
	if a != b || a != "f43b4a6571a6552356f482636e5a77e7fa33dcc9" {
		t.Fatalf("%s %s", a, b)
	}
}

func TestWeChatRoundTripAndRefusals(t *testing.T) {
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // the length the platform issues
	w, err := NewWeChat(key, "wxb11529c136998cb6")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"", "<xml><Content><![CDATA[你好]]></Content></xml>", strings.Repeat("x", 12)} {
		enc := w.Encrypt([]byte(msg))
		got, err := w.Decrypt(enc)
		if err != nil || string(got) != msg {
			t.Errorf("round trip of %q: %q %v", msg, got, err)
		}
	}
	other, _ := NewWeChat(key, "wxOTHER")
	if _, err := w.Decrypt(other.Encrypt([]byte("hi"))); err == nil || !strings.Contains(err.Error(), "another account") {
		t.Errorf("a message for another AppID: %v", err)
	}
	wrong, _ := NewWeChat("Zbcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxb11529c136998cb6")
	if _, err := wrong.Decrypt(w.Encrypt([]byte("hi"))); err == nil {
		t.Error("decrypted with the wrong key")
	}
	if _, err := NewWeChat("short", ""); err == nil {
		t.Error("a short key was accepted")
	}
}
