package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"atoll/agent"
	"atoll/hubstore"
)

// Every handler here runs behind admin: workspaceOf(r) is the token's
// workspace and every store call names it, so another workspace's agents,
// keys, leads, conversations and usage are out of reach (404, never data).

func notPublished(name string) string {
	return fmt.Sprintf("no agent named %q is published in your workspace; GET /api/workspace/agents lists yours", name)
}

// publish takes a bundle: it is validated by installing it into a staging
// folder of the cache, then stored once in the database (keyed by its
// SHA-256) and published as the agent's next version. ?as=NAME publishes
// it under another public name.
func (h *Hub) publish(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r)
	tmp, err := os.CreateTemp(h.cache.dir, "upload-*.atoll")
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, http.MaxBytesReader(w, r.Body, h.cfg.MaxBundle))
	tmp.Close()
	if errors.Is(err, errSlowBody) {
		writeErr(w, http.StatusRequestTimeout, fmt.Sprintf("the bundle arrived slower than %d KB/s; publish again over a better connection", h.limits.MinBodyRate>>10))
		return
	}
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the bundle could not be received or is larger than %d MB", h.cfg.MaxBundle>>20))
		return
	}
	hash, size, err := hashFile(tmp.Name())
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	def, err := h.cache.materialise(r.Context(), tmp.Name(), hash)
	if err != nil {
		writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	name := def.Name
	if as := strings.TrimSpace(r.URL.Query().Get("as")); as != "" {
		if err := agent.ValidName(as); err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
		name = as
	}
	// Refused before the bundle is stored: a name is the first publisher's.
	if a, err := h.st.ResolveAgent(r.Context(), name); err == nil && a.Workspace != ws {
		writeErr(w, http.StatusConflict, takenName(name))
		return
	}
	f, err := os.Open(tmp.Name())
	if err != nil {
		writeErr(w, 500, err.Error())
		return
	}
	err = h.st.PutBundle(r.Context(), ws, hash, size, f)
	f.Close()
	if err != nil {
		h.storeErr(w, r, err, "the bundle could not be stored")
		return
	}
	def.Name = name
	defJSON, _ := json.Marshal(def)
	v, err := h.st.Publish(r.Context(), ws, name, defJSON, hash)
	if errors.Is(err, hubstore.ErrAlreadyExists) {
		writeErr(w, http.StatusConflict, takenName(name))
		return
	}
	if err != nil {
		h.storeErr(w, r, err, "the bundle could not be published")
		return
	}
	h.cache.forget(name)
	h.logFor(r).Info("published", "workspace", ws, "agent", name, "version", v.Number, "bundle", hash)
	writeJSON(w, map[string]any{"agent": name, "version": v.Number, "chat": "/a/" + name, "widget": widgetSnippet(r, name)})
}

func takenName(name string) string {
	return fmt.Sprintf("the name %q belongs to another workspace on this hub; publish under another name with --as NEWNAME (?as=NEWNAME on /api/publish)", name)
}

// unpublish removes an agent with every version, its keys, conversations
// and leads; usage stays as the workspace's record.
func (h *Hub) unpublish(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.st.Unpublish(r.Context(), workspaceOf(r), name); err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	h.cache.forget(name)
	h.logFor(r).Info("unpublished", "workspace", workspaceOf(r), "agent", name)
	writeJSON(w, map[string]any{"unpublished": name})
}

// rollback serves the version before the current one again.
func (h *Hub) rollback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	v, err := h.st.Rollback(r.Context(), workspaceOf(r), name)
	if errors.Is(err, hubstore.ErrConflict) {
		writeErr(w, http.StatusConflict, "there is no earlier version to roll back to")
		return
	}
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	h.cache.forget(name)
	writeJSON(w, map[string]any{"agent": name, "version": v.Number, "restored": v.Number})
}

// setAccess makes an agent open or key-required: {"access": "open"|"key"}.
func (h *Hub) setAccess(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body struct {
		Access hubstore.Access `json:"access"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || (body.Access != hubstore.AccessOpen && body.Access != hubstore.AccessKey) {
		writeErr(w, http.StatusBadRequest, `the body must be {"access": "open"} or {"access": "key"}`)
		return
	}
	a, err := h.st.UpdateAgent(r.Context(), workspaceOf(r), name, func(a hubstore.Agent) (hubstore.Agent, error) {
		a.Access = body.Access
		return a, nil
	})
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	h.cache.forget(name)
	writeJSON(w, map[string]any{"agent": name, "access": a.Access})
}

type keyJSON struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Agent   string     `json:"agent"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Key     string     `json:"key,omitempty"` // only when created
}

func keyOut(k hubstore.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Agent: k.Agent, Created: k.Created}
	if !k.Revoked.IsZero() {
		t := k.Revoked
		out.Revoked = &t
	}
	return out
}

