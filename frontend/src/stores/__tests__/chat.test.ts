import { describe, expect, it, vi } from 'vitest';
import { get } from 'svelte/store';
import { createChat, insertPart, toMarkdown } from '../chat';
import type { ChatDone } from '../../lib/types';

function harness(opts: { askResult?: Promise<string> | string } = {}) {
  const handlers = new Map<string, (p: any) => void>();
  const frames: (() => void)[] = [];
  const calls: { method: string; args: unknown[] }[] = [];
  const call = vi.fn(async (method: string, ...args: unknown[]) => {
    calls.push({ method, args });
    switch (method) {
      case 'Ask':
        return (await (opts.askResult ?? 's1')) as any;
      case 'ListConversations':
        return [{ id: 'c9', agent: 'Support', title: 'T', messages: [], updated: '' }];
      case 'GetConversation':
        return { id: args[0], agent: 'Support', title: 'T', messages: [{ role: 'user', content: 'old', citations: [], followups: [], at: '' }], updated: '' };
      default:
        return null as any;
    }
  });
  const on = (name: string, fn: (p: any) => void) => {
    handlers.set(name, fn);
    return () => handlers.delete(name);
  };
  const chat = createChat({ call: call as any, on: on as any, schedule: (fn) => frames.push(fn), now: () => 'now' });
  const token = (id: string, seq: number, text: string) => handlers.get('chat:token')!({ id, seq, text });
  const done = (d: Partial<ChatDone>) =>
    handlers.get('chat:done')!({ id: 's1', conversation: 'c9', answer: '', citations: [], followups: [], error: '', notCovered: false, ...d });
  const flush = () => {
    while (frames.length) frames.shift()!();
  };
  const last = () => get(chat).messages[get(chat).messages.length - 1];
  return { chat, call, calls, token, done, flush, frames, last, handlers };
}

describe('insertPart', () => {
  it('keeps seq order and drops duplicates', () => {
    const parts: { seq: number; text: string }[] = [];
    for (const [seq, text] of [[0, 'a'], [2, 'c'], [1, 'b'], [2, 'c'], [3, 'd']] as const) insertPart(parts, { seq, text });
    expect(parts.map((p) => p.text).join('')).toBe('abcd');
  });
});

