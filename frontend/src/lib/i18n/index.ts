// Strings live in en.json and zh-CN.json (flat keys). `{name}` placeholders
// are filled from params; a value "one | other" picks by params.n (English
// needs it, Chinese has one form).
import { derived, writable, get } from 'svelte/store';
import en from './en.json';
import zh from './zh-CN.json';

export type Locale = 'en' | 'zh-CN';
export const dictionaries: Record<Locale, Record<string, string>> = { en, 'zh-CN': zh };

export function systemLocale(): Locale {
  const langs = typeof navigator !== 'undefined' ? [...(navigator.languages ?? []), navigator.language] : [];
  for (const l of langs) {
    if (!l) continue;
    const s = l.toLowerCase();
    if (s.startsWith('zh')) return 'zh-CN';
    if (s.startsWith('en')) return 'en';
  }
  return 'en';
}

/** Resolves a Settings.language value ("system" | "en" | "zh-CN"). */
export function resolveLocale(pref: string | undefined): Locale {
  if (pref === 'en' || pref === 'zh-CN') return pref;
  return systemLocale();
}

export const locale = writable<Locale>(systemLocale());

locale.subscribe((l) => {
  if (typeof document !== 'undefined') document.documentElement.lang = l;
});

export type Params = Record<string, string | number>;

export function translate(loc: Locale, key: string, params?: Params): string {
  let s = dictionaries[loc][key] ?? dictionaries.en[key] ?? key;
  if (params && s.includes(' | ') && typeof params.n === 'number') {
    const [one, other] = s.split(' | ');
    s = params.n === 1 ? one : other;
  }
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

export const t = derived(locale, (l) => (key: string, params?: Params) => translate(l, key, params));

/** For code outside components (stores, toasts). */
export function tr(key: string, params?: Params): string {
  return translate(get(locale), key, params);
}
