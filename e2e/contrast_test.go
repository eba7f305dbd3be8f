package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/store"
)

// contrastJS walks every visible piece of text in the viewport (text nodes,
// and the values shown in inputs and selects) and computes its WCAG 2.1
// contrast ratio: the computed text colour, faded by its alpha and the
// opacity of its ancestors, against the background actually behind it —
// the elements stacked under the text's centre (document.elementsFromPoint),
// their background colours composited from the bottom up over white. Text
// over a background image or gradient cannot be measured this way and is
// counted as skipped. As WCAG does, disabled controls and placeholders are
// left out (placeholders are pseudo-elements, never text nodes; empty inputs
// are skipped). Large text (24px, or 18.66px bold) needs 3:1, the rest 4.5:1.
const contrastJS = `(() => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const c2d = canvas.getContext('2d', { willReadFrequently: true });
  function parse(c) {
    const m = /^rgba?\(([^)]*)\)$/.exec(c.trim());
    if (m) {
      const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    c2d.clearRect(0, 0, 1, 1);
    c2d.fillStyle = 'rgba(0,0,0,0)';
    c2d.fillStyle = c;
    c2d.fillRect(0, 0, 1, 1);
    const d = c2d.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  }
  const over = (top, a, bottom) => [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a));
  function lum(rgb) {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
  }
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const hex = (rgb) => '#' + rgb.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
  function where(el) {
    const one = (n) => n.tagName.toLowerCase() + (n.dataset && n.dataset.testid ? '[data-testid=' + n.dataset.testid + ']' : '') +
      (typeof n.className === 'string' && n.className.trim() ? '.' + n.className.trim().split(/\s+/).filter((c) => !c.startsWith('svelte-')).join('.') : '');
    return (el.parentElement ? one(el.parentElement) + ' > ' : '') + one(el);
  }
  // The layers under the point, from the element down; null when the text is
  // covered by something else or sits on an image.
  function background(el, x, y) {
    const stack = document.elementsFromPoint(x, y);
    let chain;
    const i = stack.indexOf(el);
    if (i >= 0) chain = stack.slice(i);
    else if (stack.length && stack[0].contains(el)) { // el has pointer-events: none
      chain = [];
      for (let n = el; n; n = n.parentElement) chain.push(n);
    } else if (stack.length && el.contains(stack[0])) chain = stack.slice(stack.indexOf(el) + 1);
    else return { covered: true };
    const layers = [];
    for (const n of chain) {
      const cs = getComputedStyle(n);
      if (cs.backgroundImage && cs.backgroundImage !== 'none') return { image: true };
      const c = parse(cs.backgroundColor);
      const a = c[3] * Number(cs.opacity || 1);
      if (a > 0) layers.push([c, a]);
      if (a >= 1) break;
    }
    let bg = [255, 255, 255];
    for (let k = layers.length - 1; k >= 0; k--) bg = over(layers[k][0], layers[k][1], bg);
    return { bg };
  }
  const items = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.replace(/\s+/g, ' ').trim();
    const el = n.parentElement;
    if (!text || !el || items.has(el) || ['SCRIPT', 'STYLE', 'OPTION', 'NOSCRIPT', 'TEMPLATE'].includes(el.tagName)) continue;
    const r = document.createRange();
    r.selectNodeContents(n);
    items.set(el, { text, rect: r.getBoundingClientRect() });
  }
  for (const el of document.querySelectorAll('input, textarea, select')) {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (el.tagName === 'INPUT' && !['text', 'search', 'email', 'url', 'tel', 'number', 'password'].includes(type)) continue;
    const text = el.tagName === 'SELECT' ? (el.selectedOptions[0] ? el.selectedOptions[0].textContent.trim() : '') : el.value.trim();
    if (text) items.set(el, { text, rect: el.getBoundingClientRect() });
  }
  const out = { checked: 0, skipped: 0, min: 99, minText: '', offenders: [] };
  for (const [el, { text, rect }] of items) {
    if (el.closest(':disabled, [aria-disabled="true"], [inert]')) continue;
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    if (rect.width <= 1 || rect.height <= 1) continue; // visually hidden (sr-only)
    const x = Math.min(Math.max(rect.left + rect.width / 2, 0), innerWidth - 1);
    const y = Math.min(Math.max(rect.top + rect.height / 2, 0), innerHeight - 1);
    if (rect.bottom <= 0 || rect.right <= 0 || rect.top >= innerHeight || rect.left >= innerWidth) continue; // out of view
    const b = background(el, x, y);
    if (b.covered) continue;
    if (b.image) { out.skipped++; continue; }
    const cs = getComputedStyle(el);
    const fg = parse(cs.color);
    let opacity = 1;
    for (let n = el; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity || 1);
    const shown = over(fg, fg[3] * opacity, b.bg);
    const size = parseFloat(cs.fontSize);
    const bold = Number(cs.fontWeight) >= 700;
    const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const cr = ratio(shown, b.bg);
    out.checked++;
    if (cr < out.min) { out.min = cr; out.minText = text.slice(0, 60) + ' (' + where(el) + ')'; }
    if (cr < need) out.offenders.push({ text: text.slice(0, 60), ratio: Math.round(cr * 100) / 100, need, fg: hex(shown), bg: hex(b.bg), where: where(el) });
  }
  return out;
})()`

