import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { calls, resetTransport } from '../../../lib/__tests__/fakes';

// A fake hub behind the app's calls: keys are kept here, so the panel must
// reload what the calls changed, and a created key's secret is returned once.
let access = 'open';
let hubList: unknown[] | null = null;
let keys: { id: string; name: string; agent: string; created: string; revoked?: string }[] = [];
const today = new Date().toISOString().slice(0, 10);
vi.mock('uplot', async () => ({ default: (await import('../../../lib/__tests__/fakes')).FakeUPlot }));
vi.mock('uplot/dist/uPlot.min.css', () => ({}));
vi.mock('../../../lib/transport', async (orig) =>
  (await import('../../../lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => {
    switch (method) {
      case 'PublishedAgents':
        return hubList ?? [{ name: 'baker', version: 2, latest: 2, access }];
      case 'SetAgentAccess':
        access = args[1] as string;
        return null;
      case 'ListKeys':
        return keys.map((k) => ({ ...k }));
      case 'CreateKey': {
        const k = { id: 'k' + (keys.length + 1), name: args[1] as string, agent: 'baker', created: today + 'T10:00:00Z' };
        keys.push(k);
        return { ...k, key: 'atk_secret' + keys.length };
      }
      case 'RevokeKey':
        keys = keys.map((k) => (k.id === args[1] ? { ...k, revoked: today + 'T11:00:00Z' } : k));
        return null;
      case 'Usage':
        return [
          { day: today, key: '', requests: 7, tokensIn: 120, tokensOut: 900, errors: 1 },
          { day: today, key: 'k0', requests: 3, tokensIn: 50, tokensOut: 400, errors: 0 },
        ];
      default:
        return [];
    }
  }),
);

import AgentAccess from '../AgentAccess.svelte';
import { locale } from '../../../lib/i18n';

beforeEach(() => {
  locale.set('en');
  resetTransport();
  access = 'open';
  hubList = null;
  keys = [{ id: 'k0', name: 'old site', agent: 'baker', created: '2026-01-02T00:00:00Z' }];
});
afterEach(cleanup);

describe('publish screen: access and keys', () => {
  it('toggles access, shows a new key once with a copy button, lists and revokes keys, and shows usage', async () => {
    const r = render(AgentAccess, { agent: 'baker', version: 2 });
    await r.findByTestId('publish-access');
    await waitFor(() => expect(r.getAllByTestId('key-row')).toHaveLength(1));
    expect(r.getByTestId('key-list').textContent).toContain('old site');
    // The old key's requests come from its own usage rows.
    expect(r.getAllByTestId('key-row')[0].textContent).toContain('3');
    const totals = r.getByTestId('usage-totals').textContent!;
    expect(totals).toContain('7');
    expect(totals).toContain('900');
    expect((r.getByTestId('access-open') as HTMLInputElement).checked).toBe(true);

    await fireEvent.click(r.getByTestId('access-key'));
    await waitFor(() => expect(calls.some((c) => c.method === 'SetAgentAccess' && c.args[0] === 'baker' && c.args[1] === 'key')).toBe(true));
    expect(r.getByTestId('publish-access').textContent).toContain("carry one of this agent's keys");

    expect((r.getByTestId('key-create') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(r.getByTestId('key-name'), { target: { value: ' shop site ' } });
    await fireEvent.click(r.getByTestId('key-create'));
    await waitFor(() => expect(r.getByTestId('key-secret').textContent).toBe('atk_secret2'));
    expect(calls.find((c) => c.method === 'CreateKey')!.args).toEqual(['baker', 'shop site']);
    expect(r.getByTestId('key-created').textContent).toContain('shown only once');
    expect(r.getByTestId('key-copy')).toBeTruthy();
    await waitFor(() => expect(r.getAllByTestId('key-row')).toHaveLength(2));
    // The list never carries a secret.
    expect(r.getByTestId('key-list').textContent).not.toContain('atk_');

    // Revoking asks first; the revoked key stays listed as revoked and the
    // secret shown for it goes away.
    const revokeNew = r.getAllByTestId('key-revoke')[1];
    await fireEvent.click(revokeNew);
    expect(calls.some((c) => c.method === 'RevokeKey')).toBe(false);
    await fireEvent.click(r.getByTestId('key-revoke-yes'));
    await waitFor(() => expect(calls.find((c) => c.method === 'RevokeKey')?.args).toEqual(['baker', 'k2']));
    await waitFor(() => expect(r.getAllByTestId('key-row')[1].textContent).toContain('revoked'));
    expect(r.queryByTestId('key-secret')).toBeNull();
    expect(r.getAllByTestId('key-revoke')).toHaveLength(1);
  });

  it('finds an agent published under another public name by its local name', async () => {
    // baker is "baker-shop" on the hub; a "baker" of this workspace there
    // is no agent here any more.
    hubList = [
      { name: 'baker', local: '', version: 1, latest: 1, access: 'key' },
      { name: 'baker-shop', local: 'baker', version: 2, latest: 2, access: 'open' },
    ];
    const r = render(AgentAccess, { agent: 'baker', version: 0 });
    await r.findByTestId('publish-access');
    expect((r.getByTestId('access-open') as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(calls.find((c) => c.method === 'ListKeys')?.args).toEqual(['baker']));
  });

  it('shows nothing for an agent the hub does not serve', async () => {
    const r = render(AgentAccess, { agent: 'florist', version: 0 });
    await waitFor(() => expect(calls.some((c) => c.method === 'PublishedAgents')).toBe(true));
    expect(r.queryByTestId('publish-access')).toBeNull();
    expect(calls.some((c) => c.method === 'ListKeys')).toBe(false);
  });
});
