import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import Composer from '../Composer.svelte';
import { locale } from '../../../lib/i18n';
import { createChat } from '../../../stores/chat';
import { get } from 'svelte/store';

afterEach(cleanup);
locale.set('en');

function setup() {
  const onsend = vi.fn();
  const r = render(Composer, { props: { busy: false, onsend, onstop: vi.fn() } });
  const input = r.getByTestId('chat-input') as HTMLTextAreaElement;
  const file = r.getByTestId('chat-attach-input') as HTMLInputElement;
  const pick = async (f: File) => {
    Object.defineProperty(file, 'files', { value: [f], configurable: true });
    await fireEvent.change(file);
  };
  return { ...r, input, file, pick, onsend };
}

const png = () => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10])], 'menu.png', { type: 'image/png' });

describe('attaching an image to a question', () => {
  it('the button opens the file picker for images only', async () => {
    const { getByTestId, file } = setup();
    const click = vi.spyOn(file, 'click');
    await fireEvent.click(getByTestId('chat-attach'));
    expect(click).toHaveBeenCalled();
    expect(file.accept).toContain('image/png');
    expect(file.accept).toContain('image/jpeg');
  });

  it('shows the attached photo and sends it with the question, then clears it', async () => {
    const { input, pick, onsend, getByTestId, queryByTestId } = setup();
    await pick(png());
    await waitFor(() => expect(getByTestId('chat-attached').textContent).toContain('menu.png'));
    await fireEvent.input(input, { target: { value: 'How much is the tart?' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onsend).toHaveBeenCalledTimes(1);
    const [text, image] = onsend.mock.calls[0];
    expect(text).toBe('How much is the tart?');
    expect(image.name).toBe('menu.png');
    expect(image.dataUrl).toMatch(/^data:image\/png;base64,iVBORw0KGgo=?/);
    expect(queryByTestId('chat-attached')).toBeNull();
  });

  it('can be removed before sending', async () => {
    const { input, pick, onsend, getByTestId, queryByTestId } = setup();
    await pick(png());
    await waitFor(() => getByTestId('chat-attach-remove'));
    await fireEvent.click(getByTestId('chat-attach-remove'));
    expect(queryByTestId('chat-attached')).toBeNull();
    await fireEvent.input(input, { target: { value: 'q' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(onsend.mock.calls[0]).toEqual(['q']);
  });

  it('refuses other files and images over 20 MB, saying why', async () => {
    const { pick, getByTestId } = setup();
    await pick(new File(['#!/bin/sh'], 'run.sh', { type: 'text/x-sh' }));
    expect(getByTestId('chat-attach-error').textContent).toContain('PNG, JPEG');
    const big = png();
    Object.defineProperty(big, 'size', { value: 21 << 20 });
    await pick(big);
    expect(getByTestId('chat-attach-error').textContent).toContain('larger than 20 MB');
  });

  it('the chat store asks with AskImage when a photo is attached, with Ask otherwise', async () => {
    const make = () => {
      const calls: { method: string; args: unknown[] }[] = [];
      const call = vi.fn(async (method: string, ...args: unknown[]) => {
        calls.push({ method, args });
        return (method === 'ListConversations' ? [] : 's1') as any;
      });
      const chat = createChat({ call: call as any, on: (() => () => {}) as any, schedule: () => {}, now: () => 'now' });
      return { chat, asks: () => calls.filter((c) => c.method.startsWith('Ask')) };
    };
    const a = make();
    await a.chat.setAgent('Support');
    await a.chat.ask('What is this?', { name: 'menu.png', dataUrl: 'data:image/png;base64,AAAA' });
    expect(a.asks()).toEqual([{ method: 'AskImage', args: ['Support', '', 'What is this?', 'data:image/png;base64,AAAA'] }]);
    expect(get(a.chat).messages[0].attachment).toBe('menu.png');
    const b = make();
    await b.chat.setAgent('Support');
    await b.chat.ask('And without?');
    expect(b.asks()).toEqual([{ method: 'Ask', args: ['Support', '', 'And without?'] }]);
    expect(get(b.chat).messages[0].attachment).toBeUndefined();
  });
});
