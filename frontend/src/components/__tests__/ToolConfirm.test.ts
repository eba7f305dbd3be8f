import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';

const calls: { method: string; args: unknown[] }[] = [];
const handlers = new Map<string, (p: unknown) => void>();
vi.mock('../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../lib/transport')>()),
  call: vi.fn(async (method: string, ...args: unknown[]) => {
    calls.push({ method, args });
    return method === 'ListAgents' ? [] : null;
  }),
  on: vi.fn((name: string, fn: (p: unknown) => void) => {
    handlers.set(name, fn);
    return () => handlers.delete(name);
  }),
}));

import ToolConfirm from '../ToolConfirm.svelte';
import { EVENTS } from '../../lib/events';
import { locale } from '../../lib/i18n';
import { tick } from 'svelte';

const args = '{\n  "message": "hello <b>world</b>",\n  "n": 3\n}';
const mcpCall = { id: 'c1', tool: 'mcp:everything/echo', method: 'MCP', url: 'node /tools/everything/dist/index.js stdio', arguments: args, agent: 'baker' };
const httpCall = { id: 'c2', tool: 'check_stock', method: 'GET', url: 'https://shop.example/api/stock?item=rye', agent: 'baker' };

async function emit(p: unknown) {
  handlers.get(EVENTS.toolConfirm)!(p);
  await tick();
}

beforeEach(() => {
  locale.set('en');
  calls.length = 0;
});
afterEach(cleanup);

describe('tool confirmation', () => {
  it("shows an MCP call's exact arguments and server, and runs it only on Allow", async () => {
    const r = render(ToolConfirm);
    await emit(mcpCall);
    expect(r.getByTestId('tool-confirm').textContent).toContain('mcp:everything/echo');
    expect(r.getByTestId('tool-confirm-args').textContent).toBe(args);
    expect(r.getByTestId('tool-confirm-server').textContent).toBe(mcpCall.url);
    expect(r.getByTestId('tool-confirm').innerHTML).not.toContain('<b>');
    expect(calls).toEqual([]);
    await fireEvent.click(r.getByTestId('tool-allow'));
    await waitFor(() => expect(calls).toEqual([{ method: 'ConfirmTool', args: ['c1', true] }]));
    expect(r.queryByTestId('tool-confirm')).toBeNull();
  });

  it('"always allow" puts the tool on that agent\'s allow-list after allowing the call', async () => {
    const r = render(ToolConfirm);
    await emit(mcpCall);
    expect(r.getByTestId('tool-confirm').textContent).toContain('Always allow this tool for baker');
    await fireEvent.click(r.getByTestId('tool-always'));
    await fireEvent.click(r.getByTestId('tool-allow'));
    await waitFor(() => expect(calls.map((c) => c.method)).toContain('AlwaysAllowTool'));
    expect(calls[0]).toEqual({ method: 'ConfirmTool', args: ['c1', true] });
    expect(calls[1]).toEqual({ method: 'AlwaysAllowTool', args: ['baker', 'mcp:everything/echo'] });
  });

  it('shows an HTTP call as its method and URL; always allowing names it http:<name>', async () => {
    const r = render(ToolConfirm);
    await emit(httpCall);
    expect(r.getByTestId('tool-confirm-request').textContent).toBe('GET https://shop.example/api/stock?item=rye');
    expect(r.queryByTestId('tool-confirm-args')).toBeNull();
    await fireEvent.click(r.getByTestId('tool-always'));
    await fireEvent.click(r.getByTestId('tool-allow'));
    await waitFor(() => expect(calls[1]).toEqual({ method: 'AlwaysAllowTool', args: ['baker', 'http:check_stock'] }));
  });

  it('a refused call is not remembered, and the next waiting call starts unticked', async () => {
    const r = render(ToolConfirm);
    await emit(mcpCall);
    await emit(httpCall);
    await fireEvent.click(r.getByTestId('tool-always'));
    await fireEvent.click(r.getByTestId('tool-deny'));
    await waitFor(() => expect(calls).toEqual([{ method: 'ConfirmTool', args: ['c1', false] }]));
    expect(r.getByTestId('tool-confirm-request')).toBeTruthy();
    expect((r.getByTestId('tool-always') as HTMLInputElement).checked).toBe(false);
  });

  it('speaks Chinese when the interface does', async () => {
    locale.set('zh-CN');
    const r = render(ToolConfirm);
    await emit(mcpCall);
    expect(r.getByTestId('tool-confirm').textContent).toContain('始终允许 baker 使用此工具');
    expect(r.getByTestId('tool-confirm').textContent).toContain('参数');
  });
});
