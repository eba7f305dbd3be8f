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
    expect(call).toHaveBeenCalledWith('SourceImage', '/docs/menu.png');
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
