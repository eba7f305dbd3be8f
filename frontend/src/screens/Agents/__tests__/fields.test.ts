import { describe, expect, it } from 'vitest';
import { parseNumCtx, checkAvatar, NUM_CTX_MIN, NUM_CTX_MAX } from '../fields';

describe('parseNumCtx', () => {
  it('reads empty as the model default (0)', () => {
    expect(parseNumCtx('')).toEqual({ value: 0 });
    expect(parseNumCtx('   ')).toEqual({ value: 0 });
    expect(parseNumCtx(undefined)).toEqual({ value: 0 });
    expect(parseNumCtx('0')).toEqual({ value: 0 });
  });

  it('accepts whole numbers in range, with thousands separators as typed', () => {
    expect(parseNumCtx('8192')).toEqual({ value: 8192 });
    expect(parseNumCtx(' 32,768 ')).toEqual({ value: 32768 });
    expect(parseNumCtx('131 072')).toEqual({ value: 131072 });
    expect(parseNumCtx(String(NUM_CTX_MIN))).toEqual({ value: 512 });
    expect(parseNumCtx(String(NUM_CTX_MAX))).toEqual({ value: 1048576 });
    expect(parseNumCtx(4096)).toEqual({ value: 4096 });
  });

  it('refuses what is not a whole number in range', () => {
    for (const bad of ['511', '1048577', '-4096', '4096.5', '4k', 'abc', '1e4', '99999999999999999999']) {
      expect(parseNumCtx(bad), bad).toEqual({ error: 'agents.numCtxInvalid' });
    }
  });
});

describe('checkAvatar', () => {
  it('takes an emoji (even a joined one) or up to two letters, trimmed', () => {
    expect(checkAvatar('')).toEqual({ value: '' });
    expect(checkAvatar(' 🥐 ')).toEqual({ value: '🥐' });
    expect(checkAvatar('👩‍🍳')).toEqual({ value: '👩‍🍳' });
    expect(checkAvatar('AB')).toEqual({ value: 'AB' });
    expect(checkAvatar('面包')).toEqual({ value: '面包' });
  });

  it('refuses longer text and paths', () => {
    for (const bad of ['ABC', 'baker', '/a', 'a b', '<b']) {
      expect(checkAvatar(bad), bad).toEqual({ error: 'agents.avatarInvalid' });
    }
  });
});
