import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';

// A scripted Go side: Ollama is down until `up` is set, then has `installed`.
const server = { up: false, installed: [] as string[], gpuMemory: 0, kbs: [] as string[] };
const handlers = new Map<string, (p: any) => void>();
const call = vi.fn(async (method: string, ...args: unknown[]): Promise<unknown> => {
  switch (method) {
    case 'OllamaStatus':
      return server.up
        ? { url: 'http://127.0.0.1:11434', reachable: true, version: '0.6.5', error: '', fix: '' }
        : { url: 'http://127.0.0.1:11434', reachable: false, version: '', error: 'Ollama is not running.', fix: 'ollama serve' };
    case 'ListModels':
      return server.installed.map((name) => ({ name, capabilities: [] }));
    case 'GPUInfo':
      return { name: server.gpuMemory ? 'RTX 4060' : '', memoryBytes: server.gpuMemory, tool: '', note: '' };
    case 'PullModel':
      return `job-${args[0]}`;
    case 'ListKBs':
      return server.kbs.map((name) => ({ name }));
  }
  return null;
});
const opened: string[] = [];

vi.mock('../../lib/transport', () => ({
  call: (method: string, ...a: unknown[]) => call(method, ...a),
  on: (name: string, fn: (p: any) => void) => {
    handlers.set(name, fn);
    return () => handlers.delete(name);
  },
  openExternal: (url: string) => opened.push(url),
}));

const { default: FirstRun, recommendedChat, detectOS } = await import('../FirstRun.svelte');
const { locale } = await import('../../lib/i18n');
const { models, pull } = await import('../../stores/models');

afterEach(cleanup);
beforeEach(() => {
  server.up = false;
  server.installed = [];
  server.gpuMemory = 0;
  server.kbs = [];
  call.mockClear();
  opened.length = 0;
  models.set([]);
  pull.set(null);
  locale.set('en');
});

describe('first run', () => {
  it('explains how to get Ollama on Linux, checks again by itself and goes away once Ollama answers with models', async () => {
    const r = render(FirstRun, { props: { everyMs: 20, os: 'linux' } });
    const screen = await r.findByTestId('firstrun');
    expect(screen.dataset.phase).toBe('ollama');
    expect(r.getByTestId('firstrun-install').textContent).toBe('curl -fsSL https://ollama.com/install.sh | sh');
    expect(r.getByTestId('firstrun-start').textContent).toBe('ollama serve');
    expect(r.getByTestId('firstrun-waiting').textContent).toContain('http://127.0.0.1:11434');

    // It keeps asking on its own, without a click.
    await waitFor(() => expect(call.mock.calls.filter((c) => c[0] === 'OllamaStatus').length).toBeGreaterThanOrEqual(3), {
      timeout: 5000,
    });
    expect(r.queryByTestId('firstrun')).not.toBeNull();

    server.up = true;
    server.installed = ['qwen2.5:7b', 'nomic-embed-text:latest'];
    await waitFor(() => expect(r.queryByTestId('firstrun')).toBeNull(), { timeout: 5000 });
  });

  it('links to the download on Windows and macOS, in Chinese too', async () => {
    locale.set('zh-CN');
    const r = render(FirstRun, { props: { everyMs: 60000, os: 'windows' } });
    await r.findByTestId('firstrun');
    expect(r.getByText(/OllamaSetup\.exe/).textContent).toContain('下载');
    await fireEvent.click(r.getByTestId('firstrun-download'));
    expect(opened).toEqual(['https://ollama.com/download/windows']);
    cleanup();

    locale.set('en');
    const m = render(FirstRun, { props: { everyMs: 60000, os: 'mac' } });
    await fireEvent.click(await m.findByTestId('firstrun-download'));
    expect(opened[1]).toBe('https://ollama.com/download/mac');
    expect(m.queryByTestId('firstrun-install')).toBeNull();
  });

  it('with no models, offers the recommended pair and pulls them with progress until both are in', async () => {
    server.up = true;
    server.gpuMemory = 8 * 1024 ** 3;
    const r = render(FirstRun, { props: { everyMs: 20, os: 'linux' } });
    await waitFor(() => expect(r.getByTestId('firstrun').dataset.phase).toBe('models'));
    await waitFor(() => expect(r.getAllByTestId('firstrun-model').map((e) => e.textContent)).toEqual(['qwen2.5:7b', 'nomic-embed-text']));
    expect(r.getByTestId('firstrun-gpu').textContent).toContain('RTX 4060');

    await fireEvent.click(r.getByTestId('firstrun-pull-qwen2.5:7b'));
    expect(call).toHaveBeenCalledWith('PullModel', 'qwen2.5:7b');
    handlers.get('models:pull')!({ job: 'job-qwen2.5:7b', name: 'qwen2.5:7b', status: 'pulling', total: 200, completed: 50, done: false, error: '' });
    const bar = await r.findByTestId('firstrun-progress');
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    // One pull at a time: the other button waits.
    expect((r.getByTestId('firstrun-pull-nomic-embed-text') as HTMLButtonElement).disabled).toBe(true);

    server.installed = ['qwen2.5:7b'];
    handlers.get('models:pull')!({ job: 'job-qwen2.5:7b', name: 'qwen2.5:7b', status: 'success', total: 200, completed: 200, done: true, error: '' });
    await waitFor(() => expect(r.queryByTestId('firstrun-pull-qwen2.5:7b')).toBeNull());
    expect(r.queryByTestId('firstrun')).not.toBeNull();

    await fireEvent.click(r.getByTestId('firstrun-pull-nomic-embed-text'));
    server.installed = ['qwen2.5:7b', 'nomic-embed-text:latest'];
    handlers.get('models:pull')!({ job: 'job-nomic-embed-text', name: 'nomic-embed-text', status: 'success', total: 1, completed: 1, done: true, error: '' });
    await waitFor(() => expect(r.queryByTestId('firstrun')).toBeNull());
  });

  it('lets the user go on without Ollama', async () => {
    const r = render(FirstRun, { props: { everyMs: 60000, os: 'linux' } });
    await fireEvent.click(await r.findByTestId('firstrun-skip'));
    expect(r.queryByTestId('firstrun')).toBeNull();
  });
});

describe('not a first run', () => {
  it('stays hidden for a data folder that already has a knowledge base, Ollama or not', async () => {
    server.kbs = ['bakery'];
    const r = render(FirstRun, { props: { everyMs: 20, os: 'linux' } });
    await waitFor(() => expect(call).toHaveBeenCalledWith('ListKBs'));
    for (let i = 0; i < 5; i++) await tick();
    expect(r.queryByTestId('firstrun')).toBeNull();
    expect(call.mock.calls.some((c) => c[0] === 'OllamaStatus')).toBe(false);
  });
});

describe('recommendations', () => {
  it('pick a chat model by GPU memory and the OS from the user agent', () => {
    expect(recommendedChat(0)).toBe('qwen2.5:3b');
    expect(recommendedChat(4 * 1024 ** 3)).toBe('qwen2.5:3b');
    expect(recommendedChat(8 * 1024 ** 3)).toBe('qwen2.5:7b');
    expect(recommendedChat(24 * 1024 ** 3)).toBe('qwen2.5:14b');
    expect(detectOS('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36')).toBe('windows');
    expect(detectOS('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15')).toBe('mac');
    expect(detectOS('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15')).toBe('linux');
  });
});
