package ollamatest

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ollama/ollama/fs/ggml"
)

// The tiny model's shape. Small enough to write in milliseconds and answer
// in a few milliseconds on one CPU core; large enough that llama.cpp loads it
// as an ordinary llama model.
const (
	tinyEmbd     = 64
	tinyBlocks   = 2
	tinyHeads    = 4
	tinyFF       = 128
	tinyCtx      = 4096
	tinySeed     = 20260101
	ggmlTypeF32  = 0
	tokNormal    = 1
	tokUnknown   = 2
	tokControl   = 3
	tokByte      = 6
	spaceMarker  = "\u2581" // SentencePiece's "▁" word-start marker
	tinyFileName = "tiny.gguf"
)

// tinyWords are whole-word tokens on top of the byte fallback, so the
// tokenizer has something besides bytes to pick.
var tinyWords = []string{"the", "a", "is", "of", "and", "to", "in", "hello", "world", "atoll", "ollama", "document", "answer", "question"}

// writeTinyGGUF writes a llama-architecture model with seeded random weights.
// Its answers are gibberish; it exists so that tests talk to a real server
// through the real protocol (streaming, errors, load and unload, timing).
func writeTinyGGUF(path string) error {
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{tokUnknown, tokControl, tokControl}
	for b := 0; b < 256; b++ {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, tokByte)
	}
	for _, w := range tinyWords {
		tokens = append(tokens, spaceMarker+w)
		types = append(types, tokNormal)
	}
	scores := make([]float32, len(tokens))
	for i := range scores {
		scores[i] = -float32(i)
	}
	vocab := uint64(len(tokens))

	kv := ggml.KV{
		"general.architecture":                   "llama",
		"general.name":                           "atoll-tiny",
		"general.file_type":                      uint32(0), // all F32
		"llama.context_length":                   uint32(tinyCtx),
		"llama.embedding_length":                 uint32(tinyEmbd),
		"llama.block_count":                      uint32(tinyBlocks),
		"llama.feed_forward_length":              uint32(tinyFF),
		"llama.attention.head_count":             uint32(tinyHeads),
		"llama.attention.head_count_kv":          uint32(tinyHeads),
		"llama.rope.dimension_count":             uint32(tinyEmbd / tinyHeads),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"llama.vocab_size":                       uint32(vocab),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.tokens":                  tokens,
		"tokenizer.ggml.scores":                  scores,
		"tokenizer.ggml.token_type":              types,
		"tokenizer.ggml.unknown_token_id":        uint32(0),
		"tokenizer.ggml.bos_token_id":            uint32(1),
		"tokenizer.ggml.eos_token_id":            uint32(2),
		"tokenizer.ggml.add_bos_token":           true,
		"tokenizer.ggml.add_eos_token":           false,
	}

	rng := rand.New(rand.NewPCG(tinySeed, tinySeed>>1))
	var ts []ggml.Tensor
	add := func(name string, shape ...uint64) {
		n := uint64(1)
		for _, s := range shape {
			n *= s
		}
		ts = append(ts, ggml.Tensor{Name: name, Kind: ggmlTypeF32, Shape: shape, WriterTo: randomF32(rng, n, 0.1)})
	}
	norm := func(name string) {
		ts = append(ts, ggml.Tensor{Name: name, Kind: ggmlTypeF32, Shape: []uint64{tinyEmbd}, WriterTo: constF32(tinyEmbd, 1)})
	}

	// Shapes are given [out, in] (PyTorch order): WriteGGUF reverses them
	// into GGUF's fastest-dimension-first order.
	add("token_embd.weight", vocab, tinyEmbd)
	norm("output_norm.weight")
	add("output.weight", vocab, tinyEmbd)
	for i := range tinyBlocks {
		p := fmt.Sprintf("blk.%d.", i)
		norm(p + "attn_norm.weight")
		add(p+"attn_q.weight", tinyEmbd, tinyEmbd)
		add(p+"attn_k.weight", tinyEmbd, tinyEmbd)
		add(p+"attn_v.weight", tinyEmbd, tinyEmbd)
		add(p+"attn_output.weight", tinyEmbd, tinyEmbd)
		norm(p + "ffn_norm.weight")
		add(p+"ffn_gate.weight", tinyFF, tinyEmbd)
		add(p+"ffn_up.weight", tinyFF, tinyEmbd)
		add(p+"ffn_down.weight", tinyEmbd, tinyFF)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// f32s is tensor data, written little-endian as GGUF wants.
type f32s []float32

func (v f32s) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	n, err := w.Write(buf)
	return int64(n), err
}

// randomF32 draws the values now, so the file's bytes depend only on the seed
// and the order tensors are declared in, not on the order they are written.
func randomF32(rng *rand.Rand, n uint64, scale float64) f32s {
	v := make(f32s, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func constF32(n uint64, x float32) f32s {
	v := make(f32s, n)
	for i := range v {
		v[i] = x
	}
	return v
}
