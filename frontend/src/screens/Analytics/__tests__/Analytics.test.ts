import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';

// The app's calls behind a fake: the local report and the hub's differ, so
// the screen must show the one of the source chosen.
let published: { name: string }[] = [];
let hubGate: Promise<void> = Promise.resolve();
const day = (date: string, questions: number) => ({ date, conversations: 1, questions, notCovered: 0, up: 0, down: 0, leads: 0 });
const report = (questions: number, extra: object = {}) => ({
  agent: 'baker', from: '2026-11-01', to: '2026-11-30', days: [day('2026-11-30', questions)],
  conversations: 1, questions, answered: questions, notCovered: 0, up: 0, down: 0, leads: 0,
  ttftMedian: 0, ttftP95: 0, timed: 0, topQuestions: [], unanswered: [], grouping: 'lexical', ...extra,
});
vi.mock('uplot', async () => ({ default: (await import('../../../lib/__tests__/fakes')).FakeUPlot }));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'ListAgents':
        return [{ name: 'baker' }, { name: 'florist' }];
      case 'PublishSettings':
        return { url: 'https://hub.example.com', hasToken: true };
      case 'PublishedAgents':
        return published;
      case 'Analytics':
        return report(3);
      case 'PublishedAnalytics':
        await hubGate;
        return report(9, { clamped: true, retentionDays: 14, from: '2026-11-17' });
      case 'ExportPublishedAnalyticsCSV':
      case 'ExportAnalyticsCSV':
        return 'date\n';
      default:
        return null;
    }
  }),
);

import Analytics from '../Analytics.svelte';
import { locale } from '../../../lib/i18n';

beforeEach(() => {
  locale.set('en');
  resetTransport();
  published = [{ name: 'baker' }];
  hubGate = Promise.resolve();
  URL.createObjectURL = vi.fn(() => 'blob:x');
  URL.revokeObjectURL = vi.fn();
});
afterEach(cleanup);

const questions = (r: { getByTestId: (id: string) => HTMLElement }) => r.getByTestId('stat-questions').textContent;

describe('analytics: this computer or the hub', () => {
  it('switches a published agent between local and hub figures, and exports the one shown', async () => {
    const r = render(Analytics);
    await waitFor(() => expect(questions(r)).toBe('3'));
    const hub = await r.findByTestId('analytics-source-hub');
    const local = r.getByTestId('analytics-source-local');
    expect(local.getAttribute('aria-pressed')).toBe('true');
    expect(hub.getAttribute('aria-pressed')).toBe('false');
    expect(r.getByTestId('analytics-source').getAttribute('aria-label')).toBe('Source');

    await fireEvent.click(hub);
    await waitFor(() => expect(questions(r)).toBe('9'));
    expect(calls.find((c) => c.method === 'PublishedAnalytics')!.args).toEqual(['baker', 30]);
    expect(hub.getAttribute('aria-pressed')).toBe('true');
    expect(r.getByTestId('analytics-subtitle').textContent).toContain('hub');
    expect(r.getByTestId('analytics-clamped').textContent).toBe('The hub keeps conversations for 14 days, so the figures start on 2026-11-17.');

    await fireEvent.click(r.getByTestId('analytics-export'));
    await waitFor(() => expect(calls.some((c) => c.method === 'ExportPublishedAnalyticsCSV')).toBe(true));
    expect(calls.some((c) => c.method === 'ExportAnalyticsCSV')).toBe(false);

    await fireEvent.click(local);
    await waitFor(() => expect(questions(r)).toBe('3'));
    expect(r.queryByTestId('analytics-clamped')).toBeNull();
  });

  it('does not show a slow hub answer after switching back', async () => {
    let open!: () => void;
    hubGate = new Promise((res) => (open = res));
    const r = render(Analytics);
    await waitFor(() => expect(questions(r)).toBe('3'));
    await fireEvent.click(await r.findByTestId('analytics-source-hub'));
    await fireEvent.click(r.getByTestId('analytics-source-local'));
    await waitFor(() => expect(calls.filter((c) => c.method === 'Analytics')).toHaveLength(2));
    open();
    await new Promise((res) => setTimeout(res, 20));
    expect(questions(r)).toBe('3');
  });

  it('has no switch for an agent the hub does not serve', async () => {
    published = [{ name: 'florist' }];
    const r = render(Analytics);
    await waitFor(() => expect(questions(r)).toBe('3'));
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishedAgents')).toBe(true));
    expect(r.queryByTestId('analytics-source')).toBeNull();
    expect(calls.some((c) => c.method === 'PublishedAnalytics')).toBe(false);
  });

  it('speaks Chinese', async () => {
    locale.set('zh-CN');
    const r = render(Analytics);
    await r.findByTestId('analytics-source');
    expect(r.getByTestId('analytics-source-local').textContent).toBe('本机');
    expect(r.getByTestId('analytics-source-hub').textContent).toBe('已发布（平台）');
  });
});
