import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import MessageItem from '../MessageItem.svelte';
import { locale } from '../../../lib/i18n';
import { createChat } from '../../../stores/chat';
import { get } from 'svelte/store';

afterEach(cleanup);

const base = { role: 'assistant' as const, citations: [], followups: [], at: '', content: 'We open at 7.' };

describe('feedback on an answer', () => {
  it('votes at once, takes a comment after, changes and takes back the vote', async () => {
    locale.set('en');
    let feedback: { rating: 1 | -1; comment?: string; at: string } | null = null;
    const onvote = vi.fn(async (_id: string, r: 1 | -1 | 0, c: string) => {
      feedback = r ? { rating: r, comment: c, at: '' } : null;
    });
    const msg = { ...base, id: 'm1', feedback };
    const view = render(MessageItem, { props: { msg, oncite: vi.fn(), onask: vi.fn(), onvote } });
    await fireEvent.click(view.getByTestId('feedback-down'));
    expect(onvote).toHaveBeenLastCalledWith('m1', -1, '');
    await view.rerender({ msg: { ...msg, feedback } });
    expect(view.getByTestId('feedback-down').getAttribute('aria-pressed')).toBe('true');
    const box = await waitFor(() => view.getByTestId('feedback-comment'));
    await fireEvent.input(box, { target: { value: 'It is 8 on Sundays' } });
    await fireEvent.click(view.getByTestId('feedback-send'));
    expect(onvote).toHaveBeenLastCalledWith('m1', -1, 'It is 8 on Sundays');
    await waitFor(() => view.getByTestId('feedback-thanks'));
    await view.rerender({ msg: { ...msg, feedback } });

    await fireEvent.click(view.getByTestId('feedback-up'));
    expect(onvote).toHaveBeenLastCalledWith('m1', 1, 'It is 8 on Sundays');
    await view.rerender({ msg: { ...msg, feedback } });
    await fireEvent.click(view.getByTestId('feedback-up'));
    expect(onvote).toHaveBeenLastCalledWith('m1', 0, '');
  });

  it('shows no thumbs on an answer that was not stored, and Chinese labels', () => {
    locale.set('zh-CN');
    const none = render(MessageItem, { props: { msg: base, oncite: vi.fn(), onask: vi.fn(), onvote: vi.fn() } });
    expect(none.queryByTestId('feedback')).toBeNull();
    cleanup();
    const v = render(MessageItem, { props: { msg: { ...base, id: 'm1' }, oncite: vi.fn(), onask: vi.fn(), onvote: vi.fn() } });
    expect(v.getByTestId('feedback-down').getAttribute('aria-label')).toBe('回答不好');
    locale.set('en');
  });

  it('the chat store sends the vote with the conversation and keeps what the server stored', async () => {
    const calls: unknown[][] = [];
    const handlers: Record<string, (p: any) => void> = {};
    const chat = createChat({
      call: (async (method: string, ...args: unknown[]) => {
        calls.push([method, ...args]);
        if (method === 'Ask') return 's1';
        if (method === 'SetFeedback') return { id: args[1], role: 'assistant', content: 'x', feedback: { rating: args[2], comment: args[3], at: 'now' } };
        return [];
      }) as any,
      on: (name, fn) => {
        handlers[name] = fn as any;
        return () => {};
      },
      schedule: (fn) => fn(),
    });
    await chat.setAgent('shop');
    await chat.ask('When do you open?');
    handlers['chat:done']({ id: 's1', conversation: 'c1', message: 'm9', answer: 'At 7.', citations: [], followups: [], error: '', notCovered: false });
    expect(get(chat).messages[1].id).toBe('m9');
    await chat.vote('m9', -1, 'wrong');
    expect(calls.find((c) => c[0] === 'SetFeedback')).toEqual(['SetFeedback', 'c1', 'm9', -1, 'wrong']);
    expect(get(chat).messages[1].feedback?.rating).toBe(-1);
  });
});
