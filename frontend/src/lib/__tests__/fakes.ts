// Stand-ins for component tests: the app's calls (lib/transport) and uPlot.
// Each test file mocks the modules with these:
//
//   vi.mock('uplot', async () => ({ default: (await import('…/lib/__tests__/fakes')).FakeUPlot }));
//   vi.mock('…/lib/transport', async (orig) =>
//     (await import('…/lib/__tests__/fakes')).fakeTransport(orig, async (method, args) => { … }));
//
// and reads `calls` (and `emit`s events) through a normal import: vitest
// gives the mock factory and the test file the same module.
import { vi } from 'vitest';

export interface Call {
  method: string;
  args: unknown[];
}

/** Every call() the component made, in order. */
export const calls: Call[] = [];
const handlers = new Map<string, ((p: unknown) => void)[]>();

/** Forgets the last test's calls and event subscriptions. */
export function resetTransport() {
  calls.length = 0;
  handlers.clear();
}

/** Delivers an event to what the component subscribed to with on(). */
export function emit(name: string, payload: unknown) {
  for (const fn of handlers.get(name) ?? []) fn(payload);
}

/** The transport module with call() recorded in `calls` and answered by
 * answer, and on() kept for emit. */
export async function fakeTransport(orig: () => Promise<unknown>, answer: (method: string, args: unknown[]) => unknown) {
  return {
    ...((await orig()) as object),
    call: vi.fn(async (method: string, ...args: unknown[]) => {
      calls.push({ method, args });
      return answer(method, args);
    }),
    on: vi.fn((name: string, fn: (p: unknown) => void) => {
      handlers.set(name, [...(handlers.get(name) ?? []), fn]);
      return () => {};
    }),
  };
}

/** uPlot draws on a canvas jsdom lacks; Chart's own test and the e2e
 * screenshots check the drawing. */
export class FakeUPlot {
  constructor(_opts: unknown, _data: unknown, el: HTMLElement) {
    el.appendChild(document.createElement('canvas'));
  }
  setSize() {}
  destroy() {}
}
