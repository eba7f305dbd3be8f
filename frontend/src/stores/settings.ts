import { writable, get } from 'svelte/store';
import { call } from '../lib/transport';
import { locale, resolveLocale } from '../lib/i18n';
import type { About, Settings, Theme } from '../lib/types';

export const settings = writable<Settings | null>(null);
export const about = writable<About | null>(null);

// Remembered locally too so the window opens in the right theme and language
// before the Go side has answered.
const LOCAL = 'atoll.appearance';

function remembered(): { theme: Theme; language: string } {
  try {
    const v = JSON.parse(localStorage.getItem(LOCAL) ?? '{}');
    return { theme: v.theme ?? 'system', language: v.language ?? 'system' };
  } catch {
    return { theme: 'system', language: 'system' };
  }
}

let media: MediaQueryList | null = null;
let currentTheme: Theme = 'system';

export function applyTheme(theme: Theme) {
  currentTheme = theme;
  if (typeof document === 'undefined') return;
  const dark =
    theme === 'dark' || (theme === 'system' && typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
}

export function applyAppearance(theme: Theme, language: string) {
  applyTheme(theme);
  locale.set(resolveLocale(language));
  try {
    localStorage.setItem(LOCAL, JSON.stringify({ theme, language }));
  } catch {
    /* private mode */
  }
}

export function initAppearance() {
  const r = remembered();
  applyAppearance(r.theme, r.language);
  if (typeof matchMedia === 'function' && !media) {
    media = matchMedia('(prefers-color-scheme: dark)');
    media.addEventListener?.('change', () => applyTheme(currentTheme));
  }
}

export async function loadSettings() {
  const s = await call<Settings>('GetSettings');
  settings.set(s);
  applyAppearance(s.theme || 'system', s.language || 'system');
  return s;
}

export async function saveSettings(patch: Partial<Settings>) {
  const cur = get(settings);
  const next = { ...(cur ?? ({} as Settings)), ...patch } as Settings;
  const saved = await call<Settings>('SaveSettings', next);
  settings.set(saved);
  applyAppearance(saved.theme || 'system', saved.language || 'system');
  return saved;
}

export async function loadAbout() {
  const a = await call<About>('About');
  about.set(a);
  return a;
}
