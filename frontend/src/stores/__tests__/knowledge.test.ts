import { beforeEach, describe, expect, it, vi } from 'vitest';
import { get } from 'svelte/store';

const handlers = new Map<string, (p: any) => void>();
const call = vi.fn();

vi.mock('../../lib/transport', () => ({
  call: (...a: unknown[]) => call(...a),
  on: (name: string, fn: (p: any) => void) => {
    handlers.set(name, fn);
    return () => handlers.delete(name);
  },
  upload: vi.fn(async () => 'job-up'),
}));

const k = await import('../knowledge');

describe('knowledge store', () => {
  beforeEach(() => {
    call.mockReset();
    call.mockImplementation(async (method: string) => {
      if (method === 'ListKBs') return [{ name: 'Manuals', docs: 1, chunks: 2, bytes: 3, pending: 0, failed: 0, embedModel: '', created: '' }];
      if (method === 'ListDocuments') return [];
      if (method === 'Ingest') return 'job-1';
      return null;
    });
  });

  it('tracks a job from Ingest through progress to its summary', async () => {
    k.watchIngest();
    await k.loadKBs();
    expect(get(k.selectedKB)).toBe('Manuals');
    const job = await k.ingestPaths('Manuals', ['/a.pdf', '/b.pdf']);
    expect(call).toHaveBeenCalledWith('Ingest', 'Manuals', ['/a.pdf', '/b.pdf']);
    expect(get(k.jobs)[job].progress).toBeNull();

    handlers.get('ingest:progress')!({ job, kb: 'Manuals', files: 2, filesDone: 1, chunks: 5, bytes: 100, bytesDone: 50, rate: 10, etaSeconds: 5, current: '/b.pdf' });
    expect(get(k.jobs)[job].progress?.filesDone).toBe(1);

    handlers.get('ingest:done')!({ job, kb: 'Manuals', ok: 1, failed: 1, skipped: 0, chunks: 5, seconds: 2, pending: 0, errors: [{ file: '/b.pdf', reason: 'Damaged file.' }], cancelled: false });
    expect(get(k.jobs)[job]).toBeUndefined();
    expect(get(k.summaries)[0].errors![0].reason).toBe('Damaged file.');
    // The lists are refreshed so counts and statuses are current.
    expect(call.mock.calls.filter((c) => c[0] === 'ListKBs').length).toBeGreaterThan(1);
  });

  it('marks a job as cancelling and calls CancelJob', async () => {
    const job = await k.ingestPaths('Manuals', ['/a.pdf']);
    const p = k.cancelJob(job);
    expect(get(k.jobs)[job].cancelling).toBe(true);
    await p;
    expect(call).toHaveBeenCalledWith('CancelJob', job);
  });

  it('does not start a job for nothing', async () => {
    expect(await k.ingestPaths('Manuals', [])).toBe('');
    expect(call).not.toHaveBeenCalledWith('Ingest', expect.anything(), expect.anything());
  });
});
