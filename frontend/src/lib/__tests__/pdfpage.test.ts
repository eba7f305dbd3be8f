import { describe, expect, it, vi } from 'vitest';

vi.mock('../transport', () => ({ call: vi.fn() }));
import { matchItems, squash } from '../pdfpage';

describe('matchItems', () => {
  it('marks the page text items that belong to the passage', () => {
    const passage = 'The purpose of these elements is to provide users a way to look up information.';
    const items = ['The purpose of these', 'elements is to provide', 'Chapter 3', 'a', 'unrelated words here', 'users', 'x'];
    // "users" occurs in the passage but stands alone among unrelated text.
    expect(matchItems(items, passage)).toEqual([true, true, false, false, false, false, false]);
  });
  it('ignores white space and case, and works for Chinese', () => {
    expect(squash(' A b\nC ')).toBe('abc');
    expect(matchItems(['定制生日蛋糕', '营业时间'], '定制 生日蛋糕需要至少提前四十八小时预订')).toEqual([true, false]);
  });
});
