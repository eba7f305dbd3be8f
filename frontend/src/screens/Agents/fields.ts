// Checks for the editor's fields that the Go side stores as they come
// (agent.Definition's avatar and numCtx): the editor says what is wrong in
// the user's language before saving.

/** Smallest and largest context an agent may ask for, in tokens. Below 512 a
 * system prompt and one passage no longer fit; 1,048,576 is the largest
 * context any Ollama model offers. */
export const NUM_CTX_MIN = 512;
export const NUM_CTX_MAX = 1_048_576;

/** Empty means the model's own context length (stored as 0, omitted in JSON).
 * Otherwise a whole number of tokens within the range; thousands separators
 * (spaces, commas, underscores) are accepted as typed. */
export function parseNumCtx(text: string | number | null | undefined): { value: number } | { error: 'agents.numCtxInvalid' } {
  const s = String(text ?? '').trim().replace(/[\s,_]/g, '');
  if (s === '' || s === '0') return { value: 0 };
  if (!/^\d+$/.test(s)) return { error: 'agents.numCtxInvalid' };
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < NUM_CTX_MIN || n > NUM_CTX_MAX) return { error: 'agents.numCtxInvalid' };
  return { value: n };
}

/** The avatar is an emoji or up to two letters (as publish's Dify export
 * keeps it); it is shown small beside the agent's name and answers. */
export const AVATAR_MAX = 2;

function graphemes(s: string): number {
  const Seg = (Intl as any).Segmenter;
  if (typeof Seg === 'function') return [...new Seg(undefined, { granularity: 'grapheme' }).segment(s)].length;
  return [...s].length;
}

export function checkAvatar(text: string | null | undefined): { value: string } | { error: 'agents.avatarInvalid' } {
  const s = String(text ?? '').trim();
  if (s === '') return { value: '' };
  if (graphemes(s) > AVATAR_MAX || /[\s/\\<>]/.test(s)) return { error: 'agents.avatarInvalid' };
  return { value: s };
}
