import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import KBDetail from '../KBDetail.svelte';
import { locale } from '../../../lib/i18n';
import type { KB } from '../../../lib/types';

afterEach(() => {
  cleanup();
  locale.set('en');
});

const kb = (over: Partial<KB>): KB => ({
  name: 'manuals',
  embedModel: 'nomic-embed-text',
  docs: 3,
  chunks: 40,
  bytes: 1000,
  pending: 0,
  failed: 0,
  created: new Date().toISOString(),
  ...over,
});

describe('KBDetail fusion figure', () => {
  it('shows how far each side of hybrid search is trusted, in both languages', () => {
    locale.set('en');
    const r = render(KBDetail, { props: { kb: kb({ fusion: { keyword: 0.92, meaning: 0.31, mode: 'keyword' } }) } });
    expect(r.getByTestId('kb-fusion').textContent).toBe('keyword 0.92 · meaning 0.31 → keyword only');
    cleanup();
    locale.set('zh-CN');
    const z = render(KBDetail, { props: { kb: kb({ fusion: { keyword: 0.8, meaning: 0.9, mode: 'both' } }) } });
    expect(z.getByTestId('kb-fusion').textContent).toBe('关键词 0.80 · 语义 0.90 → 关键词与语义并用');
  });

  it('shows nothing before the first measurement', () => {
    const r = render(KBDetail, { props: { kb: kb({}) } });
    expect(r.queryByTestId('kb-fusion')).toBeNull();
  });
});
