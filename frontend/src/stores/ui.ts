import { writable } from 'svelte/store';
import { CallError } from '../lib/transport';
import { tr } from '../lib/i18n';

export const SCREENS = ['knowledge', 'chat', 'agents', 'models', 'leads', 'analytics', 'review', 'publish', 'settings'] as const;
export type Screen = (typeof SCREENS)[number];

function fromHash(): Screen {
  const h = (typeof location !== 'undefined' ? location.hash : '').replace(/^#\/?/, '').split(/[/?]/)[0];
  return (SCREENS as readonly string[]).includes(h) ? (h as Screen) : 'knowledge';
}

export const screen = writable<Screen>(fromHash());

export function go(s: Screen) {
  screen.set(s);
  if (typeof location !== 'undefined' && location.hash !== `#/${s}`) {
    history.replaceState(history.state, '', `#/${s}`);
  }
}

if (typeof window !== 'undefined') {
  window.addEventListener('hashchange', () => screen.set(fromHash()));
}

/** The sentence to show for a failed call: the server's own words, or ours
 * when the request never reached it. */
export function errorText(e: unknown): string {
  if (e instanceof CallError) {
    if (e.code === 'network') return tr('error.network');
    if (e.code === 'unavailable') return tr('error.unavailable', { method: e.message });
    return e.message || tr('error.unknown');
  }
  if (e instanceof Error) return e.message || tr('error.unknown');
  return String(e ?? tr('error.unknown'));
}

export interface Toast {
  id: number;
  kind: 'error' | 'info' | 'success';
  text: string;
}

export const toasts = writable<Toast[]>([]);
let nextToast = 1;

export function toast(text: string, kind: Toast['kind'] = 'info', ms = 6000) {
  const id = nextToast++;
  toasts.update((l) => [...l, { id, kind, text }]);
  if (ms > 0) setTimeout(() => dismiss(id), ms);
  return id;
}

export function toastError(e: unknown) {
  return toast(errorText(e), 'error', 9000);
}

export function dismiss(id: number) {
  toasts.update((l) => l.filter((x) => x.id !== id));
}
