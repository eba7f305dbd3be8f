import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import Composer from '../Composer.svelte';
import { locale } from '../../../lib/i18n';

afterEach(cleanup);
locale.set('en');

function setup(busy = false) {
  const onsend = vi.fn();
  const onstop = vi.fn();
  const r = render(Composer, { props: { busy, onsend, onstop } });
  const input = r.getByTestId('chat-input') as HTMLTextAreaElement;
  return { ...r, input, onsend, onstop };
}

describe('Composer', () => {
  it('sends on Enter and clears the box', async () => {
    const { input, onsend } = setup();
    await fireEvent.input(input, { target: { value: 'How do I reset it?' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onsend).toHaveBeenCalledWith('How do I reset it?');
    expect(input.value).toBe('');
  });

  it('does not send on Shift+Enter or while an input method is composing', async () => {
    const { input, onsend } = setup();
    await fireEvent.input(input, { target: { value: '你好' } });
    await fireEvent.keyDown(input, { key: 'Enter', shiftKey: true });
    await fireEvent.keyDown(input, { key: 'Enter', isComposing: true });
    await fireEvent.keyDown(input, { key: 'Enter', keyCode: 229 });
    expect(onsend).not.toHaveBeenCalled();
  });

  it('does not send empty text', async () => {
    const { input, onsend, getByTestId } = setup();
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onsend).not.toHaveBeenCalled();
    expect((getByTestId('chat-send') as HTMLButtonElement).disabled).toBe(true);
  });

  it('shows Stop while busy; Esc and the button stop', async () => {
    const { input, onsend, onstop, getByTestId, queryByTestId } = setup(true);
    expect(queryByTestId('chat-send')).toBeNull();
    await fireEvent.input(input, { target: { value: 'next question' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onsend).not.toHaveBeenCalled();
    await fireEvent.keyDown(input, { key: 'Escape' });
    await fireEvent.click(getByTestId('chat-stop'));
    expect(onstop).toHaveBeenCalledTimes(2);
  });
});
