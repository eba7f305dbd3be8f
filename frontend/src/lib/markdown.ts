// Markdown from the model or from documents becomes HTML only through here:
// marked renders, raw HTML in the source is shown as text, and DOMPurify
// removes anything executable as a second line of defence.
import { Marked, type Tokens } from 'marked';
import DOMPurify from 'dompurify';

function escapeHTML(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface RenderOptions {
  /** Citation numbers that exist; `[n]` markers become buttons only for these.
   * When omitted every `[n]` becomes a button. */
  cites?: number[];
}

function makeMarked(opts: RenderOptions) {
  const allowed = opts.cites ? new Set(opts.cites) : null;
  const m = new Marked({ gfm: true, breaks: true });
  m.use({
    extensions: [
      {
        name: 'cite',
        level: 'inline',
        start(src: string) {
          const i = src.search(/\[\d{1,3}\]/);
          return i < 0 ? undefined : i;
        },
        tokenizer(src: string) {
          // `[1]` but not a link `[1](…)`, a reference `[1][x]` or a definition `[1]:`.
          const match = /^\[(\d{1,3})\](?![(\[:])/.exec(src);
          if (!match) return undefined;
          const n = Number(match[1]);
          if (allowed && !allowed.has(n)) return undefined;
          return { type: 'cite', raw: match[0], n };
        },
        renderer(token) {
          const n = Number((token as any).n);
          return `<button type="button" class="cite" data-n="${n}" data-testid="cite-${n}">${n}</button>`;
        },
      },
    ],
    renderer: {
      // Raw HTML in the source is displayed, never interpreted.
      html(token: Tokens.HTML | Tokens.Tag) {
        return escapeHTML(token.text);
      },
      // Remote images would be a network request from an offline app and a
      // tracking pixel in a private one: show the alt text instead.
      image(token: Tokens.Image) {
        return escapeHTML(token.text || '');
      },
    },
  });
  return m;
}

let hooked = false;
function hook() {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? '';
      if (!/^(https?:|mailto:)/i.test(href)) {
        // Relative or odd schemes lead nowhere useful inside the app.
        node.removeAttribute('href');
      } else {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    }
  });
}

const PURIFY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'img', 'form', 'input', 'textarea', 'select', 'iframe', 'frame', 'object', 'embed', 'video', 'audio', 'source', 'picture', 'link', 'meta', 'base', 'svg', 'math'],
  FORBID_ATTR: ['style', 'srcset', 'formaction', 'action'],
  ADD_ATTR: ['target'],
  ALLOW_DATA_ATTR: true,
};

// DOMPurify silently returns its input in a DOM it cannot work with (and
// some fake DOMs let handlers through). Probe once; if it fails, show text only.
let trusted: boolean | null = null;
function purifierWorks(): boolean {
  if (trusted === null) {
    try {
      // No event-handler attributes in the probe: Chrome reports them against
      // the page's CSP as soon as they are parsed.
      const probe = DOMPurify.sanitize('<a href="javascript:x()">b</a><iframe></iframe><object></object>', PURIFY) as unknown as string;
      trusted = DOMPurify.isSupported && !/javascript:|<iframe|<object/i.test(probe);
    } catch {
      trusted = false;
    }
  }
  return trusted;
}

export function sanitize(html: string): string {
  hook();
  if (!purifierWorks()) return escapeHTML(html.replace(/<[^>]*>/g, ''));
  return DOMPurify.sanitize(html, PURIFY) as unknown as string;
}

export function render(md: string, opts: RenderOptions = {}): string {
  const html = makeMarked(opts).parse(md ?? '', { async: false }) as string;
  return sanitize(html);
}

/** Plain text for places that must not carry markup (passages, titles). */
export { escapeHTML };
