package app

// Event names, mirrored in frontend/src/lib/events.ts (a test keeps the two equal).
const (
	EventIngestProgress  = "ingest:progress"
	EventIngestDone      = "ingest:done"
	EventChatToken       = "chat:token"
	EventChatDone        = "chat:done"
	EventModelsPull      = "models:pull"
	EventPublishProgress = "publish:progress"
	EventToolConfirm     = "tool:confirm"
)

// AllEvents lists every event name.
var AllEvents = []string{EventIngestProgress, EventIngestDone, EventChatToken, EventChatDone, EventModelsPull, EventPublishProgress, EventToolConfirm}

// Emitter sends events to the frontend: Wails events in the window,
// server-sent events in the browser, a recording fake in tests.
type Emitter interface {
	Emit(name string, payload any)
}

// Dialogs are the desktop's native file pickers; the browser has none.
type Dialogs interface {
	OpenFiles() ([]string, error)
	OpenFolder() (string, error)
}