describe('chat store', () => {
  it('asks with the agent and conversation, then streams tokens in seq order', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.ask('  How do I reset?  ');
    expect(h.calls.find((c) => c.method === 'Ask')!.args).toEqual(['Support', '', 'How do I reset?']);
    expect(get(h.chat).busy).toBe(true);
    expect(get(h.chat).streamId).toBe('s1');

    h.token('s1', 0, 'Hold ');
    h.token('s1', 2, 'button');
    h.token('s1', 1, 'the ');
    // Nothing reaches the store before the next frame: typing stays smooth.
    expect(h.last().content).toBe('');
    expect(h.frames.length).toBe(1);
    h.flush();
    expect(h.last().content).toBe('Hold the button');
    expect(h.last().streaming).toBe(true);
  });

  it('ignores tokens of other streams', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.ask('q');
    h.token('other', 0, 'nope');
    h.token('s1', 0, 'yes');
    h.flush();
    expect(h.last().content).toBe('yes');
  });

  it('keeps tokens that arrive before Ask() answers', async () => {
    let resolve!: (id: string) => void;
    const h = harness({ askResult: new Promise<string>((r) => (resolve = r)) });
    await h.chat.setAgent('Support');
    const p = h.chat.ask('q');
    await Promise.resolve();
    h.token('s1', 1, 'world');
    h.token('s1', 0, 'hello ');
    resolve('s1');
    await p;
    h.flush();
    expect(h.last().content).toBe('hello world');
  });

  it('finishes with the answer, citations, follow-ups and the conversation id', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.ask('q');
    h.token('s1', 0, 'partial');
    h.done({
      answer: 'Full answer [1].',
      citations: [{ n: 1, source: '/a.pdf', page: 2, text: 'x', used: true }],
      followups: ['And then?'],
      notCovered: true,
    });
    const m = h.last();
    expect(m.streaming).toBe(false);
    expect(m.content).toBe('Full answer [1].');
    expect(m.citations![0].source).toBe('/a.pdf');
    expect(m.followups).toEqual(['And then?']);
    expect(m.notCovered).toBe(true);
    const s = get(h.chat);
    expect(s.busy).toBe(false);
    expect(s.streamId).toBe('');
    expect(s.conversationId).toBe('c9');
    // A late frame must not overwrite the final answer with streamed text.
    h.flush();
    expect(h.last().content).toBe('Full answer [1].');
    // The next question continues the same conversation.
    await h.chat.ask('more');
    expect(h.calls.filter((c) => c.method === 'Ask')[1].args).toEqual(['Support', 'c9', 'more']);
  });

  it('shows a server error inline and keeps what was streamed', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.ask('q');
    h.token('s1', 0, 'Half an ans');
    h.done({ error: 'Ollama stopped answering. Check that it is still running.' });
    expect(h.last().error).toBe('Ollama stopped answering. Check that it is still running.');
    expect(h.last().content).toBe('Half an ans');
    expect(get(h.chat).busy).toBe(false);
  });

  it('shows a failed Ask() inline', async () => {
    const h = harness({ askResult: Promise.reject(new Error('No agent named “x”.')) });
    await h.chat.setAgent('Support');
    await expect(h.chat.ask('q')).rejects.toThrow();
    expect(h.last().error).toBe('No agent named “x”.');
    expect(get(h.chat).busy).toBe(false);
  });

  it('handles a done that overtakes Ask()', async () => {
    let resolve!: (id: string) => void;
    const h = harness({ askResult: new Promise<string>((r) => (resolve = r)) });
    await h.chat.setAgent('Support');
    const p = h.chat.ask('q');
    await Promise.resolve();
    h.done({ answer: 'quick' });
    resolve('s1');
    await p;
    expect(h.last().content).toBe('quick');
    expect(get(h.chat).busy).toBe(false);
  });

  it('stops the stream with StopAsk', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.ask('q');
    await h.chat.stop();
    expect(h.calls.find((c) => c.method === 'StopAsk')!.args).toEqual(['s1']);
    expect(get(h.chat).stopping).toBe(true);
    h.done({ answer: '' });
    expect(get(h.chat).busy).toBe(false);
  });

  it('does not send while busy or without an agent', async () => {
    const h = harness();
    await h.chat.ask('q');
    expect(h.calls.some((c) => c.method === 'Ask')).toBe(false);
    await h.chat.setAgent('Support');
    await h.chat.ask('one');
    await h.chat.ask('two');
    expect(h.calls.filter((c) => c.method === 'Ask').length).toBe(1);
  });

  it('opens a stored conversation', async () => {
    const h = harness();
    await h.chat.setAgent('Support');
    await h.chat.open('c9');
    expect(get(h.chat).conversationId).toBe('c9');
    expect(get(h.chat).messages[0].content).toBe('old');
  });

  it('unsubscribes on destroy', () => {
    const h = harness();
    h.chat.destroy();
    expect(h.handlers.size).toBe(0);
  });
});

describe('toMarkdown', () => {
  it('writes questions, answers and used sources', () => {
    const md = toMarkdown(
      'Reset',
      [
        { role: 'user', content: 'How?', citations: [], followups: [], at: '' },
        { role: 'assistant', content: 'Like this [1].', citations: [{ n: 1, source: '/m.pdf', page: 3, text: '', used: true }], followups: [], at: '' },
      ],
      { you: 'You', assistant: 'Support', sources: 'Sources' },
    );
    expect(md).toContain('# Reset');
    expect(md).toContain('## You\n\nHow?');
    expect(md).toContain('1. /m.pdf (p. 3)');
  });
});
