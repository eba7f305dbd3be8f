import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';

const calls: { method: string; args: unknown[] }[] = [];
let config: Record<string, unknown> = {};
const failure = 'the MCP server broken could not be started (/no/such/server): exec: "/no/such/server": stat /no/such/server: no such file or directory';
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async (method: string, ...args: unknown[]) => {
    calls.push({ method, args });
    switch (method) {
      case 'GetMCPServers':
        return { mcpServers: config };
      case 'SaveMCPServers': {
        const parsed = JSON.parse(args[0] as string);
        config = parsed.mcpServers ?? parsed;
        return { mcpServers: config };
      }
      case 'ListAllMCPTools':
        return {
          tools: Object.keys(config).includes('everything')
            ? [
                { server: 'everything', name: 'add', description: 'Adds two numbers' },
                { server: 'everything', name: 'echo', description: 'Echoes back the input' },
              ]
            : [],
          errors: Object.keys(config).includes('broken') ? [{ server: 'broken', error: failure }] : [],
        };
      default:
        return null;
    }
  }),
}));

import McpServers from '../McpServers.svelte';
import { locale } from '../../../lib/i18n';

const everything = { command: 'node', args: ['/tools/server-everything/dist/index.js', 'stdio'] };

beforeEach(() => {
  locale.set('en');
  calls.length = 0;
  config = {};
});
afterEach(cleanup);

describe('Settings: MCP servers', () => {
  it("lists each server's tools with their descriptions, and says which server could not start", async () => {
    config = { everything, broken: { command: '/no/such/server' } };
    const r = render(McpServers);
    await r.findByTestId('settings-mcp-tool-everything-echo');
    expect(r.getByTestId('settings-mcp-tool-everything-echo').textContent).toContain('Echoes back the input');
    expect(r.getByTestId('settings-mcp-tool-everything-add').textContent).toContain('Adds two numbers');
    expect(r.getByTestId('settings-mcp-server-everything').textContent).toContain('2 tools');
    const failed = r.getByTestId('settings-mcp-failed-broken');
    expect(failed.textContent).toContain('broken could not be started or reached: check its command');
    expect(failed.textContent).toContain('no such file or directory');
    expect(r.getByTestId('settings-mcp-server-broken').textContent).toContain('not running');
    expect(JSON.parse((r.getByTestId('settings-mcp-json') as HTMLTextAreaElement).value)).toEqual({ mcpServers: config });
  });

  it('saves pasted Claude Desktop JSON as is, then lists the tools', async () => {
    const r = render(McpServers);
    await r.findByTestId('settings-mcp-none');
    const pasted = JSON.stringify({ mcpServers: { everything }, globalShortcut: 'Ctrl+Space' });
    await fireEvent.input(r.getByTestId('settings-mcp-json'), { target: { value: pasted } });
    await fireEvent.click(r.getByTestId('settings-mcp-save'));
    await r.findByTestId('settings-mcp-tool-everything-echo');
    const save = calls.find((c) => c.method === 'SaveMCPServers');
    expect(save?.args).toEqual([pasted]);
    expect(calls.map((c) => c.method).slice(-2)).toEqual(['SaveMCPServers', 'ListAllMCPTools']);
    expect(r.getByTestId('settings-mcp-saved')).toBeTruthy();
  });

  it('refuses text that is not JSON without sending it', async () => {
    const r = render(McpServers);
    await r.findByTestId('settings-mcp-none');
    await fireEvent.input(r.getByTestId('settings-mcp-json'), { target: { value: '{"mcpServers": {' } });
    await fireEvent.click(r.getByTestId('settings-mcp-save'));
    expect(r.getByTestId('settings-mcp-error').textContent).toContain('That is not valid JSON');
    expect(calls.some((c) => c.method === 'SaveMCPServers')).toBe(false);
  });

  it("shows the Go side's sentence when it refuses a server", async () => {
    const { call } = await import('../../../lib/transport');
    const r = render(McpServers);
    await r.findByTestId('settings-mcp-none');
    vi.mocked(call).mockRejectedValueOnce(new Error('MCP server x: give the command to start it'));
    await fireEvent.input(r.getByTestId('settings-mcp-json'), { target: { value: '{"mcpServers": {"x": {}}}' } });
    await fireEvent.click(r.getByTestId('settings-mcp-save'));
    await waitFor(() => expect(r.getByTestId('settings-mcp-error').textContent).toBe('MCP server x: give the command to start it'));
  });

  it("imports Claude Desktop's configuration file", async () => {
    const r = render(McpServers);
    await r.findByTestId('settings-mcp-none');
    const text = JSON.stringify({ mcpServers: { everything } });
    const file = new File([text], 'claude_desktop_config.json', { type: 'application/json' });
    await fireEvent.change(r.getByTestId('settings-mcp-import'), { target: { files: [file] } });
    await r.findByTestId('settings-mcp-tool-everything-add');
    expect(calls.find((c) => c.method === 'SaveMCPServers')?.args).toEqual([text]);
  });

  it('speaks Chinese when the interface does', async () => {
    locale.set('zh-CN');
    config = { broken: { command: '/no/such/server' } };
    const r = render(McpServers);
    const failed = await r.findByTestId('settings-mcp-failed-broken');
    expect(failed.textContent).toContain('无法启动或连接 broken');
    expect(r.getByText('MCP 服务器')).toBeTruthy();
  });
});
