package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	_ "image/jpeg" // decoders for ImagePNG
	_ "image/png"

	"golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// VisionFunc reads the text of one page image (PNG or JPEG bytes) with a
// vision model: the optional OCR engine. It returns the text as the model
// wrote it.
type VisionFunc func(ctx context.Context, image []byte) (string, error)

// MaxImagePixels bounds an image decoded in memory (for a vision model or
// a preview): 60 megapixels is a letter page at 600 dpi with room to spare.
const MaxImagePixels = 60_000_000

// maxTIFFPages bounds the frames walked in one TIFF.
const maxTIFFPages = 2000

// recognizeVision reads one image file with o.Vision, from the cache when
// the same image was read by the same model before. A vision model gives
// text and no positions, so the result has no words.
func (o *OCR) recognizeVision(ctx context.Context, img string) (*ocrResult, bool, error) {
	data, err := os.ReadFile(img)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(data)
	dir := o.cacheDir()
	cacheFile := ""
	if dir != "" {
		cacheFile = filepath.Join(dir, hex.EncodeToString(sum[:])+"-vision-"+safeModelName(o.Model)+".json")
		if b, err := os.ReadFile(cacheFile); err == nil {
			var r ocrResult
			if json.Unmarshal(b, &r) == nil && r.Model == o.Model {
				return &r, true, nil
			}
		}
	}
	n := ImagePages(data)
	r := &ocrResult{Model: o.Model}
	for p := 1; p <= n; p++ {
		page, err := visionImage(data, p)
		if err != nil {
			return nil, false, err
		}
		text, err := o.Vision(ctx, page)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, &visionError{model: o.Model, err: err}
		}
		r.Pages = append(r.Pages, ocrImage{Text: cleanVisionText(text)})
	}
	if cacheFile != "" {
		if b, err := json.Marshal(r); err == nil && os.MkdirAll(dir, 0o755) == nil {
			tmp := cacheFile + ".tmp" + strconv.Itoa(os.Getpid())
			if os.WriteFile(tmp, b, 0o644) == nil {
				os.Rename(tmp, cacheFile)
			}
		}
	}
	return r, false, nil
}

// visionError: the vision model did not read the image (Ollama stopped,
// the model removed...). The page waits, as it does for a missing
// Tesseract, and the next ingest tries again.
type visionError struct {
	model string
	err   error
}

func (e *visionError) Error() string {
	return fmt.Sprintf("the vision model %s did not read it (%v); check it on the Models screen, then add the file again", e.model, e.err)
}

func (e *visionError) Unwrap() error { return e.err }

func safeModelName(m string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, m)
}

// visionImage is page p of an image file as Ollama's image decoders take
// it: PNG and JPEG as they are, TIFF and WebP re-encoded as PNG.
func visionImage(data []byte, p int) ([]byte, error) {
	if p == 1 && (bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(data, []byte("\xff\xd8\xff"))) {
		return data, nil
	}
	return ImagePNG(data, p)
}

var fence = regexp.MustCompile("^```[a-zA-Z]*\n?|\n?```$")

// cleanVisionText drops the Markdown fence some models put around a
// transcription despite the prompt.
func cleanVisionText(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if strings.HasPrefix(s, "```") && strings.HasSuffix(s, "```") && len(s) >= 6 {
		s = strings.TrimSpace(fence.ReplaceAllString(s, ""))
	}
	return s
}

// addVisionPage stores a vision model's reading of one page: a paragraph
// per blank-line-separated part. There are no word boxes, so citations of
// the page are page-level (see OCRBoxes).
func addVisionPage(b *builder, page int, text, model string) OCRPage {
	for _, para := range regexp.MustCompile(`\n\s*\n`).Split(text, -1) {
		if !b.add(KindParagraph, 0, page, para) {
			break
		}
	}
	return OCRPage{Page: page, Model: model}
}

// ImagePages counts the pages of an image file: the frames of a TIFF, 1
// for anything else.
func ImagePages(data []byte) int {
	offs, _ := tiffIFDs(data)
	return max(1, len(offs))
}

var errNotImage = errors.New("not a PNG, JPEG, TIFF or WebP image")

// ImagePNG decodes page p (from 1) of a PNG, JPEG, TIFF or WebP image and
// encodes it as PNG: browsers cannot show TIFF, and Ollama's vision models
// read only PNG and JPEG. Images over MaxImagePixels are refused before
// they are decoded.
func ImagePNG(data []byte, p int) ([]byte, error) {
	if offs, order := tiffIFDs(data); len(offs) > 0 {
		if p < 1 || p > len(offs) {
			return nil, fmt.Errorf("the TIFF has %d pages, not page %d", len(offs), p)
		}
		// x/image/tiff decodes the first frame: point the header at
		// frame p (offsets in a TIFF are from the start of the file).
		frame := bytes.Clone(data)
		order.PutUint32(frame[4:8], offs[p-1])
		data = frame
	} else if p != 1 {
		return nil, fmt.Errorf("the image has one page, not page %d", p)
	}
	var cfg image.Config
	var err error
	isTIFF := bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*"))
	if isTIFF {
		// x/image/tiff reads the common scanner TIFFs (bilevel CCITT,
		// grey, RGB, palette) but not, e.g., grey with an alpha channel.
		if cfg, err = tiff.DecodeConfig(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("the TIFF could not be converted (%v)", err)
		}
	} else if cfg, _, err = image.DecodeConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%w (%v)", errNotImage, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, fmt.Errorf("the image is %d×%d pixels, more than %d megapixels", cfg.Width, cfg.Height, MaxImagePixels/1_000_000)
	}
	var img image.Image
	if isTIFF {
		img, err = tiff.Decode(bytes.NewReader(data))
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("the image could not be decoded (%v)", err)
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&out, img); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// tiffIFDs walks a classic TIFF's chain of image file directories (one
// per page) and returns their offsets; nil for anything else. A chain
// that loops or leaves the file ends the walk.
func tiffIFDs(data []byte) ([]uint32, binary.ByteOrder) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte("II*\x00")):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte("MM\x00*")):
		order = binary.BigEndian
	default:
		return nil, nil
	}
	if len(data) < 8 {
		return nil, nil
	}
	var offs []uint32
	seen := map[uint32]bool{}
	off := order.Uint32(data[4:8])
	for off >= 8 && !seen[off] && len(offs) < maxTIFFPages {
		if int64(off)+2 > int64(len(data)) {
			break
		}
		n := int64(order.Uint16(data[off:]))
		next := int64(off) + 2 + 12*n
		if next+4 > int64(len(data)) {
			break
		}
		seen[off] = true
		offs = append(offs, off)
		off = order.Uint32(data[next:])
	}
	return offs, order
}
