package app

import (
	"context"
	"errors"
	"time"
)

// backgroundEmbed fills in pending embeddings while the app runs: chunks
// stored while Ollama was down or the model missing, and a knowledge base's
// switch to another embedding model. It tries shortly after start and then
// every interval, and leaves knowledge bases alone while a job runs.
func (a *App) backgroundEmbed(ctx context.Context, interval time.Duration) {
	timer := time.NewTimer(2 * time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		case <-timer.C:
		}
		a.embedPendingOnce(ctx)
		timer.Reset(interval)
	}
}

func (a *App) embedPendingOnce(ctx context.Context) {
	if a.busy() {
		return
	}
	metas, err := a.store.List()
	if err != nil {
		return
	}
	ing := a.ingesterNow()
	for _, m := range metas {
		kb, err := a.store.KB(m.Name)
		if err != nil || kb.EmbedModel() == "" || len(kb.Pending()) == 0 {
			continue
		}
		// An unreachable Ollama or missing model returns its reason and no
		// error: try again next round.
		if _, err := ing.EmbedPending(ctx, kb, nil); err != nil && !errors.Is(err, context.Canceled) {
			return
		}
	}
}

// busy reports whether an ingest job or an answer is running.
func (a *App) busy() bool {
	running := false
	a.jobs.Range(func(any, any) bool { running = true; return false })
	return running
}

// SetEmbedModel switches a knowledge base to another embedding model. Its
// current vectors keep serving while the new ones are computed in the
// background; the switch completes when every chunk has a new vector.
func (a *App) SetEmbedModel(kbName, model string) (KB, error) {
	if model == "" {
		return KB{}, errors.New("choose an embedding model")
	}
	kb, err := a.store.KB(kbName)
	if err != nil {
		return KB{}, userError(err)
	}
	if err := kb.SetEmbedModel(model); err != nil {
		return KB{}, err
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return a.kbView(kbName)
}
