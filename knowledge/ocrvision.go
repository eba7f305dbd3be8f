package knowledge

import (
	"context"
	"errors"
	"strings"
	"time"

	"atoll/ingest"
	"atoll/llm"
)

// Chatter is the part of the model seam the vision OCR engine needs.
type Chatter interface {
	Chat(ctx context.Context, req llm.ChatRequest, onToken func(string) error) (llm.ChatResult, error)
}

// VisionPrompt asks a vision model for a page's text and nothing else.
const VisionPrompt = "Transcribe all the text in this image exactly as it is written, in its original language and reading order, one line of the image per line, with a blank line between paragraphs. Output only the text: no commentary, no description, no translation, no Markdown. If the image has no text, output nothing."

// Bounds of one page read by a vision model: a model on a CPU may take
// minutes to load and read a page, but a server that goes silent must not
// hold the ingest forever, and a model that loops must not fill memory.
const (
	visionFirstToken = 10 * time.Minute
	visionStall      = 2 * time.Minute
	visionMaxBytes   = 256 << 10
	visionMaxTokens  = 4096
)

var (
	errVisionStalled = errors.New("the model stopped sending text")
	errVisionTooLong = errors.New("the model's answer went on past 256 KB")
)

// VisionOCR is the optional OCR engine: pages and images go to an Ollama
// vision model (chat with images) instead of Tesseract.
func VisionOCR(c Chatter, model string) ingest.VisionFunc {
	return func(ctx context.Context, img []byte) (string, error) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		watch := time.AfterFunc(visionFirstToken, func() { cancel(errVisionStalled) })
		defer watch.Stop()
		temp := 0.0
		var text strings.Builder
		_, err := c.Chat(ctx, llm.ChatRequest{
			Model:       model,
			Messages:    []llm.Message{{Role: "user", Content: VisionPrompt, Images: [][]byte{img}}},
			Temperature: &temp,
			NumPredict:  visionMaxTokens,
		}, func(s string) error {
			watch.Reset(visionStall)
			if text.Len()+len(s) > visionMaxBytes {
				return errVisionTooLong
			}
			text.WriteString(s)
			return nil
		})
		if cause := context.Cause(ctx); errors.Is(cause, errVisionStalled) {
			return "", errVisionStalled
		}
		if err != nil {
			if errors.Is(err, errVisionTooLong) || ctx.Err() != nil {
				return "", err
			}
			return "", errors.New(llm.Sentence(err))
		}
		return text.String(), nil
	}
}