type contrastResult struct {
	Checked   int     `json:"checked"`
	Skipped   int     `json:"skipped"`
	Min       float64 `json:"min"`
	MinText   string  `json:"minText"`
	Offenders []struct {
		Text  string  `json:"text"`
		Ratio float64 `json:"ratio"`
		Need  float64 `json:"need"`
		FG    string  `json:"fg"`
		BG    string  `json:"bg"`
		Where string  `json:"where"`
	} `json:"offenders"`
}

// TestReadableContrast: every screen, in the light and the dark theme, with
// content in it (a knowledge base with ok, failed and pending documents, an
// agent with a lead form, a lead, models from a scripted Ollama), has text
// that meets WCAG 2.1 AA contrast. The lowest ratio per theme goes to
// test-artifacts/contrast.json.
func TestReadableContrast(t *testing.T) {
	fake := ollamafake.New(t)
	now := time.Now()
	form := &agent.LeadForm{Fields: []agent.LeadField{{Name: "name", Label: "Name", Type: "text", Required: true}, {Name: "phone", Label: "Phone", Type: "phone", Required: true}}}
	e := start(t, fake.URL, func(data string) {
		seedKB(t, data, "bakery",
			store.Doc{Path: "/docs/prices.md", Name: "prices.md", Format: "md", Hash: "a", Size: 1200, Status: store.StatusOK, Ingested: now, Chunks: []store.Chunk{{Text: "A 20 cm chocolate cake costs 38 euros."}}},
			store.Doc{Path: "/docs/scan.pdf", Name: "scan.pdf", Format: "pdf", Hash: "b", Size: 90000, Status: store.StatusFailed, Error: "no text on any page: a scan needs OCR", Ingested: now})
		seedAgent(t, data, agent.Definition{
			Name: "baker", Avatar: "🥐", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}, System: "You are the bakery's assistant.",
			Opening: "Hello! Ask me about cakes.", Starters: []string{"How much is a chocolate cake?"}, Tools: []string{"search_knowledge", "save_lead"},
			LeadForm: form, Followups: true, NumCtx: 8192,
		})
		if _, _, err := agent.NewLeads(filepath.Join(data, "leads")).Save("baker", "c1", *form, map[string]string{"name": "Ana", "phone": "0612 345 678"}, now); err != nil {
			t.Fatal(err)
		}
	})

	// Each screen, opened the way a person would, with something in it.
	screens := []struct {
		name  string
		steps []chromedp.Action[chromedp.Void]
	}{
		{"knowledge", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-knowledge")), chromedp.WaitVisible(tid("kb-row-bakery")), chromedp.Click(tid("kb-row-bakery")), chromedp.WaitVisible(tid("doc-row"))}},
		{"chat", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-chat")), chromedp.WaitVisible(tid("chat-input"))}},
		{"agents", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-agents")), chromedp.WaitVisible(tid("agent-row-baker")), chromedp.Click(tid("agent-row-baker")), chromedp.WaitVisible(tid("agent-editor"))}},
		{"models", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-models")), waitText(chromedp.CSS("main"), func(s string) bool { return strings.Contains(s, ollamafake.DefaultChatModel) }, nil)}},
		{"leads", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-leads")), waitText(chromedp.CSS("main"), func(s string) bool { return strings.Contains(s, "Ana") }, nil)}},
		{"publish", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-publish")), chromedp.WaitVisible(chromedp.CSS("main section"))}},
		{"settings", []chromedp.Action[chromedp.Void]{chromedp.Click(tid("nav-settings")), chromedp.WaitVisible(tid("settings-theme"))}},
	}
	e.run("open", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(tid("nav-knowledge")))
	report := map[string]any{}
	var failures []string
	for _, theme := range []string{"light", "dark"} {
		e.run("theme "+theme,
			chromedp.Click(tid("nav-settings")),
			chromedp.WaitVisible(tid("settings-theme")),
			chromedp.SetValue(tid("settings-theme"), theme),
			dispatchChange("settings-theme"),
			waitJS(fmt.Sprintf(`document.documentElement.dataset.theme === %q`, theme)),
		)
		lowest, lowestAt := 99.0, ""
		for _, s := range screens {
			e.run(theme+" "+s.name, append(s.steps, settled())...)
			var r contrastResult
			if err := json.Unmarshal([]byte(eval[string](e, `JSON.stringify(`+contrastJS+`)`)), &r); err != nil {
				t.Fatalf("contrast result: %v", err)
			}
			if r.Checked < 10 {
				t.Fatalf("%s, %s theme: only %d pieces of text were measured; the check is not seeing the screen", s.name, theme, r.Checked)
			}
			e.screenshot(fmt.Sprintf("contrast-%s-%s", theme, s.name))
			t.Logf("%-5s %-9s %3d texts, lowest %.2f:1 — %s (skipped over images: %d)", theme, s.name, r.Checked, r.Min, r.MinText, r.Skipped)
			if r.Min < lowest {
				lowest, lowestAt = r.Min, s.name+": "+r.MinText
			}
			for _, o := range r.Offenders {
				failures = append(failures, fmt.Sprintf("%s theme, %s: %.2f:1 (needs %.1f) %q %s on %s at %s", theme, s.name, o.Ratio, o.Need, o.Text, o.FG, o.BG, o.Where))
			}
		}
		report[theme] = map[string]any{"lowest": lowest, "where": lowestAt}
		t.Logf("%s theme: lowest contrast %.2f:1 (%s)", theme, lowest, lowestAt)
	}
	if b, err := json.MarshalIndent(report, "", "  "); err == nil {
		os.WriteFile(filepath.Join("..", "test-artifacts", "contrast.json"), b, 0o644)
	}
	if len(failures) > 0 {
		t.Fatalf("%d pieces of text below WCAG AA contrast:\n%s", len(failures), strings.Join(failures, "\n"))
	}
}

// settled waits until no finite animation or transition (a hover, a fade-in)
// is running, so the colours measured are the ones at rest. Endless ones (a
// spinner) are left alone.
func settled() chromedp.Action[chromedp.Void] {
	return waitJS(`new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() =>
		done(document.getAnimations().every(a => a.playState !== 'running' || a.effect?.getComputedTiming().endTime === Infinity)))))`)
}
