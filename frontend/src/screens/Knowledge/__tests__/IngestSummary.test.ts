import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import IngestSummary from '../IngestSummary.svelte';
import { locale } from '../../../lib/i18n';
import type { IngestDone } from '../../../lib/types';

afterEach(cleanup);

const done = (over: Partial<IngestDone>): IngestDone => ({
  job: 'j',
  kb: 'shop',
  ok: 0,
  failed: 0,
  skipped: 0,
  chunks: 0,
  seconds: 0.2,
  pending: 0,
  errors: null,
  cancelled: false,
  ...over,
});

function line(s: IngestDone) {
  const r = render(IngestSummary, { props: { summary: s } });
  const text = r.getByTestId('ingest-summary-line').textContent;
  const note = r.queryByText(/waiting|等待/)?.textContent ?? '';
  cleanup();
  return { text, note };
}

describe('ingest summary', () => {
  it('says what happened in plain English, singular and plural, without zero counts', () => {
    locale.set('en');
    expect(line(done({ ok: 1, chunks: 1, pending: 1 }))).toEqual({
      text: '1 file added · 1 passage · in under a second',
      note: '1 passage is waiting for the embedding model: it can be found by keyword now, and by meaning once Ollama is available.',
    });
    expect(line(done({ ok: 3, failed: 2, skipped: 1, removed: 1, chunks: 40, seconds: 75 })).text).toBe(
      '3 files added · 2 failed · 1 unchanged · 1 removed · 40 passages · in 1m 15s',
    );
    expect(line(done({})).text).toBe('No documents were found there.');
  });

  it('says which files of other types were left out', () => {
    locale.set('en');
    const r = render(IngestSummary, {
      props: { summary: done({ ok: 1, chunks: 1, ignored: 7, ignoredTypes: [{ ext: '.gz', files: 4 }, { ext: '', files: 2 }] }) },
    });
    expect(r.getByTestId('ingest-ignored').textContent).toBe(
      '7 other files in the folders were left out: not a type Atoll reads (.gz ×4, no extension ×2, 1 others).',
    );
    cleanup();
    const none = render(IngestSummary, { props: { summary: done({ ok: 1 }) } });
    expect(none.queryByTestId('ingest-ignored')).toBeNull();
  });

  it('in Chinese', () => {
    locale.set('zh-CN');
    expect(line(done({ ok: 2, chunks: 9, seconds: 3, pending: 9 }))).toEqual({
      text: '新增 2 个文件 · 9 个段落 · 用时 3 秒',
      note: '9 个段落正在等待向量模型：现在已可按关键词搜索，Ollama 可用后会自动补上语义索引。',
    });
  });
});
