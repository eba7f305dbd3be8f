// Package server is the browser transport of app.App: the same methods as
// JSON over HTTP (POST /api/call/<Method>), events as server-sent events
// (GET /api/events), uploads (POST /api/upload) and the embedded frontend.
// See docs/api.md.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"atoll/app"
)

// Limits on what a request may carry.
const (
	MaxCallBody    = 1 << 20   // JSON arguments
	MaxImageCall   = 28 << 20  // AskImage: a photo of app.MaxImageBytes, in base64
	MaxUploadBody  = 512 << 20 // one upload request
	MaxUploadFiles = 10000     // files in one upload request
	MaxFileName    = 255       // bytes in an uploaded file's name
	MaxSubscribers = 64        // open event streams
)

// Server serves one App.
type Server struct {
	App    *app.App
	UI     fs.FS  // the built frontend (dist)
	Token  string // required on every request when set
	Upload string // folder for uploaded files
	Log    *slog.Logger
	// Addr is the configured listening address (--addr). Its host is one of
	// the names the server answers to, besides the loopback names; without
	// a token the server answers only connections from this computer.
	Addr string
	// MaxUpload bounds one upload request (MaxUploadBody when 0).
	MaxUpload int64

	methods map[string]reflect.Value
	hub     *Broker
}

// Broker fans events out to every connected browser. It is the App's Emitter.
type Broker struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

// NewBroker makes an empty broker.
func NewBroker() *Broker { return &Broker{subs: map[chan []byte]struct{}{}} }

// Emit implements app.Emitter.
func (b *Broker) Emit(name string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		return
	}
	msg := []byte("event: " + name + "\ndata: " + string(data) + "\n\n")
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- msg:
		default:
			// A client this far behind would show a garbled stream; close it
			// and let EventSource reconnect.
			close(ch)
			delete(b.subs, ch)
		}
	}
}

// subscribe returns nil when MaxSubscribers streams are open: each holds a
// buffer, and a client must not be able to open them without end.
func (b *Broker) subscribe() chan []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) >= MaxSubscribers {
		return nil
	}
	ch := make(chan []byte, 4096)
	b.subs[ch] = struct{}{}
	return ch
}

func (b *Broker) unsubscribe(ch chan []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

var _ app.Emitter = (*Broker)(nil)

// Bound is the list of App methods the frontend may call.
var Bound = []string{
	"ListKBs", "CreateKB", "RemoveKB", "SetEmbedModel", "SetOCRLang", "OCRLang", "ListDocuments", "DocumentChunks", "RemoveDocument",
	"Ingest", "CancelJob", "ChooseFiles", "ChooseFolder", "Search",
	"ListSources", "AddWebsite", "SyncSource", "RemoveSource", "SetSourceSchedule", "SetSourceWatch",
	"ListAgents", "GetAgent", "SaveAgent", "DeleteAgent", "DraftAgent", "AgentVersions", "GetAgentVersion", "RestoreAgentVersion",
	"Ask", "AskImage", "StopAsk", "ConfirmTool", "ListHTTPTools", "SaveHTTPTools",
	"GetMCPServers", "SaveMCPServers", "ListMCPTools", "ListAllMCPTools", "AlwaysAllowTool", "ListConversations", "GetConversation", "SourcePDF", "SourceImage", "SourceImagePage",
	"SetFeedback", "DeleteConversation", "Analytics", "ExportAnalyticsCSV", "PublishedAnalytics", "ExportPublishedAnalyticsCSV", "ReviewItems", "CorrectItem", "PullReview",
	"ListLeads", "ExportLeadsCSV", "PullLeads", "RunAgentTest", "AgentTestSet", "AgentCheck",
	"ListMemories", "UpdateMemory", "DeleteMemory", "ClearMemories",
	"OllamaStatus", "ListModels", "GPUInfo", "PullModel", "OCREngines", "SetOCRModel", "PublishSettings", "PublishSummary", "PublishAgent", "RollbackPublished", "PublishedAgents", "SetAgentAccess", "ListKeys", "CreateKey", "RevokeKey", "Usage", "ChannelKinds", "Channels", "AddChannel", "RemoveChannel", "SendChannelTest", "GetSettings", "SaveSettings", "About",
}

// Handler builds the HTTP handler. broker must be the App's emitter.
func (s *Server) Handler(broker *Broker) http.Handler {
	s.hub = broker
	if s.Log == nil {
		s.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.methods = map[string]reflect.Value{}
	v := reflect.ValueOf(s.App)
	for _, name := range Bound {
		if m := v.MethodByName(name); m.IsValid() {
			s.methods[name] = m
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/call/{method}", s.call)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("POST /api/upload", s.upload)
	if s.UI != nil {
		mux.Handle("GET /", http.FileServerFS(s.UI))
	}
	return s.guard(mux)
}

func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	m, ok := s.methods[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown method %q", name))
		return
	}
	limit := int64(MaxCallBody)
	if name == "AskImage" {
		limit = MaxImageCall
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the request is larger than %d bytes", limit))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the request is larger than %d bytes", limit))
		return
	}
	var raw []json.RawMessage
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &raw); err != nil {
			writeError(w, http.StatusBadRequest, errors.New("the arguments must be a JSON array"))
			return
		}
	}
	t := m.Type()
	if len(raw) != t.NumIn() {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%s takes %d arguments, got %d", name, t.NumIn(), len(raw)))
		return
	}
	args := make([]reflect.Value, t.NumIn())
	for i := range args {
		p := reflect.New(t.In(i))
		if err := json.Unmarshal(raw[i], p.Interface()); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("argument %d of %s: %v", i+1, name, err))
			return
		}
		args[i] = p.Elem()
	}
	out := m.Call(args)
	var result any
	for _, o := range out {
		if o.Type() == reflect.TypeFor[error]() {
			if !o.IsNil() {
				err := o.Interface().(error)
				s.Log.Info("call failed", "method", name, "err", err)
				writeError(w, http.StatusUnprocessableEntity, err)
				return
			}
			continue
		}
		result = o.Interface()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(result)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, errors.New("streaming unsupported"))
		return
	}
	ch := s.hub.subscribe()
	if ch == nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("%d event streams are already open: close other Atoll tabs and reload", MaxSubscribers))
		return
	}
	defer s.hub.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = io.WriteString(w, ": connected\n\n")
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		case <-ping.C:
			_, _ = io.WriteString(w, ": ping\n\n")
			fl.Flush()
		}
	}
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