// createKey makes an API key for a key-required agent: {"name": "shop site"}.
// The key is shown once; only its hash is stored.
func (h *Hub) createKey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<10)).Decode(&body); err != nil || strings.TrimSpace(body.Name) == "" || len(body.Name) > 100 {
		writeErr(w, http.StatusBadRequest, `the body must be {"name": "…"}: a name of up to 100 characters to recognise the key by`)
		return
	}
	ws := workspaceOf(r)
	if _, err := h.st.Agent(r.Context(), ws, name); err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	secret := newSecret("atk_")
	k, err := h.st.CreateKey(r.Context(), ws, name, strings.TrimSpace(body.Name), hashToken(secret))
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	out := keyOut(k)
	out.Key = secret
	writeJSON(w, out)
}

func (h *Hub) listKeys(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ks, err := h.st.Keys(r.Context(), workspaceOf(r), name)
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	out := []keyJSON{}
	for _, k := range ks {
		out = append(out, keyOut(k))
	}
	writeJSON(w, out)
}

func (h *Hub) revokeKey(w http.ResponseWriter, r *http.Request) {
	name, id := r.PathValue("name"), r.PathValue("id")
	ws := workspaceOf(r)
	ks, err := h.st.Keys(r.Context(), ws, name)
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	found := false
	for _, k := range ks {
		found = found || k.ID == id
	}
	if !found {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("agent %q has no key with id %q; GET /api/agents/%s/keys lists them", name, id, name))
		return
	}
	if err := h.st.RevokeKey(r.Context(), ws, id); err != nil {
		h.storeErr(w, r, err, "no such key")
		return
	}
	writeJSON(w, map[string]any{"revoked": id})
}

// workspaceAgents lists the token's workspace's agents with their versions
// and access.
func (h *Hub) workspaceAgents(w http.ResponseWriter, r *http.Request) {
	as, err := h.st.Agents(r.Context(), workspaceOf(r))
	if err != nil {
		h.storeErr(w, r, err, "")
		return
	}
	out := []map[string]any{}
	for _, a := range as {
		out = append(out, map[string]any{"name": a.Name, "version": a.Current, "latest": a.Latest, "access": a.Access, "updated": a.Updated})
	}
	writeJSON(w, out)
}

// conversations lists an agent's conversations (?agent=NAME&limit=N) or,
// with ?id=ID, one conversation's turns.
func (h *Hub) conversations(w http.ResponseWriter, r *http.Request) {
	ws := workspaceOf(r)
	q := r.URL.Query()
	if id := q.Get("id"); id != "" {
		c, err := h.st.Conversation(r.Context(), ws, id)
		if err != nil {
			h.storeErr(w, r, err, fmt.Sprintf("no conversation %q in your workspace", id))
			return
		}
		ts, err := h.st.Turns(r.Context(), ws, id, 1000)
		if err != nil {
			h.storeErr(w, r, err, fmt.Sprintf("no conversation %q in your workspace", id))
			return
		}
		turns := []map[string]any{}
		for _, t := range ts {
			turns = append(turns, map[string]any{"seq": t.Seq, "question": t.Question, "answer": t.Answer, "at": t.At})
		}
		writeJSON(w, map[string]any{"id": c.ID, "agent": c.Agent, "title": c.Title, "turns": turns})
		return
	}
	name := q.Get("agent")
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if _, err := h.st.Agent(r.Context(), ws, name); err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	cs, err := h.st.Conversations(r.Context(), ws, name, limit)
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	out := []map[string]any{}
	for _, c := range cs {
		out = append(out, map[string]any{"id": c.ID, "agent": c.Agent, "title": c.Title, "turns": c.Turns, "updated": c.Updated})
	}
	writeJSON(w, out)
}

// usage is the workspace's use per day, and each key's
// (?from=2006-01-02&to=2006-01-02, UTC; the last 30 days by default).
func (h *Hub) usage(w http.ResponseWriter, r *http.Request) {
	to := time.Now().UTC()
	from := to.AddDate(0, 0, -29)
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				writeErr(w, http.StatusBadRequest, fmt.Sprintf("%s must be a day such as 2026-01-31", p.name))
				return
			}
			*p.dst = t
		}
	}
	if to.Sub(from) > 366*24*time.Hour || to.Before(from) {
		writeErr(w, http.StatusBadRequest, "ask for at most a year of usage, from before to")
		return
	}
	rows, err := h.st.Usage(r.Context(), workspaceOf(r), from, to)
	if err != nil {
		h.storeErr(w, r, err, "")
		return
	}
	out := []map[string]any{}
	for _, u := range rows {
		out = append(out, map[string]any{"day": u.Day, "key": u.Key, "requests": u.Requests, "tokensIn": u.TokensIn, "tokensOut": u.TokensOut, "errors": u.Errors})
	}
	writeJSON(w, out)
}

// leads returns the leads an agent of the workspace captured (the inbox),
// in agent.Lead's JSON, as `atoll leads pull` reads it.
func (h *Hub) leads(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("agent")
	ls, err := h.st.Leads(r.Context(), workspaceOf(r), name)
	if err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	for i := range ls {
		if ls[i].Fields == nil {
			ls[i].Fields = map[string]string{} // "fields": {}, never null
		}
	}
	writeJSON(w, ls)
}
