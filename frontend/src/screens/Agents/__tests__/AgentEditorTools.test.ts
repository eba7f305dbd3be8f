import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import type { Agent } from '../../../lib/types';

const saveAgent = vi.fn();
vi.mock('../../../stores/agents', () => ({
  saveAgent: (a: Agent) => saveAgent(a),
  deleteAgent: vi.fn(),
  draftAgent: vi.fn(),
}));
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async (method: string) => {
    switch (method) {
      case 'ListHTTPTools':
        return [{ name: 'check_stock', description: 'Stock of an item' }];
      case 'ListAllMCPTools':
        return {
          tools: [
            { server: 'everything', name: 'add', description: 'Adds two numbers' },
            { server: 'everything', name: 'echo', description: 'Echoes back the input' },
          ],
          errors: [{ server: 'broken', error: 'the MCP server broken could not be started' }],
        };
      default:
        return [];
    }
  }),
}));

import AgentEditor from '../AgentEditor.svelte';
import { agent } from './fixture';
import { locale } from '../../../lib/i18n';

function setup(a: Agent) {
  const onsaved = vi.fn();
  const r = render(AgentEditor, {
    props: { agent: a, kbNames: [], modelNames: [], ondrafted: vi.fn(), onsaved, ondeleted: vi.fn() },
  });
  return { ...r, onsaved };
}

async function saved(r: ReturnType<typeof setup>): Promise<Agent> {
  await fireEvent.click(r.getByTestId('agent-save'));
  await waitFor(() => expect(r.onsaved).toHaveBeenCalled());
  return saveAgent.mock.calls[0][0];
}

beforeEach(() => {
  locale.set('en');
  saveAgent.mockReset();
  saveAgent.mockImplementation(async (a: Agent) => ({ ...a, version: 2 }));
});
afterEach(cleanup);

describe('agent editor: MCP tools', () => {
  it("offers each MCP server's tools beside today's and saves them as mcp:<server>/<tool>", async () => {
    const r = setup(agent('baker', { tools: ['calculate', 'http:check_stock'] }));
    const echo = (await r.findByTestId('agent-tool-mcp-everything-echo')) as HTMLInputElement;
    expect(echo.checked).toBe(false);
    expect(echo.closest('label')!.title).toBe('Echoes back the input');
    expect(echo.closest('label')!.textContent).toContain('everything, MCP, asks before each call');
    await fireEvent.click(echo);
    expect((await saved(r)).tools).toEqual(['calculate', 'http:check_stock', 'mcp:everything/echo']);
  });

  it('keeps an enabled tool whose server is not running, and drops it only when unticked', async () => {
    const r = setup(agent('baker', { tools: ['mcp:broken/read', 'mcp:everything/add'] }));
    await r.findByTestId('agent-tool-mcp-everything-add');
    const unlisted = r.getByTestId('agent-tool-unlisted-mcp:broken/read') as HTMLInputElement;
    expect(unlisted.checked).toBe(true);
    await fireEvent.click(r.getByTestId('agent-tool-calculate'));
    expect((await saved(r)).tools).toEqual(['calculate', 'mcp:everything/add', 'mcp:broken/read']);
  });

  it('shows which tools are always allowed; turning a tool off, or the mark, asks again', async () => {
    const r = setup(agent('baker', { tools: ['mcp:everything/echo', 'mcp:everything/add'], allow: ['mcp:everything/echo', 'mcp:everything/add'] }));
    await r.findByTestId('agent-allowed-mcp:everything/echo');
    await fireEvent.click(r.getByTestId('agent-tool-mcp-everything-echo'));
    expect(r.queryByTestId('agent-allowed-mcp:everything/echo')).toBeNull();
    await fireEvent.click(r.getByLabelText('Ask again before each call of mcp:everything/add'));
    const a = await saved(r);
    expect(a.tools).toEqual(['mcp:everything/add']);
    expect(a.allow).toEqual([]);
  });

  it('speaks Chinese when the interface does', async () => {
    locale.set('zh-CN');
    const r = setup(agent('baker', { tools: ['mcp:everything/echo'], allow: ['mcp:everything/echo'] }));
    const echo = await r.findByTestId('agent-tool-mcp-everything-echo');
    expect(echo.closest('label')!.textContent).toContain('everything，MCP，每次调用前询问');
    expect(r.getByTestId('agent-allowed-mcp:everything/echo').textContent).toContain('始终允许');
  });
});
