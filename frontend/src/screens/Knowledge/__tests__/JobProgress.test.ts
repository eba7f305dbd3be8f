import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';
import JobProgress from '../JobProgress.svelte';
import { locale } from '../../../lib/i18n';
import type { IngestProgress } from '../../../lib/types';
import type { Job } from '../../../stores/knowledge';

afterEach(cleanup);

const progress = (over: Partial<IngestProgress>): IngestProgress => ({
  job: 'j',
  kb: 'shop',
  files: 2,
  filesDone: 0,
  chunks: 0,
  bytes: 1000,
  bytesDone: 0,
  rate: 0,
  etaSeconds: 0,
  current: '',
  ...over,
});

function show(p: IngestProgress) {
  const r = render(JobProgress, { props: { job: { job: 'j', kb: 'shop', progress: p, cancelling: false } satisfies Job } });
  const out = {
    status: r.getByTestId('ingest-status').textContent,
    pct: r.getByRole('progressbar').getAttribute('aria-valuenow'),
  };
  cleanup();
  return out;
}

describe('job progress', () => {
  it('shows the page of a long PDF, and the bar follows the bytes', () => {
    locale.set('en');
    expect(show(progress({ current: '/docs/manual.pdf', filePage: 12, filePages: 340, bytesDone: 250 }))).toEqual({
      status: 'Reading manual.pdf, page 12 of 340',
      pct: '25',
    });
    expect(show(progress({ current: '/docs/notes.md', bytesDone: 500 })).status).toBe('Reading notes.md');
  });

  it('follows the embedding once the files are read', () => {
    locale.set('en');
    expect(show(progress({ phase: 'embedding', embedded: 30, toEmbed: 120, bytesDone: 1000, filesDone: 2 }))).toEqual({
      status: 'Embedding passages: 30 of 120',
      pct: '25',
    });
    locale.set('zh-CN');
    expect(show(progress({ current: '/docs/手册.pdf', filePage: 3, filePages: 9 })).status).toBe('正在读取 手册.pdf，第 3/9 页');
  });
});
