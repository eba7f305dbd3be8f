import { afterEach, describe, expect, it } from 'vitest';
import { guardDrops, inDropZone } from '../dropguard';

// jsdom has no DragEvent: a cancelable Event carrying a dataTransfer stands in.
function dragEvent(type: string, types: string[]) {
  const e = new Event(type, { bubbles: true, cancelable: true }) as Event & { dataTransfer: any };
  e.dataTransfer = { types, dropEffect: 'copy' };
  return e;
}

describe('drop guard', () => {
  let off: (() => void) | null = null;
  afterEach(() => {
    off?.();
    off = null;
    document.body.innerHTML = '';
  });

  function page() {
    document.body.innerHTML = `
      <main><p id="outside">text</p>
        <div id="zone" style="--wails-drop-target: drop"><span id="inner">Drop files here</span></div>
      </main>`;
    return {
      outside: document.getElementById('outside')!,
      inner: document.getElementById('inner')!,
    };
  }

  it('knows a drop zone by the property Wails reads, on the element or an ancestor', () => {
    const { outside, inner } = page();
    expect(inDropZone(inner)).toBe(true);
    expect(inDropZone(document.getElementById('zone'))).toBe(true);
    expect(inDropZone(outside)).toBe(false);
    expect(inDropZone(null)).toBe(false);
  });

  it('swallows a file dropped outside a drop zone, so the webview never navigates to it', () => {
    const { outside } = page();
    off = guardDrops(window);
    const over = dragEvent('dragover', ['Files']);
    outside.dispatchEvent(over);
    expect(over.defaultPrevented).toBe(true);
    const drop = dragEvent('drop', ['Files']);
    outside.dispatchEvent(drop);
    expect(drop.defaultPrevented).toBe(true);
  });

  it('treats a dragged uri-list (how WebKitGTK may list a file from another program) as a file', () => {
    const { outside } = page();
    off = guardDrops(window);
    const over = dragEvent('dragover', ['text/uri-list']);
    outside.dispatchEvent(over);
    expect(over.defaultPrevented).toBe(true);
    const drop = dragEvent('drop', ['text/uri-list']);
    outside.dispatchEvent(drop);
    expect(drop.defaultPrevented).toBe(true);
  });

  it('leaves drop zones and non-file drags (text into an input) alone', () => {
    const { inner, outside } = page();
    off = guardDrops(window);
    const over = dragEvent('dragover', ['Files']);
    inner.dispatchEvent(over);
    expect(over.defaultPrevented).toBe(false);
    const text = dragEvent('drop', ['text/plain']);
    outside.dispatchEvent(text);
    expect(text.defaultPrevented).toBe(false);
  });

  it('can be removed', () => {
    const { outside } = page();
    guardDrops(window)();
    const drop = dragEvent('drop', ['Files']);
    outside.dispatchEvent(drop);
    expect(drop.defaultPrevented).toBe(false);
  });
});
