import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { call, on, upload, isDesktop, onFileDrop, CallError, _reset } from '../transport';
import { EVENTS } from '../events';

class FakeEventSource {
  static instances: FakeEventSource[] = [];
  url: string;
  closed = false;
  listeners = new Map<string, Set<(e: MessageEvent) => void>>();
  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(name: string, fn: (e: MessageEvent) => void) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name)!.add(fn);
  }
  removeEventListener(name: string, fn: (e: MessageEvent) => void) {
    this.listeners.get(name)?.delete(fn);
  }
  close() {
    this.closed = true;
  }
  fire(name: string, data: unknown) {
    for (const fn of this.listeners.get(name) ?? []) fn({ data: JSON.stringify(data) } as MessageEvent);
  }
}

function json(status: number, body: unknown) {
  return new Response(body === undefined ? '' : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('HTTP mode', () => {
  let fetchMock: ReturnType<typeof vi.fn>;

  beforeEach(() => {
    _reset();
    delete (window as any).go;
    delete (window as any).runtime;
    sessionStorage.clear();
    FakeEventSource.instances = [];
    vi.stubGlobal('EventSource', FakeEventSource);
    fetchMock = vi.fn();
    vi.stubGlobal('fetch', fetchMock);
    history.replaceState(null, '', '/');
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('is not desktop', () => {
    expect(isDesktop()).toBe(false);
  });

  it('posts the arguments as a JSON array and returns the result', async () => {
    fetchMock.mockResolvedValue(json(200, [{ name: 'kb' }]));
    const res = await call<{ name: string }[]>('Search', 'kb', 'hello', 5);
    expect(res).toEqual([{ name: 'kb' }]);
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/call/Search');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body)).toEqual(['kb', 'hello', 5]);
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(init.headers.Authorization).toBeUndefined();
  });

  it('returns null for an empty body', async () => {
    fetchMock.mockResolvedValue(new Response('', { status: 200 }));
    expect(await call('CancelJob', 'j1')).toBeNull();
  });

  it("throws the server's sentence as the error message", async () => {
    fetchMock.mockResolvedValue(json(400, { error: 'A knowledge base named “x” already exists.' }));
    await expect(call('CreateKB', 'x', '')).rejects.toThrow('A knowledge base named “x” already exists.');
  });

  it('marks network failures so the UI can explain them', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'));
    const err: any = await call('ListKBs').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect(err.code).toBe('network');
  });

  it('keeps ?token= for the tab, strips it from the address and sends it as a bearer token', async () => {
    history.replaceState(null, '', '/?token=s3cret#/chat');
    fetchMock.mockImplementation(async () => json(200, null));
    await call('ListKBs');
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBe('Bearer s3cret');
    expect(location.search).toBe('');
    expect(location.hash).toBe('#/chat');
    expect(sessionStorage.getItem('atoll.token')).toBe('s3cret');
    await call('ListKBs');
    expect(fetchMock.mock.calls[1][1].headers.Authorization).toBe('Bearer s3cret');
  });

  it('shares one EventSource between all listeners and parses JSON payloads', () => {
    const a = vi.fn();
    const b = vi.fn();
    const offA = on(EVENTS.chatToken, a);
    const offB = on(EVENTS.ingestProgress, b);
    expect(FakeEventSource.instances.length).toBe(1);
    const es = FakeEventSource.instances[0];
    expect(es.url).toBe('/api/events');
    es.fire('chat:token', { id: 's', seq: 0, text: 'hi' });
    es.fire('ingest:progress', { job: 'j' });
    expect(a).toHaveBeenCalledWith({ id: 's', seq: 0, text: 'hi' });
    expect(b).toHaveBeenCalledWith({ job: 'j' });
    offA();
    es.fire('chat:token', { id: 's', seq: 1, text: '!' });
    expect(a).toHaveBeenCalledTimes(1);
    offB();
    expect(es.closed).toBe(true);
  });

  it('uploads files as multipart and returns the job id', async () => {
    fetchMock.mockResolvedValue(json(200, { job: 'job-7' }));
    const f = new File(['hello'], 'a.txt', { type: 'text/plain' });
    const job = await upload('My KB', [f]);
    expect(job).toBe('job-7');
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/upload?kb=My%20KB');
    expect(init.body).toBeInstanceOf(FormData);
    expect((init.body as FormData).getAll('file').length).toBe(1);
  });

  it('has no native file drop', () => {
    expect(onFileDrop(() => {})).toBeNull();
  });
});

describe('Wails mode', () => {
  let handlers: Map<string, (...a: any[]) => void>;
  let offCalls: string[];

  beforeEach(() => {
    _reset();
    handlers = new Map();
    offCalls = [];
    (window as any).go = {
      app: {
        App: {
          ListKBs: vi.fn().mockResolvedValue([{ name: 'a' }]),
          CreateKB: vi.fn().mockRejectedValue('That name is taken. Pick another.'),
          Ingest: vi.fn().mockResolvedValue('job-1'),
        },
      },
    };
    (window as any).runtime = {
      EventsOn: vi.fn((name: string, cb: (...a: any[]) => void) => {
        handlers.set(name, cb);
        return () => offCalls.push(name);
      }),
      EventsOff: vi.fn(),
      OnFileDrop: vi.fn(),
      OnFileDropOff: vi.fn(),
    };
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new Error('fetch must not be used in Wails mode'))));
  });

  afterEach(() => {
    _reset();
    delete (window as any).go;
    delete (window as any).runtime;
    vi.unstubAllGlobals();
  });

  it('is desktop and calls the bindings', async () => {
    expect(isDesktop()).toBe(true);
    expect(await call('ListKBs')).toEqual([{ name: 'a' }]);
    expect(await call('Ingest', 'kb', ['/a.pdf'])).toBe('job-1');
    expect((window as any).go.app.App.Ingest).toHaveBeenCalledWith('kb', ['/a.pdf']);
  });

  it('turns a rejected string into an Error with that sentence', async () => {
    const err: any = await call('CreateKB', 'x', '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('That name is taken. Pick another.');
  });

  it('rejects unknown methods clearly', async () => {
    const err: any = await call('Nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallError);
    expect(err.code).toBe('unavailable');
  });

  it('subscribes once per event name through the runtime', () => {
    const a = vi.fn();
    const b = vi.fn();
    const offA = on(EVENTS.chatDone, a);
    const offB = on(EVENTS.chatDone, b);
    expect((window as any).runtime.EventsOn).toHaveBeenCalledTimes(1);
    handlers.get('chat:done')!({ id: 'x' });
    expect(a).toHaveBeenCalledWith({ id: 'x' });
    expect(b).toHaveBeenCalledWith({ id: 'x' });
    offA();
    expect(offCalls).toEqual([]);
    offB();
    expect(offCalls).toEqual(['chat:done']);
  });

  it('passes native file drops on as paths', () => {
    const got = vi.fn();
    const off = onFileDrop(got);
    const rt = (window as any).runtime;
    expect(rt.OnFileDrop).toHaveBeenCalledWith(expect.any(Function), true);
    rt.OnFileDrop.mock.calls[0][0](10, 20, ['/a.pdf', '/b.docx']);
    expect(got).toHaveBeenCalledWith(['/a.pdf', '/b.docx']);
    off!();
    expect(rt.OnFileDropOff).toHaveBeenCalled();
  });
});
