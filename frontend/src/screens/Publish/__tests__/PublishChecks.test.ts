import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { agent } from '../../Agents/__tests__/fixture';

const calls: string[] = [];
// uPlot draws on a canvas jsdom lacks (the usage chart); Chart's own test
// and the e2e screenshots check the drawing.
vi.mock('uplot', () => ({
  default: class {
    constructor(_opts: unknown, _data: unknown, el: HTMLElement) {
      el.appendChild(document.createElement('canvas'));
    }
    setSize() {}
    destroy() {}
  },
}));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async (method: string, ...args: unknown[]) => {
    calls.push(method);
    switch (method) {
      case 'ListAgents':
        return [agent('baker', { kbs: ['shop'] })];
      case 'PublishSettings':
        return { url: 'https://hub.example.com', hasToken: true };
      case 'PublishSummary':
        return { agent: args[0], knowledgeBases: [], documents: 0, passages: 0, withSources: false, hub: 'https://hub.example.com' };
      case 'AgentCheck':
        return { agent: 'baker', kb: 'shop', changed: ['prices.xlsx'], state: 'done', total: 3, failing: ['How much is a 20 cm chocolate cake?'] };
      case 'PublishAgent':
        return 'job1';
      default:
        return [];
    }
  }),
  on: vi.fn(() => () => {}),
}));

import Publish from '../Publish.svelte';
import { locale } from '../../../lib/i18n';

afterEach(() => {
  cleanup();
  calls.length = 0;
  locale.set('en');
});

describe('publishing after the knowledge changed', () => {
  it('names the failing check and asks before publishing', async () => {
    locale.set('en');
    const r = render(Publish);
    const line = await r.findByTestId('knowledge-check');
    expect(line.textContent?.trim()).toBe('prices.xlsx changed · 1 check now fails: “How much is a 20 cm chocolate cake?”');
    await fireEvent.submit(r.getByTestId('publish-submit').closest('form')!);
    await r.findByTestId('publish-confirm-failing');
    expect(calls).not.toContain('PublishAgent');
    await fireEvent.click(r.getByTestId('publish-anyway'));
    await waitFor(() => expect(calls).toContain('PublishAgent'));
  });

  it('says it in Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Publish);
    const line = await r.findByTestId('knowledge-check');
    expect(line.textContent?.trim()).toBe('prices.xlsx 已更改 · 现有 1 项检查失败：“How much is a 20 cm chocolate cake?”');
  });
});
