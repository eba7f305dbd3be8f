package hub

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strings"
)

//go:embed static/chat.js
var chatJS []byte

//go:embed static/widget.js
var widgetJS []byte

// The pages carry no inline script, so a strict policy applies; chat pages
// may be framed by any site (that is what the widget does).
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"

var pageTmpl = template.Must(template.New("chat").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>
:root{--bg:#f5f7f9;--fg:#1f2933;--muted:#62707d;--accent:#0e7490;--card:#fff;--border:#dde3e8}
@media (prefers-color-scheme:dark){:root{--bg:#15181c;--fg:#e6e9ec;--muted:#9aa5b1;--accent:#38bdf8;--card:#1e2227;--border:#2c3238}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg);display:flex;flex-direction:column;height:100vh}
header{padding:12px 16px;border-bottom:1px solid var(--border);background:var(--card)}header h1{margin:0;font-size:17px}header p{margin:2px 0 0;color:var(--muted);font-size:13px}
#log{flex:1;overflow:auto;padding:16px;display:flex;flex-direction:column;gap:12px}
.msg{max-width:80%;padding:9px 12px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}
.user{align-self:flex-end;background:var(--accent);color:#fff}.bot{align-self:flex-start;background:var(--card);border:1px solid var(--border)}
.src{font-size:12px;color:var(--muted);margin-top:6px}.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{border:1px solid var(--border);background:var(--card);color:var(--fg);border-radius:14px;padding:4px 10px;font-size:13px;cursor:pointer}
form{display:flex;gap:8px;padding:12px 16px;border-top:1px solid var(--border);background:var(--card)}
textarea{flex:1;resize:none;font:inherit;padding:8px 10px;border:1px solid var(--border);border-radius:8px;background:var(--bg);color:var(--fg)}
button[type=submit]{background:var(--accent);color:#fff;border:0;border-radius:8px;padding:0 16px;font:inherit;cursor:pointer}
.err{color:#b42318}
.fb{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;white-space:normal;font-size:13px}
.fb button{border:1px solid var(--border);background:var(--card);color:var(--muted);border-radius:6px;padding:3px 7px;font:inherit;cursor:pointer;display:inline-flex;align-items:center}
.fb button[aria-pressed=true]{color:var(--accent);border-color:var(--accent)}
.fb button:focus-visible,.fb textarea:focus-visible{outline:2px solid var(--accent);outline-offset:1px}
.fb-status{color:var(--muted)}.fb-error .fb-status{color:#b42318}
.fb-box{display:flex;gap:6px;width:100%}.fb-box textarea{font-size:13px}
.fb .fb-send{background:var(--accent);color:#fff;border:0}.fb [hidden]{display:none}
.fb-status{width:100%}
</style></head>
<body data-agent="{{.Name}}" data-opening="{{.Opening}}">
<header><h1>{{.Title}}</h1>{{if .Description}}<p>{{.Description}}</p>{{end}}</header>
<div id="log" aria-live="polite"></div>
<div class="chips" id="starters" style="padding:0 16px 8px">{{range .Starters}}<button class="chip" type="button">{{.}}</button>{{end}}</div>
<form id="f"><textarea id="q" rows="2" placeholder="{{.Placeholder}}" aria-label="{{.Placeholder}}"></textarea><button type="submit">{{.Send}}</button></form>
<script src="/static/chat.js"></script>
</body></html>`))

func (h *Hub) chatPage(w http.ResponseWriter, r *http.Request) {
	sv, err := h.cache.agent(r.Context(), r.PathValue("name"))
	if err != nil {
		http.Error(w, "No published agent has this name.", http.StatusNotFound)
		return
	}
	d := sv.def
	zh := strings.HasPrefix(d.Language, "zh")
	data := map[string]any{"Name": d.Name, "Title": d.Name, "Description": d.Description, "Opening": d.Opening, "Starters": d.Starters,
		"Lang": "en", "Placeholder": "Ask a question…", "Send": "Send"}
	if zh {
		data["Lang"], data["Placeholder"], data["Send"] = "zh-CN", "请输入问题…", "发送"
	}
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, data)
}

func (h *Hub) chatJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(chatJS)
}

func (h *Hub) widgetJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(widgetJS)
}

func (h *Hub) index(w http.ResponseWriter, r *http.Request) {
	defs := h.publicAgents(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	fmt.Fprint(w, "<!doctype html><meta charset=utf-8><title>Atoll hub</title><h1>Published agents</h1><ul>")
	for _, d := range defs {
		fmt.Fprintf(w, `<li><a href="/a/%s">%s</a> — %s</li>`, template.URLQueryEscaper(d.Name), template.HTMLEscapeString(d.Name), template.HTMLEscapeString(d.Description))
	}
	fmt.Fprint(w, "</ul>")
}

// widgetSnippet is the one tag a site adds to show the agent.
func widgetSnippet(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// The Host header is the client's to write: escaped, it can point the
	// tag elsewhere but never break out of the attribute.
	return fmt.Sprintf(`<script src="%s://%s/widget.js" data-agent="%s" async></script>`, scheme, template.HTMLEscapeString(r.Host), template.HTMLEscapeString(name))
}
