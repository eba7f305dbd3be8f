// One seam between the screens and the Go side. In the Wails window methods
// are bindings on window.go.app.App and events come from window.runtime; in a
// browser against `atoll serve` the same calls go over HTTP + server-sent
// events (docs/api.md). Nothing else in the frontend knows which one it is.

type Fn = (payload: any) => void;

interface WailsRuntime {
  EventsOn(name: string, cb: (...data: any[]) => void): (() => void) | void;
  EventsOff(name: string, ...more: string[]): void;
  OnFileDrop?(cb: (x: number, y: number, paths: string[]) => void, useDropTarget: boolean): void;
  OnFileDropOff?(): void;
  BrowserOpenURL?(url: string): void;
}

declare global {
  interface Window {
    go?: { app?: { App?: Record<string, (...args: any[]) => Promise<any>> } };
    runtime?: WailsRuntime;
  }
}

/** An error whose message is the server's sentence. `code` marks failures
 * that never reached the server, so the UI can say so in the user's language. */
export class CallError extends Error {
  code: '' | 'network' | 'unavailable';
  status: number;
  constructor(message: string, code: CallError['code'] = '', status = 0) {
    super(message);
    this.name = 'CallError';
    this.code = code;
    this.status = status;
  }
}

const TOKEN_KEY = 'atoll.token';

export function isDesktop(): boolean {
  return typeof window !== 'undefined' && !!window.go?.app?.App;
}

/** Reads `?token=` once, keeps it for the tab and strips it from the address
 * bar so it does not end up in screenshots or history. */
export function token(): string {
  if (typeof window === 'undefined') return '';
  try {
    const url = new URL(window.location.href);
    const t = url.searchParams.get('token');
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      url.searchParams.delete('token');
      try {
        history.replaceState(history.state, '', url.toString());
      } catch {
        /* not fatal: some hosts forbid replaceState */
      }
      return t;
    }
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function errorFrom(res: Response): Promise<CallError> {
  let msg = '';
  try {
    const body = await res.json();
    if (body && typeof body.error === 'string') msg = body.error;
  } catch {
    /* body was not JSON */
  }
  return new CallError(msg || `${res.status} ${res.statusText}`.trim(), '', res.status);
}

function wailsError(e: unknown): CallError {
  if (e instanceof Error) return new CallError(e.message);
  if (typeof e === 'string') return new CallError(e);
  if (e && typeof e === 'object' && typeof (e as any).error === 'string') return new CallError((e as any).error);
  if (e && typeof e === 'object' && typeof (e as any).message === 'string') return new CallError((e as any).message);
  return new CallError(String(e));
}

export async function call<T>(method: string, ...args: unknown[]): Promise<T> {
  const app = window.go?.app?.App;
  if (app) {
    const fn = app[method];
    if (typeof fn !== 'function') throw new CallError(method, 'unavailable');
    try {
      return (await fn(...args)) as T;
    } catch (e) {
      throw wailsError(e);
    }
  }
  let res: Response;
  try {
    res = await fetch(`/api/call/${encodeURIComponent(method)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...authHeaders() },
      body: JSON.stringify(args),
    });
  } catch (e) {
    throw new CallError(e instanceof Error ? e.message : String(e), 'network');
  }
  if (!res.ok) throw await errorFrom(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

// ---- events ---------------------------------------------------------------

// One underlying subscription per event name whatever the number of
// listeners: Wails' EventsOff drops every listener of a name, and the
// browser should hold a single EventSource.
const listeners = new Map<string, Set<Fn>>();
const detach = new Map<string, () => void>();
let source: EventSource | null = null;

function dispatch(name: string, payload: unknown) {
  const set = listeners.get(name);
  if (!set) return;
  for (const fn of [...set]) {
    try {
      fn(payload);
    } catch (e) {
      console.error(`listener for ${name} failed`, e);
    }
  }
}

function eventSource(): EventSource {
  if (!source) {
    const t = token();
    // EventSource cannot send headers: the token travels as a query parameter.
    source = new EventSource(t ? `/api/events?token=${encodeURIComponent(t)}` : '/api/events');
  }
  return source;
}

function attach(name: string) {
  const rt = window.runtime;
  if (window.go?.app?.App && rt?.EventsOn) {
    const off = rt.EventsOn(name, (payload: unknown) => dispatch(name, payload));
    detach.set(name, typeof off === 'function' ? off : () => rt.EventsOff(name));
    return;
  }
  const es = eventSource();
  const handler = (ev: MessageEvent) => {
    let payload: unknown = ev.data;
    try {
      payload = JSON.parse(ev.data);
    } catch {
      /* leave as text */
    }
    dispatch(name, payload);
  };
  es.addEventListener(name, handler as EventListener);
  detach.set(name, () => es.removeEventListener(name, handler as EventListener));
}

export function on<T = any>(event: string, fn: (payload: T) => void): () => void {
  let set = listeners.get(event);
  if (!set) {
    set = new Set();
    listeners.set(event, set);
    attach(event);
  }
  set.add(fn as Fn);
  return () => {
    const s = listeners.get(event);
    if (!s) return;
    s.delete(fn as Fn);
    if (s.size === 0) {
      listeners.delete(event);
      detach.get(event)?.();
      detach.delete(event);
      if (listeners.size === 0 && source) {
        source.close();
        source = null;
      }
    }
  };
}

// ---- files ----------------------------------------------------------------

/** Browser only: sends files to `atoll serve`, which saves and ingests them. */
export async function upload(kb: string, files: File[]): Promise<string> {
  const form = new FormData();
  for (const f of files) form.append('file', f, f.name);
  let res: Response;
  try {
    res = await fetch(`/api/upload?kb=${encodeURIComponent(kb)}`, {
      method: 'POST',
      headers: authHeaders(),
      body: form,
    });
  } catch (e) {
    throw new CallError(e instanceof Error ? e.message : String(e), 'network');
  }
  if (!res.ok) throw await errorFrom(res);
  const body = await res.json();
  return body.job as string;
}

/** Desktop only: native drops arrive as paths. Returns an unsubscribe, or
 * null when the runtime has no file-drop support (older Wails, browser). */
export function onFileDrop(fn: (paths: string[]) => void): (() => void) | null {
  const rt = window.runtime;
  if (!isDesktop() || !rt?.OnFileDrop) return null;
  rt.OnFileDrop((_x, _y, paths) => fn(paths ?? []), true);
  return () => rt.OnFileDropOff?.();
}

export function openExternal(url: string) {
  const rt = window.runtime;
  if (isDesktop() && rt?.BrowserOpenURL) rt.BrowserOpenURL(url);
  else window.open(url, '_blank', 'noopener,noreferrer');
}

/** Test helper: forget subscriptions between tests. */
export function _reset() {
  for (const off of detach.values()) off();
  detach.clear();
  listeners.clear();
  source?.close();
  source = null;
}
