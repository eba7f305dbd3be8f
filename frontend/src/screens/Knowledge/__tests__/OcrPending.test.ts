import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';

vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async () => []),
}));

import IngestSummary from '../IngestSummary.svelte';
import DocTable from '../DocTable.svelte';
import KBDetail from '../KBDetail.svelte';
import { locale } from '../../../lib/i18n';
import { docs } from '../../../stores/knowledge';
import type { Doc, IngestDone, KB } from '../../../lib/types';

// jsdom has no ResizeObserver (the table binds its height).
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

afterEach(() => {
  cleanup();
  locale.set('en');
  docs.set([]);
});

const why =
  'pages 2, 3 and 5 are a scan waiting for OCR: install Tesseract OCR (Debian/Ubuntu: sudo apt install tesseract-ocr) and add the file again';

const summary = (over: Partial<IngestDone>): IngestDone => ({
  job: 'j',
  kb: 'contracts',
  ok: 1,
  failed: 0,
  skipped: 0,
  chunks: 2,
  seconds: 2,
  pending: 0,
  errors: null,
  cancelled: false,
  ...over,
});

const kb = (over: Partial<KB>): KB => ({
  name: 'contracts',
  embedModel: '',
  docs: 2,
  chunks: 4,
  bytes: 1000,
  pending: 0,
  failed: 0,
  created: new Date().toISOString(),
  ...over,
});

const doc = (name: string, ocrPending: number): Doc => ({
  path: `/scans/${name}`,
  name,
  format: name.endsWith('.pdf') ? 'pdf' : 'image',
  status: 'ok',
  error: '',
  warnings: ocrPending ? [why] : [],
  chunks: 1,
  pages: 5,
  bytes: 100,
  ingested: new Date().toISOString(),
  ocrPending,
});

describe('pages waiting for OCR', () => {
  it('the summary says how many pages wait and what to do, in English and Chinese', () => {
    const r = render(IngestSummary, { props: { summary: summary({ ocrPending: 3, ocrPendingWhy: why }) } });
    expect(r.getByTestId('ingest-ocr-pending').textContent?.trim()).toBe(
      '3 pages wait for OCR: install Tesseract OCR (Debian/Ubuntu: sudo apt install tesseract-ocr) and add the file again',
    );
    cleanup();
    const one = render(IngestSummary, {
      props: { summary: summary({ ocrPending: 1, ocrPendingWhy: 'the image is waiting for OCR: install Tesseract OCR' }) },
    });
    expect(one.getByTestId('ingest-ocr-pending').textContent?.trim()).toBe('1 page waits for OCR: install Tesseract OCR');
    cleanup();
    locale.set('zh-CN');
    const z = render(IngestSummary, { props: { summary: summary({ ocrPending: 3, ocrPendingWhy: why }) } });
    expect(z.getByTestId('ingest-ocr-pending').textContent?.trim()).toBe(
      '3 页等待 OCR：install Tesseract OCR (Debian/Ubuntu: sudo apt install tesseract-ocr) and add the file again',
    );
    cleanup();
    const none = render(IngestSummary, { props: { summary: summary({}) } });
    expect(none.queryByTestId('ingest-ocr-pending')).toBeNull();
  });

  it('the document table counts them per document', () => {
    docs.set([doc('contract.pdf', 3), doc('notes.png', 0), doc('photo.png', 1)]);
    const r = render(DocTable, { props: { kb: kb({}) } });
    const rows = r.getAllByTestId('doc-row');
    expect(rows).toHaveLength(3);
    const count = (name: string) =>
      rows.find((x) => x.dataset.name === name)?.querySelector('[data-testid="doc-ocr-pending"]')?.textContent?.trim() ?? null;
    expect(count('contract.pdf')).toBe('3 pages wait for OCR');
    expect(count('photo.png')).toBe('1 page waits for OCR');
    expect(count('notes.png')).toBeNull();
    cleanup();
    locale.set('zh-CN');
    const z = render(DocTable, { props: { kb: kb({}) } });
    expect(z.getAllByTestId('doc-ocr-pending')[0].textContent?.trim()).toBe('3 页等待 OCR');
  });

  it('the knowledge base header shows the total, with the reason on hover', () => {
    const r = render(KBDetail, { props: { kb: kb({ ocrPending: 4, ocrPendingWhy: why }) } });
    const chip = r.getByTestId('kb-ocr-pending');
    expect(chip.textContent).toBe('4 pages wait for OCR');
    expect(chip.getAttribute('title')).toBe(why);
    cleanup();
    expect(render(KBDetail, { props: { kb: kb({}) } }).queryByTestId('kb-ocr-pending')).toBeNull();
  });
});
