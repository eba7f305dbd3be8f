import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';
import { agent } from '../../Agents/__tests__/fixture';

const summaries: Record<string, unknown> = {
  baker: {
    agent: 'baker',
    knowledgeBases: [{ name: 'shop', documents: 12, passages: 340 }],
    documents: 12,
    passages: 340,
    withSources: false,
    hub: 'https://hub.example.com',
  },
  florist: { agent: 'florist', knowledgeBases: [], documents: 0, passages: 0, withSources: false, hub: 'https://hub.example.com' },
};
vi.mock('uplot', async () => ({ default: (await import('../../../lib/__tests__/fakes')).FakeUPlot }));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'ListAgents':
        return [agent('baker', { kbs: ['shop'] }), agent('florist')];
      case 'PublishSettings':
        return { url: 'https://hub.example.com', hasToken: true };
      case 'PublishSummary':
        return summaries[args[0] as string];
      case 'PublishAgent':
        return 'job1';
      default:
        return [];
    }
  }),
);

import Publish from '../Publish.svelte';
import { locale } from '../../../lib/i18n';

beforeEach(() => {
  locale.set('en');
  resetTransport();
});
afterEach(cleanup);

describe('publish screen', () => {
  it('shows what leaves the computer before Publish is pressed', async () => {
    const r = render(Publish);
    const box = await r.findByTestId('publish-summary');
    expect(box.textContent).toContain('What leaves this computer');
    expect(r.getByTestId('publish-summary-agent').textContent).toBe('baker');
    expect(box.textContent).toContain('shop · 12 documents · 340 passages');
    expect(r.getByTestId('publish-summary-total').textContent).toContain('12 documents and 340 passages, with their vectors');
    expect(box.textContent).toContain('not included');
    await waitFor(() => expect(r.getByTestId('publish-summary-hub').textContent).toBe('https://hub.example.com'));
    expect(calls.some((c) => c.method === 'PublishAgent')).toBe(false);

    // The address being typed is the one shown.
    await fireEvent.input(r.getByTestId('publish-url'), { target: { value: 'https://other.example.org/' } });
    expect(r.getByTestId('publish-summary-hub').textContent).toBe('https://other.example.org');

    // Another agent: its own summary.
    await fireEvent.change(r.getByTestId('publish-agent'), { target: { value: 'florist' } });
    await waitFor(() => expect(r.getByTestId('publish-summary-agent').textContent).toBe('florist'));
    expect(r.getByTestId('publish-summary').textContent).toContain('none');

    await fireEvent.click(r.getByTestId('publish-submit'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishAgent')).toBe(true));
    const order = calls.map((c) => `${c.method}:${c.args[0] ?? ''}`);
    expect(order.lastIndexOf('PublishSummary:florist')).toBeLessThan(order.indexOf('PublishAgent:florist'));
  });

  it('speaks Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Publish);
    const box = await r.findByTestId('publish-summary');
    expect(box.textContent).toContain('发布时会离开这台电脑的内容');
    expect(r.getByTestId('publish-summary-total').textContent).toContain('12 个文档、340 个段落，以及它们的向量');
    expect(box.textContent).toContain('不包含');
  });
});
