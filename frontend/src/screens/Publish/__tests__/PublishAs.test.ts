import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport, emit } from '../../../lib/__tests__/fakes';
import { agent } from '../../Agents/__tests__/fixture';

vi.mock('uplot', async () => ({ default: (await import('../../../lib/__tests__/fakes')).FakeUPlot }));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'ListAgents':
        return [agent('baker', { kbs: ['shop'] }), agent('florist')];
      case 'PublishSettings':
        return { url: 'https://hub.example.com', hasToken: true, names: { baker: 'baker-shop' } };
      case 'PublishSummary':
        return { agent: args[0], knowledgeBases: [], documents: 0, passages: 0, withSources: false, hub: 'https://hub.example.com' };
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

const taken = {
  job: 'job1',
  agent: 'florist',
  phase: 'done',
  tests: '',
  sent: 10,
  total: 10,
  done: true,
  // The hub's own words would name a command-line flag: never shown.
  error: 'Another workspace … --as NEWNAME',
  code: 'name-taken',
};

describe('the public name', () => {
  it('shows the remembered name, sends the one typed, and says in its own words when another workspace has it', async () => {
    locale.set('en');
    const r = render(Publish);
    const field = (await r.findByTestId('publish-public')) as HTMLInputElement;
    await waitFor(() => expect(field.value).toBe('baker-shop'));
    expect(field.placeholder).toBe('baker');
    await waitFor(() => expect(r.getByTestId('publish-summary-public').textContent).toBe('baker-shop'));

    // Another agent: nothing remembered, its own name as the placeholder.
    await fireEvent.change(r.getByTestId('publish-agent'), { target: { value: 'florist' } });
    await waitFor(() => expect(field.placeholder).toBe('florist'));
    expect(field.value).toBe('');
    await waitFor(() => expect(r.getByTestId('publish-summary-public').textContent).toBe('florist'));

    await fireEvent.click(r.getByTestId('publish-submit'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishAgent')).toBe(true));
    expect(calls.find((c) => c.method === 'PublishAgent')!.args).toEqual(['florist', 'https://hub.example.com', '', '']);
    emit('publish:progress', taken);
    const msg = await r.findByTestId('publish-error');
    expect(msg.textContent?.trim()).toBe('Another workspace on this hub already uses the name “florist”: choose a public name above.');
    expect(msg.textContent).not.toContain('--as');
    expect(field.getAttribute('aria-invalid')).toBe('true');

    // A name typed: sent, and remembered for the agent once published.
    await fireEvent.input(field, { target: { value: ' florist-town ' } });
    expect(r.getByTestId('publish-summary-public').textContent).toBe('florist-town');
    calls.length = 0;
    await fireEvent.click(r.getByTestId('publish-submit'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishAgent')).toBe(true));
    expect(calls.find((c) => c.method === 'PublishAgent')!.args[3]).toBe('florist-town');
    emit('publish:progress', {
      ...taken,
      error: '',
      code: '',
      result: { agent: 'florist-town', version: 1, chat: 'https://hub.example.com/a/florist-town', widget: '<script></script>', api: 'https://hub.example.com/v1/chat/completions' },
    });
    const link = (await r.findByTestId('publish-link')) as HTMLAnchorElement;
    expect(link.textContent).toBe('https://hub.example.com/a/florist-town');
    expect(r.getByTestId('publish-result').textContent).toContain('florist-town is published (version 1)');
    await fireEvent.change(r.getByTestId('publish-agent'), { target: { value: 'baker' } });
    await waitFor(() => expect(field.value).toBe('baker-shop'));
    await fireEvent.change(r.getByTestId('publish-agent'), { target: { value: 'florist' } });
    await waitFor(() => expect(field.value).toBe('florist-town'));
  });

  it('speaks Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Publish);
    const field = (await r.findByTestId('publish-public')) as HTMLInputElement;
    await waitFor(() => expect(field.value).toBe('baker-shop'));
    expect(r.container.textContent).toContain('公开名称');
    await fireEvent.click(r.getByTestId('publish-submit'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishAgent')).toBe(true));
    emit('publish:progress', { ...taken, agent: 'baker' });
    const msg = await r.findByTestId('publish-error');
    expect(msg.textContent?.trim()).toBe('该平台上的另一个工作区已在使用名称“baker-shop”：请在上方选择一个公开名称。');
  });
});
