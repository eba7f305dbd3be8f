// Package crypto holds the platforms' message encryption: WeChat and
// WeCom "safe mode" (AES-256-CBC, PKCS#7 to 32 bytes, msg_signature) and
// Feishu's Encrypt Key (AES-256-CBC keyed by SHA-256 of the key, and its
// request signature).
package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
)

// WeChatSignature is the SHA-1 of the sorted, concatenated parts: the
// token, timestamp and nonce (URL check and plain messages), plus the
// Encrypt field in safe mode (msg_signature).
func WeChatSignature(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	h := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(h[:])
}

// SignatureEqual compares signatures in constant time.
func SignatureEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// WeChat is one account's safe-mode cipher.
type WeChat struct {
	key []byte
	id  string // AppID (Official Account) or CorpID (WeCom)
}

// NewWeChat takes the 43-character EncodingAESKey and the ID the
// platform appends to every message (AppID or CorpID).
func NewWeChat(encodingAESKey, id string) (*WeChat, error) {
	if len(encodingAESKey) != 43 {
		return nil, errors.New("the EncodingAESKey must be 43 characters; copy it again from the platform's settings")
	}
	k, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(k) != 32 {
		return nil, errors.New("the EncodingAESKey is not valid; copy it again from the platform's settings")
	}
	return &WeChat{key: k, id: id}, nil
}

const wxBlock = 32 // WeChat pads to the key size, not the AES block

// Decrypt opens an Encrypt field: random(16) | length(4, big-endian) |
// message | ID. A message for another account's ID is refused.
func (w *WeChat) Decrypt(b64 string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, errors.New("the encrypted message is not valid base64 AES data")
	}
	b, _ := aes.NewCipher(w.key)
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, w.key[:16]).CryptBlocks(pt, ct)
	pt, err = unpad(pt, wxBlock)
	if err != nil || len(pt) < 20 {
		return nil, errors.New("the encrypted message does not decrypt with this EncodingAESKey")
	}
	n := int(binary.BigEndian.Uint32(pt[16:20]))
	if n < 0 || 20+n > len(pt) {
		return nil, errors.New("the encrypted message does not decrypt with this EncodingAESKey")
	}
	msg, id := pt[20:20+n], string(pt[20+n:])
	if w.id != "" && id != w.id {
		return nil, errors.New("the encrypted message is for another account (" + id + ")")
	}
	return msg, nil
}

// Encrypt seals a message as the platform does (the hub's passive replies
// and the tests' fake platforms).
func (w *WeChat) Encrypt(msg []byte) string {
	var buf bytes.Buffer
	r := make([]byte, 16)
	rand.Read(r)
	buf.Write(r)
	binary.Write(&buf, binary.BigEndian, uint32(len(msg)))
	buf.Write(msg)
	buf.WriteString(w.id)
	pt := pad(buf.Bytes(), wxBlock)
	b, _ := aes.NewCipher(w.key)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, w.key[:16]).CryptBlocks(ct, pt)
	return base64.StdEncoding.EncodeToString(ct)
}

func pad(b []byte, k int) []byte {
	n := k - len(b)%k
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func unpad(b []byte, k int) ([]byte, error) {
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	n := int(b[len(b)-1])
	if n < 1 || n > k || n > len(b) {
		return nil, errors.New("bad padding")
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errors.New("bad padding")
		}
	}
	return b[:len(b)-n], nil
}

// FeishuDecrypt opens an "encrypt" field: base64(iv | AES-256-CBC), the
// key being SHA-256 of the Encrypt Key, PKCS#7 padding.
func FeishuDecrypt(encryptKey, b64 string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < 2*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, errors.New("the encrypted event is not valid base64 AES data")
	}
	k := sha256.Sum256([]byte(encryptKey))
	b, _ := aes.NewCipher(k[:])
	pt := make([]byte, len(raw)-aes.BlockSize)
	cipher.NewCBCDecrypter(b, raw[:aes.BlockSize]).CryptBlocks(pt, raw[aes.BlockSize:])
	pt, err = unpad(pt, aes.BlockSize)
	if err != nil {
		return nil, errors.New("the encrypted event does not decrypt with this Encrypt Key")
	}
	return pt, nil
}

// FeishuEncrypt seals an event as Feishu does (the tests' fake platform).
func FeishuEncrypt(encryptKey string, plain []byte) string {
	k := sha256.Sum256([]byte(encryptKey))
	b, _ := aes.NewCipher(k[:])
	pt := pad(append([]byte(nil), plain...), aes.BlockSize)
	out := make([]byte, aes.BlockSize+len(pt))
	rand.Read(out[:aes.BlockSize])
	cipher.NewCBCEncrypter(b, out[:aes.BlockSize]).CryptBlocks(out[aes.BlockSize:], pt)
	return base64.StdEncoding.EncodeToString(out)
}

// FeishuSignature is X-Lark-Signature: the hex SHA-256 of timestamp,
// nonce and Encrypt Key followed by the raw body.
func FeishuSignature(timestamp, nonce, encryptKey string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(timestamp + nonce + encryptKey))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
