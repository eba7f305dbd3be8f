import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import type { Agent } from '../../../lib/types';

const saveAgent = vi.fn();
vi.mock('../../../stores/agents', () => ({
  saveAgent: (a: Agent) => saveAgent(a),
  deleteAgent: vi.fn(),
  draftAgent: vi.fn(),
}));
vi.mock('../../../lib/transport', async (orig) => ({
  ...(await orig<typeof import('../../../lib/transport')>()),
  call: vi.fn(async () => []),
}));

import AgentEditor from '../AgentEditor.svelte';
import { agent } from './fixture';
import { locale } from '../../../lib/i18n';

function setup(a: Agent) {
  const onsaved = vi.fn();
  const r = render(AgentEditor, {
    props: { agent: a, kbNames: [], modelNames: [], ondrafted: vi.fn(), onsaved, ondeleted: vi.fn() },
  });
  return {
    ...r,
    onsaved,
    avatar: r.getByTestId('agent-avatar') as HTMLInputElement,
    numCtx: r.getByTestId('agent-numctx') as HTMLInputElement,
    save: r.getByTestId('agent-save') as HTMLButtonElement,
  };
}

beforeEach(() => {
  locale.set('en');
  saveAgent.mockReset();
  saveAgent.mockImplementation(async (a: Agent) => ({ ...a, version: 2 }));
});
afterEach(cleanup);

describe('agent editor: avatar and context length', () => {
  it("shows the agent's avatar and context length", () => {
    const { avatar, numCtx, getByTestId } = setup(agent('baker', { avatar: '🥐', numCtx: 8192 }));
    expect(avatar.value).toBe('🥐');
    expect(numCtx.value).toBe('8192');
    expect(getByTestId('agent-avatar-preview').textContent?.trim()).toBe('🥐');
  });

  it('leaves the context length empty for the model default, and saves it as 0', async () => {
    const { numCtx, save, onsaved } = setup(agent());
    expect(numCtx.value).toBe('');
    expect(numCtx.placeholder).toBe('Model default');
    await fireEvent.click(save);
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    expect(saveAgent.mock.calls[0][0]).toMatchObject({ numCtx: 0, avatar: '' });
  });

  it('saves a typed context length as a number and the avatar trimmed', async () => {
    const { avatar, numCtx, save, onsaved } = setup(agent());
    await fireEvent.input(avatar, { target: { value: ' 🎂 ' } });
    await fireEvent.input(numCtx, { target: { value: '16,384' } });
    await fireEvent.click(save);
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    expect(saveAgent.mock.calls[0][0]).toMatchObject({ numCtx: 16384, avatar: '🎂' });
  });

  it('says what is wrong with a context length out of range and does not save', async () => {
    const { numCtx, save, getByTestId, queryByTestId } = setup(agent());
    await fireEvent.input(numCtx, { target: { value: '100' } });
    expect(getByTestId('agent-numctx-error').textContent).toContain('512 to 1,048,576');
    expect(numCtx.getAttribute('aria-invalid')).toBe('true');
    expect(save.disabled).toBe(true);
    await fireEvent.submit(getByTestId('agent-editor'));
    expect(saveAgent).not.toHaveBeenCalled();
    await fireEvent.input(numCtx, { target: { value: '4096' } });
    expect(queryByTestId('agent-numctx-error')).toBeNull();
    expect(save.disabled).toBe(false);
  });

  it('refuses an avatar longer than an emoji or two letters', async () => {
    const { avatar, save, getByTestId } = setup(agent());
    await fireEvent.input(avatar, { target: { value: 'bakery' } });
    expect(getByTestId('agent-avatar-error').textContent).toContain('one emoji');
    expect(save.disabled).toBe(true);
  });

  it('speaks Chinese when the interface does', async () => {
    locale.set('zh-CN');
    const { numCtx, getByTestId, getByLabelText } = setup(agent());
    expect(getByLabelText(/上下文长度/)).toBe(numCtx);
    await fireEvent.input(numCtx, { target: { value: 'abc' } });
    expect(getByTestId('agent-numctx-error').textContent).toContain('上下文长度须为');
  });
});
