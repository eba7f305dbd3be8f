// Package server is the browser transport of app.App: the same methods as
// JSON over HTTP (POST /api/call/<Method>), events as server-sent events
// (GET /api/events), uploads (POST /api/upload) and the embedded frontend.
// See docs/api.md.
package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"atoll/app"
)

// Limits on what a request may carry.
const (
	MaxCallBody   = 1 << 20   // JSON arguments
	MaxUploadBody = 512 << 20 // one upload request
)

// Server serves one App.
type Server struct {
	App    *app.App
	UI     fs.FS  // the built frontend (dist)
	Token  string // required on every request when set
	Upload string // folder for uploaded files
	Log    *slog.Logger

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

func (b *Broker) subscribe() chan []byte {
	ch := make(chan []byte, 4096)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
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
	"ListKBs", "CreateKB", "RemoveKB", "SetEmbedModel", "ListDocuments", "DocumentChunks", "RemoveDocument",
	"Ingest", "CancelJob", "ChooseFiles", "ChooseFolder", "Search",
	"ListAgents", "GetAgent", "SaveAgent", "DeleteAgent", "DraftAgent", "AgentVersions", "GetAgentVersion", "RestoreAgentVersion",
	"Ask", "StopAsk", "ConfirmTool", "ListHTTPTools", "SaveHTTPTools", "ListConversations", "GetConversation", "SourcePDF",
	"ListLeads", "ExportLeadsCSV", "PullLeads", "RunAgentTest", "AgentTestSet",
	"ListMemories", "UpdateMemory", "DeleteMemory", "ClearMemories",
	"OllamaStatus", "ListModels", "GPUInfo", "PullModel", "PublishSettings", "PublishSummary", "PublishAgent", "RollbackPublished", "GetSettings", "SaveSettings", "About",
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

// guard applies the token and the Origin check.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'")
		if s.Token != "" && !s.authorised(r) {
			writeError(w, http.StatusUnauthorized, errors.New("this Atoll server needs its access token: open the address printed by `atoll serve`, which carries ?token="))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
				writeError(w, http.StatusForbidden, errors.New("requests from other sites are refused"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) authorised(r *http.Request) bool {
	got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if got == "" {
		got = r.URL.Query().Get("token")
	}
	if got == "" {
		if c, err := r.Cookie("atoll_token"); err == nil {
			got = c.Value
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) == 1
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return u.Host == host
}

func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	m, ok := s.methods[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown method %q", name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the request is larger than %d bytes", MaxCallBody))
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
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	ch := s.hub.subscribe()
	defer s.hub.unsubscribe(ch)
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

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	kb := r.URL.Query().Get("kb")
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBody)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, http.StatusBadRequest, errors.New("send the files as multipart/form-data"))
		return
	}
	dir := filepath.Join(s.Upload, kb)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	var paths []string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the upload failed or is larger than %d MB: %v", MaxUploadBody>>20, err))
			return
		}
		if part.FormName() != "file" {
			continue
		}
		name := safeName(part.FileName())
		if name == "" {
			continue
		}
		dst := filepath.Join(dir, name)
		f, err := os.OpenFile(dst+".part", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		_, cerr := io.Copy(f, part)
		f.Close()
		if cerr != nil {
			os.Remove(dst + ".part")
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("%s could not be received: %v", name, cerr))
			return
		}
		if err := os.Rename(dst+".part", dst); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		paths = append(paths, dst)
	}
	job, err := s.App.Ingest(kb, paths)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"job": job})
}

// safeName keeps an uploaded file's base name and nothing that could climb
// out of the upload folder.
func safeName(n string) string {
	n = strings.ReplaceAll(n, "\\", "/")
	n = filepath.Base(n)
	if n == "." || n == ".." || n == "/" || strings.HasPrefix(n, ".") {
		return ""
	}
	return n
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// IsLoopback reports whether addr binds only the local machine.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
