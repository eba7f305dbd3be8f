package channels

import "context"

// Store keeps channel configs at rest (secrets sealed); the hub backs it
// with its database. Load every Stored at start, Open it with the hub's
// Sealer and Add it to the Dispatcher.
//
// How the hub mounts channels:
//
//	import _ "atoll/channels/all"                     // registers every kind
//	key, _ := channels.LoadKey(filepath.Join(dir, "channel.key"), channels.KeyEnv)
//	sealer, _ := channels.NewSealer(key)
//	d := channels.New(channels.Options{Answerer: hubAnswerer, SorryText: channels.DefaultSorry})
//	mux.Handle("/ch/{id}", d)                          // the webhook URL: https://HUB/ch/ID
//	// channel add:  cfg → channels.Seal(cfg, sealer) → Store.Put → d.Add(cfg)
//	// channel list: d.List() (status) and channels.PublicView(cfg) (masked)
//	// channel rm, unpublish: Store.Delete → d.Remove(id)
//	// shutdown: d.Close()
type Store interface {
	List(ctx context.Context) ([]Stored, error)
	Put(ctx context.Context, st Stored) error
	Delete(ctx context.Context, id string) error
}
