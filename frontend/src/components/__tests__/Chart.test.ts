import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render } from '@testing-library/svelte';

// jsdom has no canvas: the chart library is replaced by a recorder, and the
// real drawing is checked in Chromium (e2e, screenshots).
type Opts = { series: { label?: string }[] };
const made: { opts: Opts; data: number[][]; destroyed: boolean }[] = [];
vi.mock('uplot', () => ({
  default: class {
    rec: { opts: Opts; data: number[][]; destroyed: boolean };
    constructor(opts: Opts, data: number[][], el: HTMLElement) {
      this.rec = { opts, data, destroyed: false };
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
import { locale } from '../../lib/i18n';

afterEach(() => {
  cleanup();
  locale.set('en');
});

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

  // uPlot names an unlabelled day column "Value" in its legend, in English
  // whatever the language of the window.
  it('names the day column in the legend in the window language', () => {
    const props = { days: ['2026-03-01'], title: 'Questions', empty: 'Nothing yet', series: [{ label: 'Questions', values: [1], color: '--accent' }] };
    render(Chart, { props });
    expect(made.at(-1)!.opts.series[0].label).toBe('Day');
    cleanup();
    locale.set('zh-CN');
    render(Chart, { props });
    expect(made.at(-1)!.opts.series[0].label).toBe('日期');
  });
});
