// Renders one page of a PDF into a canvas with the cited passage highlighted.
// pdf.js (legacy build, for older WebKitGTK) is loaded only when a PDF
// citation is opened, so it costs nothing otherwise.
import { call } from './transport';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let lib: Promise<PdfJs> | null = null;

async function pdfjs(): Promise<PdfJs> {
  if (!lib) {
    lib = (async () => {
      const [m, worker] = await Promise.all([
        import('pdfjs-dist/legacy/build/pdf.mjs'),
        import('pdfjs-dist/legacy/build/pdf.worker.min.mjs?url'),
      ]);
      m.GlobalWorkerOptions.workerSrc = worker.default;
      return m;
    })();
  }
  return lib;
}

const cache = new Map<string, Promise<Uint8Array>>();

function bytesOf(path: string): Promise<Uint8Array> {
  let p = cache.get(path);
  if (!p) {
    p = call<string>('SourcePDF', path).then((b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    cache.set(path, p);
    p.catch(() => cache.delete(path));
  }
  return p;
}

/** Squashes text for matching: lower case, no white space. */
export function squash(s: string): string {
  return s.toLowerCase().replace(/\s+/g, '');
}

/**
 * Which text items of a page belong to the passage: an item matches when its
 * squashed text occurs in the squashed passage and it is either long enough
 * to be unlikely by chance (12+ characters) or next to another match, so a
 * lone common word elsewhere on the page is not marked.
 */
export function matchItems(items: string[], passage: string): boolean[] {
  const p = squash(passage);
  const found = items.map((s) => {
    const q = squash(s);
    return q.length >= 3 && p.includes(q);
  });
  // A CJK character carries about as much as two Latin letters.
  const weight = (s: string) => [...squash(s)].reduce((n, c) => n + (/[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/.test(c) ? 2 : 1), 0);
  const long = items.map((s) => weight(s) >= 12);
  return found.map((f, i) => f && (long[i] || (found[i - 1] ?? false) || (found[i + 1] ?? false)));
}

export interface Rendered {
  highlighted: number;
}

export async function renderPage(canvas: HTMLCanvasElement, path: string, page: number, passage: string, width: number): Promise<Rendered> {
  const [m, data] = await Promise.all([pdfjs(), bytesOf(path)]);
  // pdf.js takes ownership of the buffer it is given: hand it a copy.
  const task = m.getDocument({ data: data.slice() });
  try {
    const doc = await task.promise;
    const pg = await doc.getPage(Math.min(Math.max(page, 1), doc.numPages));
    const base = pg.getViewport({ scale: 1 });
    const scale = width / base.width;
    const vp = pg.getViewport({ scale });
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.floor(vp.width * ratio);
    canvas.height = Math.floor(vp.height * ratio);
    canvas.style.width = `${Math.floor(vp.width)}px`;
    canvas.style.height = `${Math.floor(vp.height)}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d context');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    await pg.render({ canvas, canvasContext: ctx, viewport: vp }).promise;

    const content = await pg.getTextContent();
    const items = content.items.filter((it): it is (typeof content.items)[number] & { str: string; transform: number[]; width: number; height: number } => 'str' in it);
    const hits = matchItems(items.map((it) => it.str), passage);
    ctx.fillStyle = 'rgba(250, 204, 21, 0.38)';
    let highlighted = 0;
    items.forEach((it, i) => {
      if (!hits[i]) return;
      const [x, y] = vp.convertToViewportPoint(it.transform[4], it.transform[5]);
      const h = Math.hypot(it.transform[2], it.transform[3]) * scale || 10 * scale;
      ctx.fillRect(x, y - h, it.width * scale, h * 1.15);
      highlighted++;
    });
    return { highlighted };
  } finally {
    task.destroy();
  }
}
