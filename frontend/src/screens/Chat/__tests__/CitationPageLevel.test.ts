import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, waitFor } from '@testing-library/svelte';
import { locale } from '../../../lib/i18n';

// The page renders (no text-layer match: a scan); only the boxes matter here.
vi.mock('../../../lib/pdfpage', () => ({ renderPage: vi.fn(async () => ({ highlighted: 0 })) }));
vi.mock('../../../lib/transport', () => ({ call: vi.fn(), on: () => () => {} }));

import CitationPanel from '../CitationPanel.svelte';

afterEach(cleanup);
locale.set('en');

describe('citation of a scanned PDF page read by a vision model', () => {
  it('shows the page, draws no box and says the passage is somewhere on it', async () => {
    const r = render(CitationPanel, {
      props: {
        n: 1,
        onclose: () => {},
        citation: { n: 1, source: '/docs/lease.pdf', page: 3, text: 'The rent is due on the first', used: true, boxes: [{ page: 3, x0: 0, y0: 0, x1: 1, y1: 1 }] },
      },
    });
    await waitFor(() => expect(r.getByTestId('cite-pdf').dataset.state).toBe('ready'));
    expect(r.queryAllByTestId('ocr-box')).toHaveLength(0);
    expect(r.getByTestId('cite-page-level').textContent).toContain('no word positions');
  });

  it('draws Tesseract word boxes as before, with no page-level note', async () => {
    const r = render(CitationPanel, {
      props: {
        n: 1,
        onclose: () => {},
        citation: { n: 1, source: '/docs/lease.pdf', page: 3, text: 'rent', used: true, boxes: [{ page: 3, x0: 0.1, y0: 0.2, x1: 0.3, y1: 0.25 }] },
      },
    });
    await waitFor(() => expect(r.getByTestId('cite-pdf').dataset.state).toBe('ready'));
    expect(r.getAllByTestId('ocr-box')).toHaveLength(1);
    expect(r.queryByTestId('cite-page-level')).toBeNull();
  });
});
