import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import MessageItem from '../MessageItem.svelte';
import { locale } from '../../../lib/i18n';

afterEach(cleanup);
locale.set('en');

const base = { role: 'assistant' as const, citations: [], followups: [], at: '' };

describe('MessageItem', () => {
  it('renders the final answer as sanitised Markdown with citation buttons', async () => {
    const oncite = vi.fn();
    const { getByTestId, container } = render(MessageItem, {
      props: {
        msg: {
          ...base,
          content: 'Hold **power** [1]. <img src=x onerror="alert(1)"><script>alert(2)</script>',
          citations: [{ n: 1, source: '/docs/manual.pdf', page: 12, text: 'p', used: true }],
        },
        oncite,
        onask: vi.fn(),
      },
    });
    const answer = getByTestId('answer');
    expect(answer.querySelector('strong')?.textContent).toBe('power');
    expect(container.querySelector('img, script')).toBeNull();
    await fireEvent.click(getByTestId('cite-1'));
    expect(oncite).toHaveBeenCalledWith(1);
    expect(getByTestId('source-1').textContent).toContain('manual.pdf');
  });

  it("shows the agent's avatar as text, or the default icon without one", () => {
    const withAvatar = render(MessageItem, {
      props: { msg: { ...base, content: 'hi' }, avatar: '🥐', oncite: vi.fn(), onask: vi.fn() },
    });
    expect(withAvatar.getByTestId('message-avatar').textContent).toBe('🥐');
    cleanup();
    const none = render(MessageItem, { props: { msg: { ...base, content: 'hi' }, oncite: vi.fn(), onask: vi.fn() } });
    expect(none.getByTestId('message-avatar').querySelector('svg')).not.toBeNull();
    cleanup();
    const hostile = render(MessageItem, {
      props: { msg: { ...base, content: 'hi' }, avatar: '<img src=x onerror=alert(1)>', oncite: vi.fn(), onask: vi.fn() },
    });
    expect(hostile.getByTestId('message-avatar').querySelector('img')).toBeNull();
  });

  it('shows streamed text as plain text', () => {
    const { getByTestId } = render(MessageItem, {
      props: { msg: { ...base, content: '**not yet bold** <b>x</b>', streaming: true }, oncite: vi.fn(), onask: vi.fn() },
    });
    const answer = getByTestId('answer');
    expect(answer.dataset.streaming).toBe('true');
    expect(answer.querySelector('strong, b')).toBeNull();
    expect(answer.textContent).toContain('**not yet bold** <b>x</b>');
  });

  it('shows errors inline, the not-covered notice, and follow-ups that ask', async () => {
    const onask = vi.fn();
    const { getByTestId, getAllByTestId } = render(MessageItem, {
      props: {
        msg: { ...base, content: 'Maybe.', notCovered: true, error: 'Ollama stopped answering.', followups: ['Why?', 'How?'] },
        last: true,
        oncite: vi.fn(),
        onask,
      },
    });
    expect(getByTestId('answer-error').textContent).toBe('Ollama stopped answering.');
    expect(getByTestId('not-covered')).toBeTruthy();
    const chips = getAllByTestId('followup');
    expect(chips.length).toBe(2);
    await fireEvent.click(chips[1]);
    expect(onask).toHaveBeenCalledWith('How?');
  });
});
