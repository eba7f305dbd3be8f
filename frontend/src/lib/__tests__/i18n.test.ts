import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import en from '../i18n/en.json';
import zh from '../i18n/zh-CN.json';
import { translate } from '../i18n';

const src = join(__dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === '__tests__' ? [] : files(p);
    return /\.(svelte|ts)$/.test(f) && !f.endsWith('.test.ts') ? [p] : [];
  });
}

describe('locale files', () => {
  it('have exactly the same keys', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
  });

  it('have no empty values', () => {
    for (const [name, dict] of Object.entries({ en, zh })) {
      for (const [k, v] of Object.entries(dict)) {
        expect(typeof v === 'string' && v.trim().length > 0, `${name}: ${k}`).toBe(true);
      }
    }
  });

  it('use the same placeholders in both languages', () => {
    // The set of names: an English plural form ("one | other") repeats them.
    const ph = (s: string) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(ph((zh as Record<string, string>)[k]), k).toEqual(ph(en[k]));
    }
  });

  it('contain every key the code uses', () => {
    const used = new Set<string>();
    for (const f of files(src)) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\$?\bt\(\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)) used.add(m[1]);
      for (const m of text.matchAll(/\btr\(\s*'([a-zA-Z]+\.[a-zA-Z.]+)'/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(50);
    const missing = [...used].filter((k) => !(k in en));
    expect(missing).toEqual([]);
  });
});

describe('translate', () => {
  it('fills placeholders and picks plural forms', () => {
    expect(translate('en', 'kb.docs', { n: 1 })).toBe('1 document');
    expect(translate('en', 'kb.docs', { n: 3 })).toBe('3 documents');
    expect(translate('zh-CN', 'kb.docs', { n: 3 })).toBe('3 个文档');
  });

  it('falls back to the key when missing', () => {
    expect(translate('en', 'no.such.key')).toBe('no.such.key');
  });
});
