import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import type { Agent } from '../../../lib/types';
import { agent as saved } from './fixture';

const agent = (name: string) => saved(name, { description: `${name} description` });

// GetAgent answers when the test says so, to reproduce a slow round trip.
const pending: { name: string; resolve: (a: Agent) => void }[] = [];
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async (method: string, ...args: unknown[]) => {
    switch (method) {
      case 'ListAgents':
        return [agent('baker'), agent('florist')];
      case 'GetAgent':
        return new Promise<Agent>((resolve) => pending.push({ name: args[0] as string, resolve }));
      default:
        return [];
    }
  }),
  on: vi.fn(() => () => {}),
}));

import Agents from '../Agents.svelte';
import { locale } from '../../../lib/i18n';

beforeEach(() => {
  locale.set('en');
  pending.length = 0;
});
afterEach(cleanup);

describe('agents screen', () => {
  it('keeps what the user types when the open agent is clicked again', async () => {
    const r = render(Agents);
    const desc = (await r.findByTestId('agent-description')) as HTMLInputElement;
    await waitFor(() => expect(desc.value).toBe('baker description'));
    await fireEvent.input(desc, { target: { value: 'typed by the user' } });
    await fireEvent.click(r.getByTestId('agent-row-baker'));
    for (const p of pending) p.resolve(agent(p.name));
    await new Promise((res) => setTimeout(res, 0));
    expect((r.getByTestId('agent-description') as HTMLInputElement).value).toBe('typed by the user');
  });

  it('shows the last agent clicked when answers come back out of order', async () => {
    const r = render(Agents);
    await r.findByTestId('agent-description');
    await fireEvent.click(r.getByTestId('agent-row-florist'));
    await fireEvent.click(r.getByTestId('agent-new'));
    await fireEvent.input(r.getByTestId('agent-name'), { target: { value: 'fresh' } });
    // The florist's answer arrives after the user moved on to a new agent.
    pending.find((p) => p.name === 'florist')!.resolve(agent('florist'));
    await new Promise((res) => setTimeout(res, 0));
    expect((r.getByTestId('agent-name') as HTMLInputElement).value).toBe('fresh');
  });
});
