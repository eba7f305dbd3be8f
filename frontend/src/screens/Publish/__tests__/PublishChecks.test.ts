import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';
import { agent } from '../../Agents/__tests__/fixture';

vi.mock('uplot', async () => ({ default: (await import('../../../lib/__tests__/fakes')).FakeUPlot }));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
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
);

import Publish from '../Publish.svelte';
import { locale } from '../../../lib/i18n';

afterEach(() => {
  cleanup();
  resetTransport();
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
    expect(calls.map((c) => c.method)).not.toContain('PublishAgent');
    await fireEvent.click(r.getByTestId('publish-anyway'));
    await waitFor(() => expect(calls.map((c) => c.method)).toContain('PublishAgent'));
  });

  it('says it in Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Publish);
    const line = await r.findByTestId('knowledge-check');
    expect(line.textContent?.trim()).toBe('prices.xlsx 已更改 · 现有 1 项检查失败：“How much is a 20 cm chocolate cake?”');
  });
});
