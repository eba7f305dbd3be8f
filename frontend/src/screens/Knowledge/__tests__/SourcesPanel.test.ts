import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import type { Source } from '../../../lib/types';

const calls: unknown[][] = [];
const list: Source[] = [
  {
    id: 'https://bakery.example/sitemap.xml', kind: 'sitemap', schedule: 'daily', watch: false,
    lastSync: '2026-11-30T10:00:00Z', nextSync: '2026-12-01T10:00:00Z', docs: 12, chunks: 80, changed: 1, unchanged: 11,
    removed: 0, failed: 1, requests: 14, notModified: 11, errors: [{ file: 'https://bakery.example/old', reason: 'could not be fetched (HTTP 403)' }],
  },
  {
    id: '/home/ana/bakery', kind: 'folder', schedule: 'off', watch: false, lastSync: '2026-11-30T09:00:00Z', nextSync: null,
    docs: 4, chunks: 20, changed: 4, unchanged: 0, removed: 0, failed: 0, requests: 0, notModified: 0, errors: [],
  },
];
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async (method: string, ...args: unknown[]) => {
    calls.push([method, ...args]);
    switch (method) {
      case 'ListSources':
        return list;
      case 'AddWebsite':
        return 'job-1';
      default:
        return null;
    }
  }),
  on: vi.fn(() => () => {}),
}));

import SourcesPanel from '../SourcesPanel.svelte';
import { locale } from '../../../lib/i18n';

afterEach(() => {
  cleanup();
  calls.length = 0;
  locale.set('en');
});

describe('sources panel', () => {
  it('lists each source with its kind, documents and errors, in both languages', async () => {
    locale.set('en');
    const r = render(SourcesPanel, { props: { kb: 'bakery' } });
    await waitFor(() => expect(r.getAllByTestId('source-row')).toHaveLength(2));
    const rows = r.getAllByTestId('source-row').map((x) => x.textContent ?? '');
    expect(rows[0]).toContain('Sitemap');
    expect(rows[0]).toContain('1 failed');
    expect(rows[0]).toContain('could not be fetched (HTTP 403)');
    expect(rows[1]).toContain('Folder');
    expect(r.getByTestId('source-watch')).toBeTruthy(); // keep in sync: folders only
    cleanup();
    locale.set('zh-CN');
    const z = render(SourcesPanel, { props: { kb: 'bakery' } });
    await waitFor(() => expect(z.getAllByTestId('source-row')).toHaveLength(2));
    expect(z.getAllByTestId('source-row')[0].textContent).toContain('站点地图');
  });

  it('adds a website with its depth and schedule, and keeps a folder in sync', async () => {
    const r = render(SourcesPanel, { props: { kb: 'bakery' } });
    await waitFor(() => expect(r.getAllByTestId('source-row')).toHaveLength(2));
    await fireEvent.click(r.getByTestId('add-website'));
    await fireEvent.input(r.getByTestId('website-url'), { target: { value: 'https://bakery.example/' } });
    await fireEvent.change(r.getByTestId('website-depth'), { target: { value: '2' } });
    await fireEvent.change(r.getByTestId('website-schedule'), { target: { value: 'weekly' } });
    await fireEvent.submit(r.getByTestId('website-form'));
    await waitFor(() => expect(calls.find((c) => c[0] === 'AddWebsite')).toEqual(['AddWebsite', 'bakery', 'https://bakery.example/', 2, 200, 'weekly']));
    await fireEvent.click(r.getByTestId('source-watch'));
    await waitFor(() => expect(calls.find((c) => c[0] === 'SetSourceWatch')).toEqual(['SetSourceWatch', 'bakery', '/home/ana/bakery', true]));
  });
});
