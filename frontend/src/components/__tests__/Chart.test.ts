import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';

// jsdom has no canvas: the chart library is replaced by a recorder, and the
// real drawing is checked in Chromium (e2e, screenshots).
const made: { data: number[][]; destroyed: boolean }[] = [];
vi.mock('uplot', () => ({
  default: class {
    rec: { data: number[][]; destroyed: boolean };
    constructor(_opts: unknown, data: number[][], el: HTMLElement) {
      this.rec = { data, destroyed: false };
      made.push(this.rec);
      el.appendChild(document.createElement('canvas'));
    }
    setSize() {}
    destroy() {
      this.rec.destroyed = true;
    }
  },
}));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));

import Chart from '../Chart.svelte';

afterEach(cleanup);

describe('Chart', () => {
  it('draws each series over the days, and says so when there is nothing', () => {
    const days = ['2026-03-01', '2026-03-02', '2026-03-03'];
    const v = render(Chart, { props: { days, title: 'Questions', empty: 'Nothing yet', series: [{ label: 'Questions', values: [1, 0, 4], color: '--accent' }] } });
    expect(made.at(-1)!.data).toEqual([[0, 1, 2], [1, 0, 4]]);
    expect(v.queryByTestId('chart-empty')).toBeNull();
    expect(v.container.querySelector('canvas')).not.toBeNull();
    v.unmount();
    expect(made.at(-1)!.destroyed).toBe(true);

    const e = render(Chart, { props: { days, title: 'Questions', empty: 'Nothing yet', series: [{ label: 'Questions', values: [0, 0, 0], color: '--accent' }] } });
    expect(e.getByTestId('chart-empty').textContent).toBe('Nothing yet');
    expect(e.container.querySelector('canvas')).not.toBeNull();
  });
});
