import { afterEach, expect, it } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import Host from './VirtualListHost.svelte';

afterEach(cleanup);

// jsdom has no layout; bind:clientHeight needs the observer to exist.
globalThis.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
} as unknown as typeof ResizeObserver;

it('renders only the rows in view', async () => {
  const items = Array.from({ length: 5000 }, (_, i) => `row ${i}`);
  const { getAllByTestId, getByTestId } = render(Host, { props: { items } });
  const rows = getAllByTestId('row');
  expect(rows.length).toBeLessThan(40);
  expect(rows[0].textContent).toBe('row 0');
  const vl = getByTestId('virtual-list');
  vl.scrollTop = 50 * 2000;
  await fireEvent.scroll(vl);
  const after = getAllByTestId('row').map((r) => r.textContent);
  expect(after).toContain('row 2000');
  expect(after).not.toContain('row 0');
});
