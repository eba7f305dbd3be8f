import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';
import { agent } from '../../Agents/__tests__/fixture';

let hub = { url: 'https://hub.example.com', hasToken: true };
let publishedNames = ['baker'];
let pulledYet = false;
let nothingNew = false;

const localItem = {
  id: 'l1-m1',
  origin: 'local',
  agent: 'baker',
  conversation: 'l1',
  message: 'm1',
  at: '2026-11-30T09:00:00Z',
  question: 'Do you bake on Sunday?',
  answer: 'No.',
  passages: [],
  notCovered: true,
  rating: 0,
  comment: '',
  corrected: false,
};
const hubItem = {
  ...localItem,
  id: 'h1-1',
  origin: 'hub',
  conversation: 'h1',
  message: '1',
  at: '2026-11-30T10:00:00Z',
  question: 'How much is a chocolate cake?',
  answer: 'It costs 40 euros [1].',
  passages: [{ n: 1, source: '/docs/faq.md', text: 'A chocolate cake costs 38 euros.', used: true }],
  notCovered: false,
  rating: -1,
  comment: 'Wrong: it is 38 euros.',
};

vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'ListAgents':
        return [agent('baker', { kbs: ['shop'] }), agent('florist')];
      case 'PublishSettings':
        return hub;
      case 'PublishedAgents':
        return publishedNames.map((name) => ({ name, version: 1, latest: 1, access: 'open' }));
      case 'ReviewItems':
        return pulledYet ? [hubItem, localItem] : [localItem];
      case 'PullReview':
        pulledYet = true;
        if (nothingNew) return { agent: 'baker', hub: hub.url, new: 0, down: 0, notCovered: 0, updated: 0, resolved: 0, total: 1 };
        return { agent: 'baker', hub: hub.url, new: 1, down: 1, notCovered: 0, updated: 0, resolved: 0, total: 1 };
      default:
        return [];
    }
  }),
);

import Review from '../Review.svelte';
import { locale } from '../../../lib/i18n';

beforeEach(() => {
  locale.set('en');
  resetTransport();
  hub = { url: 'https://hub.example.com', hasToken: true };
  publishedNames = ['baker'];
  pulledYet = false;
  nothingNew = false;
});
afterEach(cleanup);

describe('review screen', () => {
  it('pulls the hub items of a published agent and shows them with the comment', async () => {
    const r = render(Review);
    await waitFor(() => expect(r.getAllByTestId('review-item')).toHaveLength(1));
    const btn = await r.findByTestId('review-pull');
    expect(btn.textContent).toContain('Pull from hub');
    await fireEvent.click(btn);
    await waitFor(() => expect(r.getAllByTestId('review-item')).toHaveLength(2));
    expect(calls.find((c) => c.method === 'PullReview')?.args).toEqual(['baker']);
    expect(r.getByTestId('review-pulled').textContent).toContain('1 new from the hub (1 voted down, 0 not covered)');
    const first = r.getAllByTestId('review-item')[0];
    expect(first.dataset.origin).toBe('hub');
    expect(first.querySelector('[data-testid="review-hub"]')?.textContent).toContain('From the hub');
    expect(first.querySelector('[data-testid="review-comment"]')?.textContent).toBe('Wrong: it is 38 euros.');
    expect(first.querySelector('[data-testid="review-passage"]')?.getAttribute('data-used')).toBe('true');
    // A second pull that brings nothing says so in a sentence.
    nothingNew = true;
    await fireEvent.click(btn);
    await waitFor(() => expect(r.getByTestId('review-pulled').textContent?.trim()).toBe('Nothing new on the hub since the last pull.'));
    // The local item is not marked as the hub's.
    expect(r.getAllByTestId('review-item')[1].querySelector('[data-testid="review-hub"]')).toBeNull();
  });

  it('offers no pull for an agent the hub does not serve, nor without a hub', async () => {
    publishedNames = ['florist'];
    const r = render(Review);
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishedAgents')).toBe(true));
    await waitFor(() => expect(r.getAllByTestId('review-item')).toHaveLength(1));
    expect(r.queryByTestId('review-pull')).toBeNull();
    await fireEvent.change(r.getByTestId('review-agent'), { target: { value: 'florist' } });
    await r.findByTestId('review-pull');
    cleanup();

    hub = { url: '', hasToken: false };
    calls.length = 0;
    const r2 = render(Review);
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishSettings')).toBe(true));
    await waitFor(() => expect(r2.getAllByTestId('review-item')).toHaveLength(1));
    expect(r2.queryByTestId('review-pull')).toBeNull();
    expect(calls.some((c) => c.method === 'PublishedAgents')).toBe(false);
  });

  it('says the pull in Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Review);
    const btn = await r.findByTestId('review-pull');
    expect(btn.textContent).toContain('从平台拉取');
    await fireEvent.click(btn);
    await waitFor(() => expect(r.getByTestId('review-pulled').textContent).toContain('从平台新取回 1 条'));
  });
});
