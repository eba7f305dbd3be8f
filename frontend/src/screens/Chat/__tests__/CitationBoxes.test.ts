import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { locale } from '../../../lib/i18n';

const call = vi.fn();
vi.mock('../../../lib/transport', () => ({ call: (...a: unknown[]) => call(...a), on: () => () => {} }));

import CitationPanel from '../CitationPanel.svelte';

afterEach(() => {
  cleanup();
  call.mockReset();
});
locale.set('en');

const boxes = [
  { page: 1, x0: 0.1, y0: 0.2, x1: 0.5, y1: 0.25 },
  { page: 1, x0: 0.1, y0: 0.26, x1: 0.3, y1: 0.31 },
];

describe('citation of an image', () => {
  it('shows the image and marks the passage with its OCR boxes', async () => {
    call.mockResolvedValue('data:image/png;base64,iVBORw0KGgo=');
    const r = render(CitationPanel, {
      props: { n: 1, onclose: () => {}, citation: { n: 1, source: '/docs/menu.png', page: 1, text: 'Lemon tart 4.50', used: true, boxes } },
    });
    expect(call).toHaveBeenCalledWith('SourceImagePage', '/docs/menu.png', 1);
    const img = (await r.findByAltText(/cited image/)) as HTMLImageElement;
    expect(img.src).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(r.queryAllByTestId('ocr-box')).toHaveLength(0); // not before the image is there
    await fireEvent.load(img);
    const marks = r.getAllByTestId('ocr-box') as HTMLElement[];
    expect(marks).toHaveLength(2);
    expect(parseFloat(marks[0].style.left)).toBeCloseTo(10);
    expect(parseFloat(marks[0].style.top)).toBeCloseTo(20);
    expect(parseFloat(marks[0].style.width)).toBeCloseTo(40);
    expect(parseFloat(marks[1].style.height)).toBeCloseTo(5);
    expect(r.getByTestId('cite-image').dataset.highlighted).toBe('2');
  });

  it('shows the cited page of a multi-page TIFF (as PNG from the app) with the boxes of that page only', async () => {
    call.mockResolvedValue('data:image/png;base64,iVBORw0KGgo=');
    const two = [
      { page: 1, x0: 0.1, y0: 0.1, x1: 0.2, y1: 0.2 },
      { page: 2, x0: 0.3, y0: 0.4, x1: 0.6, y1: 0.45 },
    ];
    const r = render(CitationPanel, {
      props: { n: 2, onclose: () => {}, citation: { n: 2, source: '/docs/contract.tif', page: 2, text: 'Signed in Lyon', used: true, boxes: two } },
    });
    expect(call).toHaveBeenCalledWith('SourceImagePage', '/docs/contract.tif', 2);
    await fireEvent.load(await r.findByAltText(/cited image/));
    const marks = r.getAllByTestId('ocr-box') as HTMLElement[];
    expect(marks).toHaveLength(1);
    expect(parseFloat(marks[0].style.left)).toBeCloseTo(30);
    expect(r.queryByTestId('cite-page-level')).toBeNull();
  });

  it('says the citation is page-level when a vision model read the page (no word positions)', async () => {
    call.mockResolvedValue('data:image/png;base64,iVBORw0KGgo=');
    const r = render(CitationPanel, {
      props: {
        n: 1,
        onclose: () => {},
        citation: { n: 1, source: '/docs/receipt.jpg', page: 1, text: 'Total 12.40', used: true, boxes: [{ page: 1, x0: 0, y0: 0, x1: 1, y1: 1 }] },
      },
    });
    await fireEvent.load(await r.findByAltText(/cited image/));
    expect(r.queryAllByTestId('ocr-box')).toHaveLength(0);
    expect(r.getByTestId('cite-page-level').textContent).toContain('read by a vision model');
    expect(r.getByTestId('cite-image').dataset.highlighted).toBe('0');
    cleanup();
    locale.set('zh-CN');
    const z = render(CitationPanel, {
      props: {
        n: 1,
        onclose: () => {},
        citation: { n: 1, source: '/docs/receipt.jpg', page: 1, text: 'Total', used: true, boxes: [{ page: 1, x0: 0, y0: 0, x1: 1, y1: 1 }] },
      },
    });
    expect(z.getByTestId('cite-page-level').textContent).toContain('视觉模型');
    locale.set('en');
  });

  it('says so when the image cannot be shown, and keeps the passage text', async () => {
    call.mockRejectedValue(new Error('scan.tif cannot be previewed here (TIFF)'));
    const r = render(CitationPanel, {
      props: { n: 1, onclose: () => {}, citation: { n: 1, source: '/docs/scan.tif', page: 1, text: 'Signed', used: true, boxes } },
    });
    await waitFor(() => expect(r.getByTestId('cite-image').dataset.state).toBe('error'));
    expect(r.getByTestId('cite-image').textContent).toContain('TIFF');
    expect(r.queryAllByTestId('ocr-box')).toHaveLength(0);
    expect(r.getByTestId('cite-text').textContent).toBe('Signed');
  });
});
